import { describe, expect, it } from '@jest/globals';
import { cronProblem } from './cron.js';

describe('schedule expressions', () => {
  it.each([
    '0 0 0 * * *',
    '0 0 * * * *',
    '0 */15 * * * *',
    '0 30 2 * * 1-5',
    '0 0 0 1,15 * ?',
    '0 0 12 ? JAN-MAR MON',
    '0 5-55/10 8-18 * * *',
  ])('accepts %s', (expression) => {
    expect(cronProblem(expression)).toBeUndefined();
  });

  it.each([
    ['0 0 * * *', /6 fields/],
    ['0 0 0 * * * *', /6 fields/],
    ['30 0 0 * * *', /second field must be 0/],
    ['* 0 0 * * *', /second field must be 0/],
    ['0 60 * * * *', /minute/],
    ['0 0 24 * * *', /hour/],
    ['0 0 0 0 * *', /day of month/],
    ['0 0 0 * 13 *', /month/],
    ['0 0 0 * * 7', /day of week/],
    ['0 0 0 * * FOO', /day of week/],
    ['0 10-5 * * * *', /minute/],
    ['0 */0 * * * *', /step/],
    ['0 * ? * * *', /hour/],
    ['0 *,5 * * * *', /"\*" with other values/],
  ])('refuses %s', (expression, reason) => {
    expect(cronProblem(expression)).toMatch(reason);
  });
});
