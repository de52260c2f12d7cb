import { Injectable, type OnModuleInit } from '@nestjs/common';
import { type Execution, type ExecutionTrigger, ExecutionRepository, type Task } from '@wharf/db';
import { type JobContext, JobName, type JobPayload, OnJob } from '@wharf/jobs';
import { type RequestAuth, principalName } from '../auth/principal.js';
import {
  type RetentionExecutionDto,
  type RetentionExecutionTaskDto,
  type RetentionListQueryDto,
} from '../dtos/retention.dto.js';
import { ApiError } from '../errors/api-error.js';
import { Paged } from '../http/responses.js';
import { repositoryNameInProject } from '../policy/selector.js';
import {
  RETENTION_VENDOR_TYPE,
  type RetentionPolicyRecord,
  RetentionRepository,
} from '../repositories/retention.repository.js';
import { ZERO_TIME } from './artifact.service.js';
import { RetentionEngine, RetentionStoppedError } from './retention-engine.service.js';
import { RetentionService } from './retention.service.js';
import { ScheduleService } from './schedule.service.js';
import { TaskService } from './task.service.js';

function time(value: Date | null): string {
  return value ? value.toISOString() : ZERO_TIME;
}

function executionDto(execution: Execution): RetentionExecutionDto {
  return {
    id: execution.id,
    policy_id: execution.vendorId,
    start_time: time(execution.startTime),
    end_time: time(execution.endTime),
    status: execution.status,
    trigger: execution.trigger,
    dry_run: execution.extraAttrs.dry_run === true,
  };
}

function count(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

function taskDto(task: Task): RetentionExecutionTaskDto {
  return {
    id: task.id,
    execution_id: task.executionId,
    repository: typeof task.extraAttrs.repository === 'string' ? task.extraAttrs.repository : '',
    job_id: task.jobId ?? '',
    status: task.status,
    status_code: task.statusCode,
    status_revision: task.statusRevision,
    start_time: time(task.startTime),
    end_time: time(task.endTime),
    total: count(task.extraAttrs.total),
    retained: count(task.extraAttrs.retained),
  };
}

/**
 * Runs of retention policies as Harbor records them: an execution per run, a task (and a job) per repository in the
 * policy's scope, each task with its counts and its log. The job handler applies the policy to its repository.
 */
@Injectable()
export class RetentionExecutionService implements OnModuleInit {
  constructor(
    private readonly retentions: RetentionService,
    private readonly policies: RetentionRepository,
    private readonly engine: RetentionEngine,
    private readonly tasks: TaskService,
    private readonly executions: ExecutionRepository,
    private readonly schedules: ScheduleService,
  ) {}

  onModuleInit(): void {
    // A policy's schedule (its trigger's cron) runs it for real, unless its previous run is unfinished.
    this.schedules.handle(RETENTION_VENDOR_TYPE, async (schedule, log) => {
      const policy = await this.policies.find(schedule.vendorId);
      if (!policy) {
        await this.schedules.remove({ vendorType: RETENTION_VENDOR_TYPE, vendorId: schedule.vendorId });
        await log(`retention policy ${schedule.vendorId} no longer exists: its schedule is removed`);
        return;
      }
      const unfinished = await this.executions.unfinishedExecutionId(RETENTION_VENDOR_TYPE, policy.id);
      if (unfinished !== undefined) {
        await log(`retention policy ${policy.id} not run: its run ${unfinished} is unfinished`);
        return;
      }
      const id = await this.launch(policy, false, 'SCHEDULE', 'scheduler');
      await log(`started retention run ${id} of policy ${policy.id}`);
    });
  }

  /** Starts a run of the policy by hand; answers the execution's id. */
  async trigger(auth: RequestAuth, policyId: number, dryRun: boolean): Promise<number> {
    const policy = await this.retentions.authorized(auth, policyId, 'update');
    return this.launch(policy, dryRun, 'MANUAL', principalName(auth.principal));
  }

  private async launch(
    policy: RetentionPolicyRecord,
    dryRun: boolean,
    trigger: ExecutionTrigger,
    operator: string,
  ): Promise<number> {
    const repositories = await this.engine.repositoriesInScope(policy);
    const { execution } = await this.tasks.launchMany({
      vendorType: RETENTION_VENDOR_TYPE,
      vendorId: policy.id,
      trigger,
      jobName: JobName.Retention,
      extraAttrs: { dry_run: dryRun, operator },
      tasks: repositories.map((repo) => ({
        payload: { policyId: policy.id, repositoryId: repo.id, repository: repo.name, dryRun },
        extraAttrs: { repository: repositoryNameInProject(repo.name), dry_run: dryRun },
      })),
    });
    // Nothing in scope: the run is done as soon as it starts, as in Harbor.
    if (repositories.length === 0) await this.executions.markExecution(execution.id, 'Success');
    return execution.id;
  }

  async list(auth: RequestAuth, policyId: number, query: RetentionListQueryDto): Promise<Paged<RetentionExecutionDto>> {
    const policy = await this.retentions.authorized(auth, policyId, 'list');
    const page = await this.executions.listExecutions(RETENTION_VENDOR_TYPE, policy.id, {
      page: query.page,
      pageSize: query.page_size,
    });
    return new Paged(page.items.map(executionDto), page.total, page.page, page.pageSize);
  }

  async stop(auth: RequestAuth, policyId: number, executionId: number): Promise<void> {
    const policy = await this.retentions.authorized(auth, policyId, 'update');
    await this.executionOf(policy.id, executionId);
    await this.tasks.stop(executionId);
  }

  async listTasks(
    auth: RequestAuth,
    policyId: number,
    executionId: number,
    query: RetentionListQueryDto,
  ): Promise<Paged<RetentionExecutionTaskDto>> {
    const policy = await this.retentions.authorized(auth, policyId, 'list');
    await this.executionOf(policy.id, executionId);
    const page = await this.executions.listTasks(executionId, { page: query.page, pageSize: query.page_size });
    return new Paged(page.items.map(taskDto), page.total, page.page, page.pageSize);
  }

  async taskLog(auth: RequestAuth, policyId: number, executionId: number, taskId: number): Promise<string> {
    const policy = await this.retentions.authorized(auth, policyId, 'read');
    await this.executionOf(policy.id, executionId);
    const task = await this.executions.getTask(taskId);
    if (task?.executionId !== executionId) {
      throw ApiError.notFound(`task ${taskId} of retention execution ${executionId} not found`);
    }
    return (await this.executions.taskLog(taskId))?.text ?? '';
  }

  /** Applies the policy, as it stands now, to one repository; the runner records the task's status and log. */
  @OnJob(JobName.Retention)
  async run(payload: JobPayload<JobName.Retention>, { signal, log }: JobContext): Promise<void> {
    const policy = await this.policies.find(payload.policyId);
    if (!policy) {
      await log(`retention policy ${payload.policyId} no longer exists: nothing to do`);
      return;
    }
    try {
      const result = await this.engine.runRepository(
        policy,
        { id: payload.repositoryId, name: payload.repository },
        { dryRun: payload.dryRun, log, signal },
      );
      await this.executions.mergeTaskExtraAttrs(payload.taskId, { total: result.total, retained: result.retained });
    } catch (error) {
      // A stopped run ends as its task says (Stopped); what it deleted stays deleted.
      if (error instanceof RetentionStoppedError) return;
      throw error;
    }
  }

  /** The execution, when it is a run of this policy; a 404 otherwise, as for one that does not exist. */
  private async executionOf(policyId: number, executionId: number): Promise<Execution> {
    const execution = await this.executions.getExecution(executionId);
    if (execution?.vendorType !== RETENTION_VENDOR_TYPE || execution.vendorId !== policyId) {
      throw ApiError.notFound(`retention execution ${executionId} of policy ${policyId} not found`);
    }
    return execution;
  }
}
