import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExecutionRepository, createDataSource, runMigrations } from '@wharf/db';
import { type TestDatabase, createTestDatabase } from '@wharf/testkit';
import { Redis } from 'ioredis';
import { JobName, QueueName } from './enum.js';
import { type JobPayload } from './job.declarations.js';
import { JobHandlerRegistry } from './job-handler.registry.js';
import { JobRunner, type JobRunnerOptions } from './job.runner.js';
import { type JobContext, OnJob } from './on-job.decorator.js';

const connection = { host: '127.0.0.1', port: Number(process.env.WHARF_TEST_REDIS_PORT ?? 6379), db: 0 };
const FILE_PREFIX = `wharf-test-tasks-${randomBytes(6).toString('hex')}`;
let testNumber = 0;

type Purge = (payload: JobPayload<JobName.UploadPurge>, context: JobContext) => unknown;

/** Handlers for every job on the maintenance queue; the upload purge (task-backed) does what the test asks. */
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

describe('task-backed jobs: the runner records each run in its task', () => {
  const runners: JobRunner[] = [];
  let prefix: string;
  let db: TestDatabase;
  let ds: ReturnType<typeof createDataSource>;
  let tasks: ExecutionRepository;

  function runner(options: Partial<JobRunnerOptions> = {}): JobRunner {
    const created = new JobRunner({ connection, prefix, backoffMs: 50, tasks, ...options });
    runners.push(created);
    return created;
  }

  async function newTask(): Promise<{ executionId: number; taskId: number }> {
    const execution = await tasks.createExecution({ vendorType: 'UPLOAD_PURGE', trigger: 'MANUAL' });
    return { executionId: execution.id, taskId: (await tasks.createTask(execution.id))!.id };
  }

  async function start(purge: Purge, options: Partial<JobRunnerOptions> = {}): Promise<JobRunner> {
    const worker = runner(options);
    await worker.start(JobHandlerRegistry.bind([new Maintenance(purge)], { jobs: [JobName.UploadPurge] }));
    return worker;
  }

  const status = async (taskId: number) => (await tasks.getTask(taskId))!.status;

  beforeAll(async () => {
    db = await createTestDatabase('wharf_task_jobs');
    ds = createDataSource({ ...db, database: db.database });
    await ds.initialize();
    await runMigrations(ds);
    tasks = new ExecutionRepository(ds, { maxLogChars: 400 });
  });

  beforeEach(() => {
    prefix = `${FILE_PREFIX}:${++testNumber}`;
  });

  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.close()));
  });

  afterAll(async () => {
    const redis = new Redis(connection);
    const keys: string[] = [];
    for await (const batch of redis.scanStream({ match: `${FILE_PREFIX}:*`, count: 1000 }))
      keys.push(...(batch as string[]));
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await ds?.destroy();
    await db?.drop();
  });

  it('records Running with the start time as revision while the handler runs, then Success, with its log', async () => {
    const { executionId, taskId } = await newTask();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let startedAt = 0;
    const worker = await start(async (_, { log }) => {
      startedAt = Date.now();
      await log('removed 2 sessions');
      await gate;
      await log('removed 1 orphan\n');
    });
    const before = Date.now();
    const { id } = await worker.enqueue(JobName.UploadPurge, { taskId, ageMs: 1000 });
    await waitFor(() => startedAt > 0, 'the purge to start');
    const running = (await tasks.getTask(taskId))!;
    expect(running).toMatchObject({ status: 'Running', runCount: 1, endTime: null });
    expect(running.statusRevision).toBeGreaterThanOrEqual(before);
    expect(running.statusRevision).toBeLessThanOrEqual(startedAt);
    expect(running.startTime).toBeInstanceOf(Date);
    release();
    await waitFor(async () => (await status(taskId)) === 'Success', 'the task to succeed');
    expect((await tasks.getExecution(executionId))!.status).toBe('Success');
    expect((await tasks.taskLog(taskId))!.text).toBe('removed 2 sessions\nremoved 1 orphan\n');
    expect(await worker.queue(QueueName.Maintenance).getJobState(id)).toBe('completed');
  });

  it('records Error with the message in the status and the log when the handler fails', async () => {
    const { executionId, taskId } = await newTask();
    let runs = 0;
    const worker = await start(() => {
      runs++;
      throw new TypeError('storage root is not a directory');
    });
    await worker.enqueue(JobName.UploadPurge, { taskId, ageMs: 1000 });
    await waitFor(async () => (await status(taskId)) === 'Error', 'the task to fail');
    expect(runs).toBe(1);
    expect((await tasks.getTask(taskId))!.statusMessage).toBe('TypeError: storage root is not a directory');
    expect((await tasks.taskLog(taskId))!.text).toBe('TypeError: storage root is not a directory\n');
    expect((await tasks.getExecution(executionId))!.status).toBe('Error');
  });

  it('runs a retryable failure again under a new revision, counting the runs, and logs each failed attempt', async () => {
    const { taskId } = await newTask();
    const revisions: number[] = [];
    const worker = await start(async (_, { attempt }) => {
      revisions.push((await tasks.getTask(taskId))!.statusRevision);
      if (attempt < 3) throw Object.assign(new Error('database went away'), { code: 'ECONNRESET' });
    });
    await worker.enqueue(JobName.UploadPurge, { taskId, ageMs: 1000 });
    await waitFor(async () => (await status(taskId)) === 'Success', 'the task to succeed');
    const task = (await tasks.getTask(taskId))!;
    expect(task.runCount).toBe(3);
    expect(revisions).toHaveLength(3);
    expect(revisions[1]).toBeGreaterThan(revisions[0]);
    expect(revisions[2]).toBeGreaterThan(revisions[1]);
    expect(task.statusRevision).toBe(revisions[2]);
    expect((await tasks.taskLog(taskId))!.text).toBe(
      'attempt 1 of 3 failed: Error: database went away; trying again\n' +
        'attempt 2 of 3 failed: Error: database went away; trying again\n',
    );
  });

  it('aborts the signal of a run when another process stops its execution, and keeps the task Stopped', async () => {
    const { executionId, taskId } = await newTask();
    let aborted = false;
    let started = false;
    // No status poll within the test: the notice alone must reach the handler.
    const worker = await start(
      async (_, { signal }) => {
        started = true;
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        aborted = true;
      },
      { stopPollMs: 60_000 },
    );
    const { id } = await worker.enqueue(JobName.UploadPurge, { taskId, ageMs: 1000 });
    await tasks.setTaskJobId(taskId, id);
    await waitFor(() => started, 'the purge to start');

    // Another process (core) records the stop and tells the runners.
    const controller = runner();
    const stopped = await tasks.stopExecution(executionId);
    expect(stopped!.jobIds).toEqual([id]);
    await controller.cancel(stopped!.jobIds);
    await waitFor(() => aborted, 'the handler to see its signal aborted', 5_000);
    await waitFor(
      async () => (await worker.queue(QueueName.Maintenance).getJobState(id)) === 'completed',
      'the job to end',
    );
    expect(await status(taskId)).toBe('Stopped');
    expect((await tasks.getExecution(executionId))!.status).toBe('Stopped');
  });

  it('ends a stopped run at its next status poll when the stop notice is missed', async () => {
    const { executionId, taskId } = await newTask();
    let aborted = false;
    let started = false;
    await start(
      async (_, { signal }) => {
        started = true;
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        aborted = true;
      },
      { stopPollMs: 100 },
    );
    await runner().enqueue(JobName.UploadPurge, { taskId, ageMs: 1000 });
    await waitFor(() => started, 'the purge to start');
    // Recorded, but nobody publishes the notice.
    await tasks.stopExecution(executionId);
    await waitFor(() => aborted, 'the handler to see its signal aborted', 3_000);
    expect(await status(taskId)).toBe('Stopped');
  });

  it('removes a waiting job that is stopped, so it never runs', async () => {
    const { executionId, taskId } = await newTask();
    const producer = runner();
    const { id } = await producer.enqueue(JobName.UploadPurge, { taskId, ageMs: 1000 });
    await tasks.setTaskJobId(taskId, id);
    const stopped = await tasks.stopExecution(executionId);
    await producer.cancel(stopped!.jobIds);
    expect(await producer.queue(QueueName.Maintenance).getJobState(id)).toBe('unknown');
    let runs = 0;
    await start(() => void runs++);
    await sleep(300);
    expect(runs).toBe(0);
  });

  it('does not run a job whose task has already ended', async () => {
    const { executionId, taskId } = await newTask();
    await tasks.stopExecution(executionId);
    let runs = 0;
    const worker = await start(() => void runs++);
    const { id } = await worker.enqueue(JobName.UploadPurge, { taskId, ageMs: 1000 });
    await waitFor(async () => (await worker.queue(QueueName.Maintenance).getJobState(id)) === 'completed', 'the job');
    expect(runs).toBe(0);
    expect(await status(taskId)).toBe('Stopped');
  });

  it('aborts the signal at shutdown, and a run that may be repeated runs again in another process', async () => {
    const { taskId } = await newTask();
    const seen: Array<{ attempt: number; aborted: boolean }> = [];
    let first!: () => void;
    const firstStarted = new Promise<void>((resolve) => (first = resolve));
    const purge: Purge = async (_, { attempt, signal }) => {
      const entry = { attempt, aborted: false };
      seen.push(entry);
      if (attempt > 1) return;
      first();
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      entry.aborted = true;
    };
    const leaving = await start(purge);
    await leaving.enqueue(JobName.UploadPurge, { taskId, ageMs: 1000 });
    await firstStarted;
    await leaving.close();
    expect(seen).toEqual([{ attempt: 1, aborted: true }]);
    expect(await status(taskId)).toBe('Running');

    await start(purge);
    await waitFor(async () => (await status(taskId)) === 'Success', 'the second run to succeed');
    expect(seen.map((s) => s.attempt)).toEqual([1, 2]);
    expect((await tasks.getTask(taskId))!.runCount).toBe(2);
    expect((await tasks.taskLog(taskId))!.text).toBe('the worker shut down during the run; it runs again\n');
  });

  it('refuses to start task-backed jobs without a task store', async () => {
    const worker = new JobRunner({ connection, prefix });
    runners.push(worker);
    await expect(
      worker.start(JobHandlerRegistry.bind([new Maintenance(() => undefined)], { jobs: [JobName.UploadPurge] })),
    ).rejects.toThrow('a runner of task-backed jobs needs a task store');
  });
});
