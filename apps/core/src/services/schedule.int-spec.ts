import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ScheduleRepository, createDataSource, runMigrations } from '@wharf/db';
import { JobRunner, QueueName } from '@wharf/jobs';
import { createTestDatabase, type TestDatabase } from '@wharf/testkit';
import { type DataSource } from 'typeorm';
import { ApiError } from '../errors/api-error.js';
import { ScheduleService, scheduleTiming } from './schedule.service.js';

const noop = { id: 'test', attempt: 1, signal: new AbortController().signal, log: async () => {} };

describe('schedules against PostgreSQL and Redis', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let runner: JobRunner;
  let service: ScheduleService;
  const fired: number[] = [];

  const schedulers = async () =>
    (await runner.queue(QueueName.System).getJobSchedulers(0, -1, true)).map((s) => `${s.key}=${s.pattern}`).sort();

  beforeAll(async () => {
    db = await createTestDatabase('wharf_schedule_spec');
    ds = createDataSource({ ...db, database: db.database });
    await ds.initialize();
    await runMigrations(ds);
    runner = new JobRunner({
      connection: { host: '127.0.0.1', port: 6379, db: 0 },
      prefix: `wharf-test:schedules:${randomUUID()}`,
    });
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
