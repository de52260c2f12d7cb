import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ExecutionRepository, createDataSource, runMigrations } from '@wharf/db';
import {
  type JobContext,
  JobHandlerRegistry,
  JobName,
  JobPayloadError,
  type JobPayload,
  JobRunner,
  OnJob,
} from '@wharf/jobs';
import { type TestDatabase, createTestDatabase, freePort } from '@wharf/testkit';
import { Redis } from 'ioredis';
import { TaskService } from './task.service.js';

const connection = { host: '127.0.0.1', port: Number(process.env.WHARF_TEST_REDIS_PORT ?? 6379), db: 0 };
const PREFIX = `wharf-test-task-service-${randomBytes(6).toString('hex')}`;

type Purge = (payload: JobPayload<JobName.UploadPurge>, context: JobContext) => unknown;

class Maintenance {
  constructor(private readonly purgeWith: Purge) {}

  @OnJob(JobName.UploadPurge)
  purge(payload: JobPayload<JobName.UploadPurge>, context: JobContext) {
    return this.purgeWith(payload, context);
  }

  @OnJob(JobName.EventTrim)
  trim() {}
}

async function waitFor(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('TaskService against PostgreSQL and Redis', () => {
  let db: TestDatabase;
  let ds: ReturnType<typeof createDataSource>;
  let executions: ExecutionRepository;
  let producer: JobRunner;
  let service: TaskService;
  let worker: JobRunner | undefined;

  async function startWorker(purge: Purge): Promise<void> {
    // A second runner stands for jobservice: it shares the queues, not the process.
    worker = new JobRunner({ connection, prefix: PREFIX, tasks: new ExecutionRepository(ds), stopPollMs: 60_000 });
    await worker.start(JobHandlerRegistry.bind([new Maintenance(purge)], { jobs: [JobName.UploadPurge] }));
  }

  beforeAll(async () => {
    db = await createTestDatabase('wharf_task_service');
    ds = createDataSource({ ...db, database: db.database });
    await ds.initialize();
    await runMigrations(ds);
    executions = new ExecutionRepository(ds);
    producer = new JobRunner({ connection, prefix: PREFIX });
    service = new TaskService(executions, producer);
  });

  afterEach(async () => {
    await worker?.close();
    worker = undefined;
  });

  afterAll(async () => {
    await producer?.close();
    const redis = new Redis(connection);
    const keys: string[] = [];
    for await (const batch of redis.scanStream({ match: `${PREFIX}:*`, count: 1000 }))
      keys.push(...(batch as string[]));
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await ds?.destroy();
    await db?.drop();
  });

  it('launches an execution with one task, queues its job with the task id, and the run is recorded', async () => {
    const received: unknown[] = [];
    await startWorker(async (payload, { log }) => {
      received.push(payload);
      await log('nothing to purge');
    });
    const { execution, tasks } = await service.launch({
      vendorType: 'UPLOAD_PURGE',
      trigger: 'MANUAL',
      jobName: JobName.UploadPurge,
      payload: { ageMs: 60_000 },
      extraAttrs: { operator: 'admin' },
    });
    expect(execution).toMatchObject({ vendorType: 'UPLOAD_PURGE', vendorId: -1, trigger: 'MANUAL' });
    expect(execution.extraAttrs).toEqual({ operator: 'admin' });
    expect(tasks).toHaveLength(1);
    expect(tasks[0].jobId).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor(async () => (await executions.getExecution(execution.id))!.status === 'Success', 'the run');
    expect(received).toEqual([{ taskId: tasks[0].id, ageMs: 60_000, dryRun: false }]);
    expect((await executions.taskLog(tasks[0].id))!.text).toBe('nothing to purge\n');
  });

  it('launches several tasks in one execution, and stops at once a task whose job is already queued', async () => {
    const { execution, tasks } = await service.launchMany({
      vendorType: 'UPLOAD_PURGE',
      trigger: 'SCHEDULE',
      jobName: JobName.UploadPurge,
      tasks: [
        { payload: { ageMs: 1000, dryRun: true }, extraAttrs: { n: 1 } },
        { payload: { ageMs: 1000 }, extraAttrs: { n: 2 } },
        { payload: { ageMs: 2000, dryRun: true }, extraAttrs: { n: 3 } },
      ],
    });
    expect(tasks.map((t) => [t.extraAttrs, t.status])).toEqual([
      [{ n: 1 }, 'Pending'],
      [{ n: 2 }, 'Pending'],
      [{ n: 3 }, 'Stopped'],
    ]);
    expect(tasks[2].jobId).toBeNull();
    expect(tasks[2].statusMessage).toBe(`not run: the same job is already waiting or running (job ${tasks[0].jobId})`);
    expect(execution.metrics).toMatchObject({ taskCount: 3, pendingTaskCount: 2, stoppedTaskCount: 1 });

    await startWorker(() => undefined);
    await waitFor(async () => (await executions.getExecution(execution.id))!.status === 'Stopped', 'both runs');
    expect((await executions.metrics(execution.id)).successTaskCount).toBe(2);
  });

  it('refuses a bad payload and creates nothing', async () => {
    const count = async () => (await ds.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM execution`))[0].n;
    const before = await count();
    await expect(
      service.launch({
        vendorType: 'UPLOAD_PURGE',
        trigger: 'MANUAL',
        jobName: JobName.UploadPurge,
        payload: { ageMs: -1 },
      }),
    ).rejects.toThrow(new JobPayloadError(JobName.UploadPurge, ['ageMs: Too small: expected number to be >0']));
    expect(await count()).toBe(before);
  });

  it('records the task as Error and throws when the job queue does not answer', async () => {
    const unreachable = new JobRunner({ connection: { ...connection, port: await freePort() }, prefix: PREFIX });
    const offline = new TaskService(executions, unreachable);
    offline.enqueueTimeoutMs = 300;
    try {
      await expect(
        offline.launch({
          vendorType: 'UPLOAD_PURGE',
          trigger: 'MANUAL',
          jobName: JobName.UploadPurge,
          payload: { ageMs: 1000 },
        }),
      ).rejects.toThrow('the job queue did not answer within 300 ms');
      const latest = await executions.listExecutions('UPLOAD_PURGE', undefined, { pageSize: 1 });
      expect(latest.items[0]).toMatchObject({ status: 'Error', metrics: { errorTaskCount: 1 } });
      const task = (await executions.listTasks(latest.items[0].id)).items[0];
      expect(task.statusMessage).toBe('could not be queued: the job queue did not answer within 300 ms');
    } finally {
      await unreachable.close();
    }
  });

  it('stops an execution: the task is Stopped and the handler running it in another process sees its signal', async () => {
    let started = false;
    let aborted = false;
    await startWorker(async (_, { signal }) => {
      started = true;
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      aborted = true;
    });
    const { execution, tasks } = await service.launch({
      vendorType: 'UPLOAD_PURGE',
      trigger: 'MANUAL',
      jobName: JobName.UploadPurge,
      payload: { ageMs: 1000 },
    });
    await waitFor(() => started, 'the run to start');
    const stopped = await service.stop(execution.id);
    expect(stopped?.status).toBe('Stopped');
    await waitFor(() => aborted, 'the handler to see its signal aborted', 5_000);
    expect((await executions.getTask(tasks[0].id))!.status).toBe('Stopped');
    expect(await service.stop(999_999)).toBeUndefined();
  });
});
