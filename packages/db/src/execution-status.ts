/** Harbor's job statuses, shared by executions and tasks. */
export const JOB_STATUSES = ['Pending', 'Scheduled', 'Running', 'Stopped', 'Error', 'Success'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const EXECUTION_TRIGGERS = ['MANUAL', 'SCHEDULE', 'EVENT'] as const;
export type ExecutionTrigger = (typeof EXECUTION_TRIGGERS)[number];

/** The final statuses: an execution or task in one of them has ended. */
export const FINAL_STATUSES: readonly JobStatus[] = ['Stopped', 'Error', 'Success'];

/**
 * Orders statuses as a task moves through them: Pending < Scheduled < Running < Stopped | Error | Success.
 * Within one status revision a task only moves to a higher code, so a report that arrives late or twice
 * (Running after Success) changes nothing.
 */
export function statusCode(status: JobStatus): number {
  switch (status) {
    case 'Pending':
      return 0;
    case 'Scheduled':
      return 1;
    case 'Running':
      return 2;
    case 'Stopped':
    case 'Error':
    case 'Success':
      return 3;
  }
}

export function isFinal(status: JobStatus): boolean {
  return statusCode(status) === 3;
}

export function isJobStatus(value: unknown): value is JobStatus {
  return typeof value === 'string' && (JOB_STATUSES as readonly string[]).includes(value);
}

export function isExecutionTrigger(value: unknown): value is ExecutionTrigger {
  return typeof value === 'string' && (EXECUTION_TRIGGERS as readonly string[]).includes(value);
}

/**
 * Whether a task at `current` (with `currentRevision`) takes a report of `next` at `nextRevision`: a newer
 * revision (the job ran again, e.g. a retry) always does; the same revision only moves forward; an older one never.
 */
export function acceptsTransition(
  current: JobStatus,
  currentRevision: number,
  next: JobStatus,
  nextRevision: number,
): boolean {
  if (nextRevision > currentRevision) return true;
  if (nextRevision < currentRevision) return false;
  return statusCode(next) > statusCode(current);
}

/** Task counts of an execution per status. */
export interface ExecutionMetrics {
  taskCount: number;
  pendingTaskCount: number;
  scheduledTaskCount: number;
  runningTaskCount: number;
  stoppedTaskCount: number;
  errorTaskCount: number;
  successTaskCount: number;
}

export function emptyMetrics(): ExecutionMetrics {
  return {
    taskCount: 0,
    pendingTaskCount: 0,
    scheduledTaskCount: 0,
    runningTaskCount: 0,
    stoppedTaskCount: 0,
    errorTaskCount: 0,
    successTaskCount: 0,
  };
}

/**
 * An execution's status from its tasks' counts: while any task has work ahead it is Running; once all have ended,
 * one error makes it Error, else one stop makes it Stopped, else Success. Without tasks there is nothing to derive
 * from (undefined): the execution keeps the status it was given.
 */
export function deriveExecutionStatus(m: ExecutionMetrics): JobStatus | undefined {
  if (m.taskCount === 0) return undefined;
  if (m.pendingTaskCount + m.scheduledTaskCount + m.runningTaskCount > 0) return 'Running';
  if (m.errorTaskCount > 0) return 'Error';
  if (m.stoppedTaskCount > 0) return 'Stopped';
  return 'Success';
}
