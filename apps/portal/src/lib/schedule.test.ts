import { describe, expect, it } from 'vitest';
import { cronOf, cronProblem, scheduleKind } from './schedule.js';

describe('the schedule', () => {
  it('recognizes the presets and keeps anything else as custom', () => {
    expect(scheduleKind('')).toBe('none');
    expect(scheduleKind('0 0 * * * *')).toBe('hourly');
    expect(scheduleKind('0 0 0 * * *')).toBe('daily');
    expect(scheduleKind('0 0 0 * * 0')).toBe('weekly');
    expect(scheduleKind('0 30 2 * * *')).toBe('custom');
  });

  it('stores the cron of a choice, a custom one with its spaces tidied', () => {
    expect(cronOf('none', '0 0 3 * * *')).toBe('');
    expect(cronOf('daily', '')).toBe('0 0 0 * * *');
    expect(cronOf('custom', ' 0  0 3 * * * ')).toBe('0 0 3 * * *');
  });

  it('asks for six fields', () => {
    expect(cronProblem('0 3 * * *')).toMatch(/6 fields/);
    expect(cronProblem('0 0 3 * * *')).toBeUndefined();
  });
});
