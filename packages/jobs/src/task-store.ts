/** The statuses a task-backed job reports, as PostgreSQL's task rows spell them (Harbor's). */
export type TaskStatus = 'Pending' | 'Scheduled' | 'Running' | 'Stopped' | 'Error' | 'Success';

/** What the runner reads of a task before it runs the job behind it. */
export interface TaskState {
  status: TaskStatus;
  statusRevision: number;
}

/**
 * Where the runner records the tasks of task-backed jobs. `ExecutionRepository` of @wharf/db satisfies it; it is an
 * interface here so that this package needs neither the database nor Nest.
 */
export interface TaskStore {
  getTask(taskId: number): Promise<TaskState | undefined>;
  /**
   * Applies a status report under Harbor's rules: a higher revision always (a new run), the same revision only
   * forward, an older one never. Undefined when there is no such task.
   */
  updateTaskStatus(
    taskId: number,
    report: { status: TaskStatus; revision: number; message?: string },
  ): Promise<{ applied: boolean } | undefined>;
  /** Appends to the task's log, which keeps its last characters within a bound. False when there is no such task. */
  appendTaskLog(taskId: number, text: string): Promise<boolean>;
}

export function isFinalTaskStatus(status: TaskStatus): boolean {
  return status === 'Stopped' || status === 'Error' || status === 'Success';
}
