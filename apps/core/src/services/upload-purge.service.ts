import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { type UploadPurgingConfig, type WharfConfig } from '@wharf/config';
import { ExecutionRepository, RegistryRepository, type Schedule } from '@wharf/db';
import { type JobContext, JobName, type JobPayload, OnJob } from '@wharf/jobs';
import { purgeUploads } from '@wharf/registry';
import { type StorageDriver } from '@wharf/storage';
import { DataSource } from 'typeorm';
import { CORE_CONFIG, STORAGE } from '../constants.js';
import { ScheduleService } from './schedule.service.js';
import { TaskService } from './task.service.js';

/** The vendor type of upload purge runs and of their built-in schedule. */
export const UPLOAD_PURGE = 'UPLOAD_PURGE';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/**
 * The periods a cron repeats evenly (UTC), shortest first: a step of minutes that divides the hour, of hours that
 * divides the day, the day and the week. Steps that do not divide their unit would not be even (`*\/7` minutes runs
 * at :56 and then at :00 again), nor would steps of days, which restart every month.
 */
const CRON_PERIODS: readonly { ms: number; cron: string }[] = [
  ...[1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30].map((n) => ({
    ms: n * MINUTE_MS,
    cron: n === 1 ? '0 * * * * *' : `0 */${n} * * * *`,
  })),
  ...[1, 2, 3, 4, 6, 8, 12].map((n) => ({ ms: n * HOUR_MS, cron: n === 1 ? '0 0 * * * *' : `0 0 */${n} * * *` })),
  { ms: DAY_MS, cron: '0 0 0 * * *' },
  { ms: 7 * DAY_MS, cron: '0 0 0 * * 0' },
];

/**
 * The cron of `upload_purging.interval`: the longest even period that is not longer than the interval (at least a
 * minute, at most a week). `24h` (the default) is daily at 00:00 UTC, `1h` hourly, `90m` hourly, `2d` daily, `168h`
 * weekly on Sunday. Running more often than asked is harmless: `upload_purging.age`, not the interval, decides what
 * is removed.
 */
export function uploadPurgeCron(intervalMs: number): string {
  let chosen = CRON_PERIODS[0];
  for (const period of CRON_PERIODS) if (period.ms <= intervalMs) chosen = period;
  return chosen.cron;
}

/**
 * Removes abandoned uploads (`upload_purging`) as a job of jobservice, each run recorded with what it removed. Runs
 * come from a built-in schedule that jobservice sets from the configuration when it starts (`applyConfig`), so they
 * happen once for the whole cluster whatever the number of core and jobservice processes, and from one firing of it
 * shortly after a jobservice starts (`purgeSoon`).
 */
@Injectable()
export class UploadPurgeService implements OnModuleInit {
  private readonly registry: RegistryRepository;

  constructor(
    dataSource: DataSource,
    @Inject(STORAGE) private readonly storage: StorageDriver,
    @Inject(CORE_CONFIG) private readonly config: WharfConfig,
    private readonly schedules: ScheduleService,
    private readonly tasks: TaskService,
    private readonly executions: ExecutionRepository,
  ) {
    this.registry = new RegistryRepository(dataSource);
  }

  onModuleInit(): void {
    this.schedules.handle(UPLOAD_PURGE, (schedule, log) => this.launchScheduled(schedule, log));
  }

  /**
   * Makes the built-in schedule that of `upload_purging`: set to the interval's cron when enabled, removed when not.
   * Answers the schedule, or undefined when there is none.
   */
  async applyConfig(purging: UploadPurgingConfig = this.config.uploadPurging): Promise<Schedule | undefined> {
    const ref = { vendorType: UPLOAD_PURGE };
    if (!purging.enabled) {
      await this.schedules.remove(ref);
      return undefined;
    }
    return this.schedules.set(ref, { type: 'Custom', cron: uploadPurgeCron(purging.intervalMs) });
  }

  /**
   * A run of the built-in schedule soon after a jobservice starts (`delayMs`), so that uploads abandoned while none ran
   * are purged without waiting for the schedule's next time. Jobservices that start together, within the delay, share
   * one run (see ScheduleService.fireOnce). Answers whether this call queued it; nothing is queued while
   * `upload_purging` is disabled.
   */
  async purgeSoon(schedule: Schedule | undefined, delayMs: number): Promise<boolean> {
    if (!schedule || !this.config.uploadPurging.enabled) return false;
    return this.schedules.fireOnce(schedule, delayMs);
  }

  @OnJob(JobName.UploadPurge)
  async purge({ ageMs, dryRun }: JobPayload<JobName.UploadPurge>, { log }: JobContext): Promise<void> {
    const result = await purgeUploads(this.registry, this.storage, { ageMs, dryRun });
    const verb = dryRun ? 'would remove' : 'removed';
    await log(
      `${verb} ${result.sessions.length} abandoned upload sessions and ${result.orphans.length} uploads with no session`,
    );
  }

  /** A scheduled run, with this process's `upload_purging`; none while another run is unfinished. */
  private async launchScheduled(schedule: Schedule, log: (line: string) => Promise<void>): Promise<void> {
    const running = await this.executions.unfinishedExecutionId(UPLOAD_PURGE);
    if (running !== undefined) {
      await log(`upload purge not started: run ${running} is not finished`);
      return;
    }
    const { ageMs, dryRun } = this.config.uploadPurging;
    const { execution } = await this.tasks.launch({
      vendorType: UPLOAD_PURGE,
      trigger: 'SCHEDULE',
      jobName: JobName.UploadPurge,
      payload: { ageMs, dryRun },
      extraAttrs: { schedule_id: schedule.id },
    });
    await log(`started upload purge ${execution.id}`);
  }
}
