import { Injectable } from '@nestjs/common';
import { type Execution, ExecutionRepository, type ExecutionTrigger, type ExtraAttrs, type Task } from '@wharf/db';
import {
  JOB_PAYLOADS,
  JobPayloadError,
  JobRunner,
  type JobInput,
  type TaskBackedJobName,
  type TaskJobInput,
  isTaskBacked,
  QUEUE_TIMEOUT_MS,
  withinQueueTimeout,
} from '@wharf/jobs';

export interface LaunchManyInput<N extends TaskBackedJobName> {
  /** What the execution belongs to, as Harbor names it (GARBAGE_COLLECTION, RETENTION, SCAN_ALL, …). */
  vendorType: string;
  /** The object (policy, artifact, …); -1 or left out for none. */
  vendorId?: number;
  trigger: ExecutionTrigger;
  jobName: N;
  /** The execution's extra attributes, shown by Harbor's execution APIs. */
  extraAttrs?: ExtraAttrs;
  /** One task per entry, each run as one job with this payload (and the task's id). */
  tasks: ReadonlyArray<{ payload: TaskJobInput<N>; extraAttrs?: ExtraAttrs }>;
}

export interface LaunchInput<N extends TaskBackedJobName> extends Omit<LaunchManyInput<N>, 'tasks'> {
  payload: TaskJobInput<N>;
}

export interface Launched {
  execution: Execution;
  /** The execution's tasks as queued: each with the id of its job, or Stopped if the same job was already queued. */
  tasks: Task[];
}

/**
 * Starts and stops task-backed background work: an execution with its tasks in PostgreSQL, a job per task on the
 * job platform. The runner (in jobservice) records each run in its task; `stop` reaches runs in any process.
 */
@Injectable()
export class TaskService {
  /** How long a launch waits for Redis to take a job before it gives up and records the task as failed; tests shorten it. */
  enqueueTimeoutMs = QUEUE_TIMEOUT_MS;

  constructor(
    private readonly executions: ExecutionRepository,
    private readonly jobs: JobRunner,
  ) {}

  /** One execution with one task running `jobName` with `payload`. */
  launch<N extends TaskBackedJobName>(input: LaunchInput<N>): Promise<Launched> {
    const { payload, ...rest } = input;
    return this.launchMany({ ...rest, tasks: [{ payload }] });
  }

  /**
   * One execution with a task per entry of `tasks`, each queued as one job. Every payload is checked first, so a bad
   * one creates nothing. A task whose job is deduplicated (the same job already waits or runs) ends Stopped at once
   * with a message saying so; a task that cannot be queued (Redis away for `enqueueTimeoutMs`) ends as Error, and the
   * error is thrown.
   */
  async launchMany<N extends TaskBackedJobName>(input: LaunchManyInput<N>): Promise<Launched> {
    if (!isTaskBacked(input.jobName)) throw new JobPayloadError(String(input.jobName), ['not a task-backed job']);
    for (const { payload } of input.tasks) {
      // Any task id will do to check the rest of the payload.
      const checked = JOB_PAYLOADS[input.jobName].safeParse({ ...payload, taskId: 1 });
      if (!checked.success) {
        throw new JobPayloadError(
          input.jobName,
          checked.error.issues.map((issue) => `${issue.path.join('.') || 'payload'}: ${issue.message}`),
        );
      }
    }
    const execution = await this.executions.createExecution({
      vendorType: input.vendorType,
      vendorId: input.vendorId,
      trigger: input.trigger,
      extraAttrs: input.extraAttrs,
    });
    const tasks: Task[] = [];
    for (const entry of input.tasks) {
      const task = (await this.executions.createTask(execution.id, {
        extraAttrs: entry.extraAttrs,
        // Kept with the task, so that a job Redis lost can be queued again (see JobRunner.reconcile).
        job: { name: input.jobName, data: entry.payload },
      }))!;
      tasks.push(await this.enqueue(input.jobName, task, entry.payload));
    }
    return { execution: (await this.executions.getExecution(execution.id))!, tasks };
  }

  /**
   * Stops an execution: its unfinished tasks become Stopped, their waiting jobs leave the queue, and the handlers
   * running them (in any jobservice) see their signal aborted. Undefined if there is no such execution.
   */
  async stop(executionId: number): Promise<Execution | undefined> {
    const stopped = await this.executions.stopExecution(executionId);
    if (!stopped) return undefined;
    await this.jobs.cancel(stopped.jobIds);
    return stopped.execution;
  }

  private async enqueue<N extends TaskBackedJobName>(name: N, task: Task, payload: TaskJobInput<N>): Promise<Task> {
    let job: { id: string; added: boolean };
    try {
      // A launch answers instead of waiting for Redis. Should the job reach the queue later all the same, its task has
      // ended by then and the runner does not run it.
      job = await withinQueueTimeout(
        this.jobs.enqueue(name, { ...payload, taskId: task.id } as unknown as JobInput<N>),
        this.enqueueTimeoutMs,
      );
    } catch (error) {
      await this.executions.updateTaskStatus(task.id, {
        status: 'Error',
        revision: task.statusRevision,
        message: `could not be queued: ${(error as Error).message}`,
      });
      throw error;
    }
    if (!job.added) {
      await this.executions.updateTaskStatus(task.id, {
        status: 'Stopped',
        revision: task.statusRevision,
        message: `not run: the same job is already waiting or running (job ${job.id})`,
      });
    } else {
      await this.executions.setTaskJobId(task.id, job.id);
    }
    return (await this.executions.getTask(task.id))!;
  }
}
