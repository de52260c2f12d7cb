import { Injectable, Logger } from '@nestjs/common';
import { type CronType, type ExtraAttrs, type Schedule, type ScheduleRef, ScheduleRepository } from '@wharf/db';
import {
  type JobContext,
  JobName,
  type JobPayload,
  JobRunner,
  OnJob,
  QueueName,
  withinQueueTimeout,
} from '@wharf/jobs';
import { ApiError } from '../errors/api-error.js';
import { cronProblem } from '../policy/cron.js';

/** Harbor's schedule object, as its APIs send and answer it. */
export interface ScheduleObject {
  type: 'Hourly' | 'Daily' | 'Weekly' | 'Custom' | 'Manual' | 'None' | 'Schedule';
  cron?: string;
  next_scheduled_time?: string;
}

/** The crons of Harbor's preset schedule types (UTC). */
export const PRESET_CRONS: Readonly<Record<Exclude<CronType, 'Custom'>, string>> = {
  Hourly: '0 0 * * * *',
  Daily: '0 0 0 * * *',
  Weekly: '0 0 0 * * 0',
};

/** Starts the run of a schedule's vendor: called when the schedule's time comes (trigger SCHEDULE). */
export type ScheduledLauncher = (schedule: Schedule, log: (line: string) => Promise<void>) => Promise<void>;

const SCHEDULER_PREFIX = 'schedule:';

function schedulerId(schedule: Pick<Schedule, 'id'>): string {
  return `${SCHEDULER_PREFIX}${schedule.id}`;
}

/**
 * The timing of a schedule object, checked: a preset type or `Custom` with a 6-field cron whose seconds are 0.
 * `Schedule` is Harbor's older name for `Custom`. Undefined for `None` (no schedule); `Manual` is not a schedule.
 */
export function scheduleTiming(schedule: ScheduleObject): { cronType: CronType; cron: string } | undefined {
  switch (schedule.type) {
    case 'None':
      return undefined;
    case 'Hourly':
    case 'Daily':
    case 'Weekly':
      return { cronType: schedule.type, cron: PRESET_CRONS[schedule.type] };
    case 'Custom':
    case 'Schedule': {
      const cron = (schedule.cron ?? '').trim().replace(/\s+/g, ' ');
      const problem = cron === '' ? 'a Custom schedule needs a cron' : cronProblem(cron);
      if (problem) throw ApiError.badRequest(`invalid schedule: ${problem}`);
      return { cronType: 'Custom', cron };
    }
    case 'Manual':
      throw ApiError.badRequest('invalid schedule: the type "Manual" runs once now and is not a schedule');
  }
}

/**
 * Schedules of background work: rows in PostgreSQL that drive the job queue's schedulers (one per row, UTC). A
 * scheduler fires a SCHEDULED_RUN job; its handler starts the vendor's run through the launcher the vendor's service
 * registered, unless a run of that vendor is still unfinished (one run at a time per schedule). `syncAll` makes the
 * queue's schedulers match the rows, so a Redis that lost its data gets them back when jobservice syncs.
 */
@Injectable()
export class ScheduleService {
  private readonly logger = new Logger(ScheduleService.name);
  private readonly launchers = new Map<string, ScheduledLauncher>();

  constructor(
    private readonly schedules: ScheduleRepository,
    private readonly jobs: JobRunner,
  ) {}

  /** Registers how a vendor type's scheduled run starts; its service does it when the module starts. */
  handle(vendorType: string, launcher: ScheduledLauncher): void {
    if (this.launchers.has(vendorType)) throw new Error(`scheduled runs of ${vendorType} already have a launcher`);
    this.launchers.set(vendorType, launcher);
  }

  async get(ref: ScheduleRef): Promise<Schedule | undefined> {
    return this.schedules.get(ref);
  }

  /**
   * Sets (or, for `None`, removes) a vendor's schedule and its scheduler. A queue that cannot be reached leaves the
   * row in place for the next sync and answers 503: the schedule is stored, not yet armed.
   */
  async set(ref: ScheduleRef, object: ScheduleObject, extraAttrs: ExtraAttrs = {}): Promise<Schedule | undefined> {
    const timing = scheduleTiming(object);
    if (!timing) {
      await this.remove(ref);
      return undefined;
    }
    const schedule = await this.schedules.upsert(ref, timing.cronType, timing.cron, extraAttrs);
    await this.arm(schedule);
    return schedule;
  }

  async remove(ref: ScheduleRef): Promise<void> {
    const deleted = await this.schedules.delete(ref);
    if (deleted) await this.queueCall(() => this.queue().removeJobScheduler(schedulerId(deleted)));
  }

  /** Harbor's schedule object for a stored schedule, with the next time its scheduler fires. */
  async describe(schedule: Schedule | undefined): Promise<ScheduleObject> {
    if (!schedule) return { type: 'None' };
    const scheduler = await this.queue()
      .getJobScheduler(schedulerId(schedule))
      .catch(() => undefined);
    const next = scheduler?.next;
    return {
      type: schedule.cronType,
      cron: schedule.cron,
      ...(next ? { next_scheduled_time: new Date(next).toISOString() } : {}),
    };
  }

  /**
   * Makes the queue's schedulers those of the rows: each row's (re)created with its cron, any other of ours removed.
   * Answers how many were armed.
   */
  async syncAll(): Promise<number> {
    const rows = await this.schedules.all();
    const wanted = new Set(rows.map(schedulerId));
    for (const schedule of rows) await this.arm(schedule);
    const queue = this.queue();
    const existing = await queue.getJobSchedulers(0, -1, true);
    for (const scheduler of existing) {
      const key = scheduler.key ?? scheduler.id;
      if (key?.startsWith(SCHEDULER_PREFIX) && !wanted.has(key)) await queue.removeJobScheduler(key);
    }
    return rows.length;
  }

  /**
   * Fires a schedule once `delayMs` from now, besides its cron. A firing of it already waiting (another process asked
   * first) is this one too: the job's deduplication id makes them one. Answers whether this call queued it.
   */
  async fireOnce(schedule: Pick<Schedule, 'id'>, delayMs: number): Promise<boolean> {
    const { added } = await this.jobs.enqueue(JobName.ScheduledRun, { scheduleId: schedule.id }, { delayMs });
    return added;
  }

  @OnJob(JobName.ScheduledRun)
  async fire({ scheduleId }: JobPayload<JobName.ScheduledRun>, { log }: JobContext): Promise<void> {
    const schedule = await this.schedules.getById(scheduleId);
    if (!schedule) {
      // Deleted since the scheduler fired: the scheduler goes too.
      await this.queue().removeJobScheduler(schedulerId({ id: scheduleId }));
      return;
    }
    const launcher = this.launchers.get(schedule.vendorType);
    if (!launcher) throw new Error(`no launcher for scheduled runs of ${schedule.vendorType}`);
    await launcher(schedule, log);
  }

  private async arm(schedule: Schedule): Promise<void> {
    await this.queueCall(() =>
      this.queue().upsertJobScheduler(
        schedulerId(schedule),
        { pattern: schedule.cron, tz: 'UTC' },
        { name: JobName.ScheduledRun, data: { scheduleId: schedule.id }, opts: { attempts: 3 } },
      ),
    );
  }

  private queue() {
    return this.jobs.queue(QueueName.System);
  }

  private async queueCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await withinQueueTimeout(call());
    } catch (error) {
      this.logger.warn(`schedule not armed yet (the next sync arms it): ${(error as Error).message}`);
      throw new ApiError(
        'SERVICE_UNAVAILABLE',
        'the job queue is unavailable; the schedule is kept and armed when it is back',
        { 'Retry-After': '5' },
      );
    }
  }
}
