import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import {
  type Execution,
  type ExecutionTrigger,
  ExecutionRepository,
  QuerySyntaxError,
  RegistryRepository,
  isFinal,
} from '@wharf/db';
import { type WharfConfig } from '@wharf/config';
import { GarbageCollector } from '@wharf/registry';
import { type StorageDriver } from '@wharf/storage';
import { DataSource } from 'typeorm';
import {
  JobName,
  type JobContext,
  type JobPayload,
  OnJob,
  type TaskBackedJobName,
  type TaskJobInput,
} from '@wharf/jobs';
import { z } from 'zod';
import { CORE_CONFIG, STORAGE } from '../constants.js';
import {
  type ScheduleRequestDto,
  type SystemJobListQuery,
  type SystemJobRunDto,
  type SystemJobScheduleDto,
} from '../dtos/system-job.dto.js';
import { ApiError } from '../errors/api-error.js';
import { Paged } from '../http/responses.js';
import { AuditPurgeService, auditPurgeParameters } from './audit-purge.service.js';
import { ScheduleService } from './schedule.service.js';
import { TaskService } from './task.service.js';

/** A system-wide job of Harbor's `/system/...` APIs: one execution with one task per run. */
export interface SystemJobKind<N extends TaskBackedJobName, P> {
  /** The execution's vendor type, which Harbor's history shows as `job_name`. */
  vendorType: string;
  jobName: N;
  /** For messages: "audit log purge". */
  label: string;
  /** Harbor's `parameters`, checked; a bad one is a 400. */
  parameters: z.ZodType<P, unknown>;
  payload(parameters: P): TaskJobInput<N>;
}

export const PURGE_AUDIT: SystemJobKind<JobName.PurgeAuditLog, z.output<typeof auditPurgeParameters>> = {
  vendorType: 'PURGE_AUDIT_LOG',
  jobName: JobName.PurgeAuditLog,
  label: 'audit log purge',
  parameters: auditPurgeParameters,
  payload: (p) => ({
    retentionHours: p.audit_retention_hour,
    includeEventTypes: p.include_event_types,
    dryRun: p.dry_run,
  }),
};

/**
 * Harbor's garbage collection parameters: `delete_untagged`, `dry_run`, `workers` (1–10 sweep batches at once) and
 * `time_window` (hours; what is younger is kept, 2 by default as in Harbor).
 */
export const gcParameters = z.strictObject({
  delete_untagged: z.boolean().default(false),
  dry_run: z.boolean().default(false),
  workers: z
    .number()
    .int('workers must be a whole number')
    .min(1, 'workers must be 1 to 10')
    .max(10, 'workers must be 1 to 10')
    .default(1),
  time_window: z
    .number()
    .min(0, 'time_window must be 0 or more hours')
    .max(8784, 'time_window must be at most 8784 hours')
    .default(2),
});

export const GARBAGE_COLLECTION: SystemJobKind<JobName.GarbageCollection, z.output<typeof gcParameters>> = {
  vendorType: 'GARBAGE_COLLECTION',
  jobName: JobName.GarbageCollection,
  label: 'garbage collection',
  parameters: gcParameters,
  payload: (p) => ({
    deleteUntagged: p.delete_untagged,
    dryRun: p.dry_run,
    workers: p.workers,
    timeWindowHours: p.time_window,
  }),
};

const KINDS = [PURGE_AUDIT, GARBAGE_COLLECTION] as unknown as readonly SystemJobKind<TaskBackedJobName, unknown>[];

class AlreadyRunning extends Error {}

function parametersOf<P>(kind: SystemJobKind<TaskBackedJobName, P>, input: unknown): P {
  const parsed = kind.parameters.safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw ApiError.badRequest(`invalid parameters of the ${kind.label}: ${where}${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

function runDto(execution: Execution): SystemJobRunDto {
  return {
    id: execution.id,
    job_name: execution.vendorType,
    job_kind: execution.trigger,
    job_parameters: JSON.stringify(execution.extraAttrs.parameters ?? {}),
    job_status: execution.status,
    deleted: false,
    creation_time: execution.startTime.toISOString(),
    update_time: execution.updateTime.toISOString(),
  };
}

/**
 * Runs Harbor's system jobs (garbage collection, audit log purge) on the job platform and answers for their history:
 * each run is an execution with one task, whose log is the run's log.
 */
@Injectable()
export class SystemJobService implements OnModuleInit {
  constructor(
    private readonly tasks: TaskService,
    private readonly executions: ExecutionRepository,
    private readonly schedules: ScheduleService,
    private readonly auditPurge: AuditPurgeService,
    private readonly dataSource: DataSource,
    @Inject(STORAGE) private readonly storage: StorageDriver,
    @Inject(CORE_CONFIG) private readonly config: WharfConfig,
  ) {}

  onModuleInit(): void {
    for (const kind of KINDS) {
      this.schedules.handle(kind.vendorType, async (schedule, log) => {
        try {
          const id = await this.launch(kind, schedule.extraAttrs.parameters as Record<string, unknown>, 'SCHEDULE');
          await log(`started ${kind.label} ${id}`);
        } catch (error) {
          if (!(error instanceof AlreadyRunning)) throw error;
          await log(`${kind.label} not started: ${error.message}`);
        }
      });
    }
  }

  /**
   * Starts a run now (Harbor's schedule of type `Manual`). A 409 while another run of the same job is unfinished: two
   * would only do the same work twice.
   */
  async runNow<N extends TaskBackedJobName, P>(
    kind: SystemJobKind<N, P>,
    input: ScheduleRequestDto['parameters'],
  ): Promise<number> {
    try {
      return await this.launch(kind, input, 'MANUAL');
    } catch (error) {
      if (error instanceof AlreadyRunning) throw ApiError.conflict(error.message);
      throw error;
    }
  }

  /** The job's schedule as Harbor answers it; type None when there is none. */
  async getSchedule<N extends TaskBackedJobName, P>(kind: SystemJobKind<N, P>): Promise<SystemJobScheduleDto> {
    const schedule = await this.schedules.get({ vendorType: kind.vendorType });
    const object = await this.schedules.describe(schedule);
    if (!schedule) return { schedule: object };
    return {
      id: schedule.id,
      schedule: object,
      parameters: (schedule.extraAttrs.parameters ?? {}) as Record<string, unknown>,
      creation_time: schedule.creationTime.toISOString(),
      update_time: schedule.updateTime.toISOString(),
    };
  }

  /**
   * Harbor's create and update of a system job's schedule: `Manual` runs it now (answering the run's id), `None`
   * removes the schedule, any other type sets it with the parameters each scheduled run gets, checked now.
   */
  async setSchedule<N extends TaskBackedJobName, P>(
    kind: SystemJobKind<N, P>,
    body: ScheduleRequestDto,
  ): Promise<number | undefined> {
    if (body.schedule.type === 'Manual') return this.runNow(kind, body.parameters);
    if (body.schedule.type !== 'None') parametersOf(kind, body.parameters);
    await this.schedules.set({ vendorType: kind.vendorType }, body.schedule, { parameters: body.parameters ?? {} });
    return undefined;
  }

  async history<N extends TaskBackedJobName, P>(
    kind: SystemJobKind<N, P>,
    query: SystemJobListQuery,
  ): Promise<Paged<SystemJobRunDto>> {
    try {
      const page = await this.executions.listExecutions(kind.vendorType, undefined, {
        q: query.q,
        sort: query.sort,
        page: query.page,
        pageSize: query.page_size,
      });
      return new Paged(page.items.map(runDto), page.total, page.page, page.pageSize);
    } catch (error) {
      if (error instanceof QuerySyntaxError) throw ApiError.badRequest(error.message);
      throw error;
    }
  }

  async get<N extends TaskBackedJobName, P>(kind: SystemJobKind<N, P>, id: number): Promise<SystemJobRunDto> {
    return runDto(await this.run(kind, id));
  }

  /** The run's log: its task's. */
  async log<N extends TaskBackedJobName, P>(kind: SystemJobKind<N, P>, id: number): Promise<string> {
    await this.run(kind, id);
    const tasks = await this.executions.listTasks(id, { pageSize: '1' });
    const task = tasks.items[0];
    if (!task) return '';
    return (await this.executions.taskLog(task.id))?.text ?? '';
  }

  /** Stops a run; stopping one that has ended changes nothing. */
  async stop<N extends TaskBackedJobName, P>(kind: SystemJobKind<N, P>, id: number): Promise<void> {
    const execution = await this.run(kind, id);
    if (isFinal(execution.status)) return;
    await this.tasks.stop(id);
  }

  @OnJob(JobName.PurgeAuditLog)
  async purgeAuditLog(payload: JobPayload<JobName.PurgeAuditLog>, context: JobContext): Promise<void> {
    await this.auditPurge.purge(
      {
        audit_retention_hour: payload.retentionHours,
        include_event_types: payload.includeEventTypes,
        dry_run: payload.dryRun,
      },
      context,
    );
  }

  @OnJob(JobName.GarbageCollection)
  async collectGarbage(payload: JobPayload<JobName.GarbageCollection>, context: JobContext): Promise<void> {
    const collector = new GarbageCollector(this.dataSource, new RegistryRepository(this.dataSource), this.storage, {
      busyDutyCycle: this.config.gc.dutyCycle,
    });
    await collector.run(
      {
        deleteUntagged: payload.deleteUntagged,
        dryRun: payload.dryRun,
        workers: payload.workers,
        timeWindowHours: payload.timeWindowHours,
      },
      { log: context.log, signal: context.signal },
    );
  }

  private async launch<N extends TaskBackedJobName, P>(
    kind: SystemJobKind<N, P>,
    input: ScheduleRequestDto['parameters'],
    trigger: ExecutionTrigger,
  ): Promise<number> {
    const parameters = parametersOf(kind, input);
    const running = await this.executions.unfinishedExecutionId(kind.vendorType);
    if (running !== undefined) {
      throw new AlreadyRunning(`a ${kind.label} is already running (${running}); stop it or wait for it`);
    }
    const { execution, tasks } = await this.tasks.launch({
      vendorType: kind.vendorType,
      trigger,
      jobName: kind.jobName,
      extraAttrs: { parameters: input ?? {} },
      payload: kind.payload(parameters),
    });
    if (tasks[0]?.status === 'Stopped') throw new AlreadyRunning(`a ${kind.label} is already running`);
    return execution.id;
  }

  private async run<N extends TaskBackedJobName, P>(kind: SystemJobKind<N, P>, id: number): Promise<Execution> {
    const execution = await this.executions.getExecution(id);
    if (execution?.vendorType !== kind.vendorType) throw ApiError.notFound(`${kind.label} ${id} not found`);
    return execution;
  }
}
