import { describe, expect, it } from '@jest/globals';
import {
  type ExecutionMetrics,
  acceptsTransition,
  deriveExecutionStatus,
  emptyMetrics,
  statusCode,
} from './execution-status.js';

const m = (counts: Partial<ExecutionMetrics>): ExecutionMetrics => {
  const metrics = { ...emptyMetrics(), ...counts };
  metrics.taskCount =
    metrics.pendingTaskCount +
    metrics.scheduledTaskCount +
    metrics.runningTaskCount +
    metrics.stoppedTaskCount +
    metrics.errorTaskCount +
    metrics.successTaskCount;
  return metrics;
};

describe('job status rules', () => {
  it('orders statuses Pending < Scheduled < Running < final', () => {
    expect(
      ['Pending', 'Scheduled', 'Running', 'Success', 'Error', 'Stopped'].map((s) => statusCode(s as never)),
    ).toEqual([0, 1, 2, 3, 3, 3]);
  });

  it('takes forward moves within a revision, anything from a newer one, nothing from an older one', () => {
    expect(acceptsTransition('Pending', 1, 'Running', 1)).toBe(true);
    expect(acceptsTransition('Running', 1, 'Success', 1)).toBe(true);
    expect(acceptsTransition('Success', 1, 'Running', 1)).toBe(false);
    expect(acceptsTransition('Success', 1, 'Error', 1)).toBe(false);
    expect(acceptsTransition('Running', 1, 'Running', 1)).toBe(false);
    expect(acceptsTransition('Error', 1, 'Running', 2)).toBe(true);
    expect(acceptsTransition('Pending', 2, 'Success', 1)).toBe(false);
  });

  it("derives an execution's status from its tasks as Harbor does", () => {
    expect(deriveExecutionStatus(m({}))).toBeUndefined();
    expect(deriveExecutionStatus(m({ successTaskCount: 3, pendingTaskCount: 1 }))).toBe('Running');
    expect(deriveExecutionStatus(m({ errorTaskCount: 1, scheduledTaskCount: 1 }))).toBe('Running');
    expect(deriveExecutionStatus(m({ errorTaskCount: 1, runningTaskCount: 1 }))).toBe('Running');
    expect(deriveExecutionStatus(m({ errorTaskCount: 1, stoppedTaskCount: 2, successTaskCount: 1 }))).toBe('Error');
    expect(deriveExecutionStatus(m({ stoppedTaskCount: 1, successTaskCount: 4 }))).toBe('Stopped');
    expect(deriveExecutionStatus(m({ successTaskCount: 2 }))).toBe('Success');
  });
});
