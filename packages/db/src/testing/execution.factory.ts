import { type ExecutionTrigger, type JobStatus } from '../execution-status.js';
import {
  type Execution,
  type ExecutionRepository,
  type ExtraAttrs,
  type Task,
} from '../repositories/execution.repository.js';

/** Builds executions and tasks for tests through the repository itself, so fixtures obey the same rules as the code. */
export class ExecutionFactory {
  constructor(private readonly repo: ExecutionRepository) {}

  execution(
    input: { vendorType?: string; vendorId?: number; trigger?: ExecutionTrigger; extraAttrs?: ExtraAttrs } = {},
  ): Promise<Execution> {
    return this.repo.createExecution({
      vendorType: input.vendorType ?? 'GARBAGE_COLLECTION',
      vendorId: input.vendorId,
      trigger: input.trigger ?? 'MANUAL',
      extraAttrs: input.extraAttrs,
    });
  }

  /** A task of `executionId`, moved to `status` by a report of revision 1 when it is not Pending. */
  async task(executionId: number, status: JobStatus = 'Pending', jobId?: string): Promise<Task> {
    const task = await this.repo.createTask(executionId, { jobId });
    if (!task) throw new Error(`execution ${executionId} does not exist`);
    if (status === 'Pending') return task;
    const result = await this.repo.updateTaskStatus(task.id, { status, revision: 1 });
    return result!.task;
  }

  /** An execution with one task per status given; returns it as it stands after them. */
  async executionWithTasks(
    statuses: JobStatus[],
    input: { vendorType?: string; vendorId?: number } = {},
  ): Promise<{ execution: Execution; tasks: Task[] }> {
    const created = await this.execution(input);
    const tasks: Task[] = [];
    for (const [i, status] of statuses.entries()) {
      tasks.push(await this.task(created.id, status, `job-${created.id}-${i}`));
    }
    return { execution: (await this.repo.getExecution(created.id))!, tasks };
  }
}
