import { describe, expect, it } from '@jest/globals';
import { cronProblem } from '../policy/cron.js';
import { uploadPurgeCron } from './upload-purge.service.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('uploadPurgeCron', () => {
  it.each([
    [24 * HOUR, '0 0 0 * * *'],
    [HOUR, '0 0 * * * *'],
    [2 * HOUR, '0 0 */2 * * *'],
    [15 * MINUTE, '0 */15 * * * *'],
    [MINUTE, '0 * * * * *'],
    [168 * HOUR, '0 0 0 * * 0'],
  ])('runs an interval of %d ms that a cron repeats evenly exactly as often: %s', (interval, cron) => {
    expect(uploadPurgeCron(interval)).toBe(cron);
  });

  it.each([
    [90 * MINUTE, '0 0 * * * *'],
    [7 * MINUTE, '0 */6 * * * *'],
    [5 * HOUR, '0 0 */4 * * *'],
    [48 * HOUR, '0 0 0 * * *'],
    [30 * 24 * HOUR, '0 0 0 * * 0'],
    [10_000, '0 * * * * *'],
  ])('runs any other interval (%d ms) at the longest even period not longer: %s', (interval, cron) => {
    expect(uploadPurgeCron(interval)).toBe(cron);
  });

  it('answers only crons a schedule accepts', () => {
    for (let minutes = 1; minutes <= 8 * 24 * 60; minutes += 7) {
      expect(cronProblem(uploadPurgeCron(minutes * MINUTE))).toBeUndefined();
    }
  });
});
