import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ExecutionRepository, ScheduleRepository, createDataSource, runMigrations } from '@wharf/db';
import { JobHandlerRegistry, JobName, JobRunner, OnJob, QueueName } from '@wharf/jobs';
import { createTestDatabase, type TestDatabase } from '@wharf/testkit';
import { type DataSource } from 'typeorm';
import { ApiError } from '../errors/api-error.js';
import { ScheduleService, scheduleTiming } from './schedule.service.js';

async function waitFor(probe: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The other jobs of the system queue, which a worker of the queue must have handlers for; none runs here. */
class OtherSystemJobs {
  @OnJob(JobName.PurgeAuditLog)
  purgeAuditLog(): Promise<void> {
    return Promise.reject(new Error('no audit log purge runs in this test'));
  }

  @OnJob(JobName.GarbageCollection)
  collectGarbage(): Promise<void> {
    return Promise.reject(new Error('no garbage collection runs in this test'));
  }
}

const noop = { id: 'test', attempt: 1, signal: new AbortController().signal, log: async () => {} };

describe('schedules against PostgreSQL and Redis', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let runner: JobRunner;
  let service: ScheduleService;
  const fired: number[] = [];
  const connection = { host: '127.0.0.1', port: 6379, db: 0 };
  const prefix = `wharf-test:schedules:${randomUUID()}`;

  const schedulers = async () =>
    (await runner.queue(QueueName.System).getJobSchedulers(0, -1, true)).map((s) => `${s.key}=${s.pattern}`).sort();

  beforeAll(async () => {
    db = await createTestDatabase('wharf_schedule_spec');
    ds = createDataSource({ ...db, database: db.database });
    await ds.initialize();
    await runMigrations(ds);
    runner = new JobRunner({ connection, prefix });
    service = new ScheduleService(new ScheduleRepository(ds), runner);
    service.handle('PURGE_AUDIT_LOG', (schedule) => {
      fired.push(schedule.id);
      return Promise.resolve();
    });
  });

  afterAll(async () => {
    await runner?.queue(QueueName.System).obliterate({ force: true });
    await runner?.close();
    await ds?.destroy();
    await db?.drop();
  });

  it('arms a scheduler per row, and a Redis that lost them gets them back from PostgreSQL, strays removed', async () => {
    const daily = await service.set({ vendorType: 'PURGE_AUDIT_LOG' }, { type: 'Daily' }, { parameters: { a: 1 } });
    const custom = await service.set(
      { vendorType: 'RETENTION', vendorId: 7 },
      { type: 'Custom', cron: '0 */5 * * * *' },
    );
    expect(await schedulers()).toEqual([`schedule:${daily!.id}=0 0 0 * * *`, `schedule:${custom!.id}=0 */5 * * * *`]);

    // Redis loses its data; a scheduler of a deleted row is still there.
    const queue = runner.queue(QueueName.System);
    await queue.removeJobScheduler(`schedule:${daily!.id}`);
    await queue.removeJobScheduler(`schedule:${custom!.id}`);
    await queue.upsertJobScheduler('schedule:999999', { pattern: '0 0 * * * *', tz: 'UTC' });
    expect(await service.syncAll()).toBe(2);
    expect(await schedulers()).toEqual([`schedule:${daily!.id}=0 0 0 * * *`, `schedule:${custom!.id}=0 */5 * * * *`]);

    // Changing a schedule keeps its row and re-arms it; None removes both.
    const weekly = await service.set({ vendorType: 'PURGE_AUDIT_LOG' }, { type: 'Weekly' });
    expect(weekly!.id).toBe(daily!.id);
    await service.set({ vendorType: 'RETENTION', vendorId: 7 }, { type: 'None' });
    expect(await schedulers()).toEqual([`schedule:${daily!.id}=0 0 0 * * 0`]);
    expect(await service.get({ vendorType: 'RETENTION', vendorId: 7 })).toBeUndefined();
  });

  it('starts the vendor run when its time comes, and forgets a schedule deleted since', async () => {
    const schedule = await service.set({ vendorType: 'PURGE_AUDIT_LOG' }, { type: 'Hourly' });
    await service.fire({ scheduleId: schedule!.id }, noop);
    expect(fired).toEqual([schedule!.id]);
    await service.remove({ vendorType: 'PURGE_AUDIT_LOG' });
    await runner.queue(QueueName.System).upsertJobScheduler(`schedule:${schedule!.id}`, { pattern: '0 0 * * * *' });
    await service.fire({ scheduleId: schedule!.id }, noop);
    expect(fired).toEqual([schedule!.id]);
    expect(await schedulers()).toEqual([]);
  });

  it('drops the firings that fall due while SCHEDULED_RUN is paused, and on resume runs only those still to come', async () => {
    const skipped: unknown[] = [];
    const worker = new JobRunner({
      connection,
      prefix,
      pausePollMs: 100,
      tasks: new ExecutionRepository(ds),
      logger: {
        info: (fields, message) => void (message.includes('skipped') && skipped.push(fields)),
        error: () => undefined,
      },
    });
    const queue = runner.queue(QueueName.System);
    const pending = async () =>
      (await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized'])).filter(
        (job) => job.name === String(JobName.ScheduledRun),
      );
    const schedule = (await service.set({ vendorType: 'PURGE_AUDIT_LOG' }, { type: 'Hourly' }))!;
    const before = fired.length;
    try {
      await runner.pause([JobName.ScheduledRun]);
      await worker.start(JobHandlerRegistry.bind([service, new OtherSystemJobs()], { jobs: [JobName.ScheduledRun] }));
      // Its scheduler fires every 300 ms instead of hourly: a schedule's cron cannot be shorter than a minute.
      await queue.upsertJobScheduler(
        `schedule:${schedule.id}`,
        { every: 300 },
        { name: JobName.ScheduledRun, data: { scheduleId: schedule.id } },
      );
      const firings = async () => (await queue.getJobScheduler(`schedule:${schedule.id}`))?.iterationCount ?? 0;
      await waitFor(async () => (await firings()) >= 4, 'three firings due while paused');
      expect(fired.length).toBe(before);
      expect(skipped.length).toBeGreaterThanOrEqual(2);
      expect(skipped[0]).toMatchObject({ job: JobName.ScheduledRun, data: { scheduleId: schedule.id } });
      // None of them is held for later: at most the scheduler's next firing is waiting.
      expect((await pending()).length).toBeLessThanOrEqual(1);

      await runner.resume([JobName.ScheduledRun]);
      const skippedWhilePaused = skipped.length;
      await waitFor(() => fired.length > before, 'a firing after resume');
      await service.remove({ vendorType: 'PURGE_AUDIT_LOG' });
      await waitFor(async () => (await pending()).length === 0, 'no firing left');
      expect(fired.slice(before)).toEqual([schedule.id]);
      expect(skipped.length).toBe(skippedWhilePaused);
    } finally {
      await runner.resume([JobName.ScheduledRun]);
      await worker.close();
    }
  });

  it.each([
    [{ type: 'Custom', cron: '' }, 'needs a cron'],
    [{ type: 'Custom', cron: '5 0 * * * *' }, 'second field must be 0'],
    [{ type: 'Custom', cron: '0 0 25 * * *' }, 'hour'],
    [{ type: 'Manual' }, 'not a schedule'],
  ] as const)('refuses %j', (object, message) => {
    expect(() => scheduleTiming(object)).toThrow(ApiError);
    expect(() => scheduleTiming(object)).toThrow(message);
  });
});
