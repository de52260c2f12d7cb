import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExecutionRepository, createDataSource, runMigrations } from '@wharf/db';
import { type TestDatabase, createTestDatabase } from '@wharf/testkit';
import { Redis } from 'ioredis';
import { JobName, QueueName } from './enum.js';
import { JobPayloadError } from './errors.js';
import { type JobPayload } from './job.declarations.js';
import { JobHandlerRegistry } from './job-handler.registry.js';
import { JobRunner, type JobRunnerOptions } from './job.runner.js';
import { type JobContext, OnJob } from './on-job.decorator.js';

const connection = { host: '127.0.0.1', port: Number(process.env.WHARF_TEST_REDIS_PORT ?? 6379), db: 0 };
const FILE_PREFIX = `wharf-test-jobs-${randomBytes(6).toString('hex')}`;
let testNumber = 0;

type Callback<N extends JobName> = (payload: JobPayload<N>, context: JobContext) => unknown;

/** One handler per declared job, each doing what the test asks. */
class Handlers {
  constructor(
    private readonly on: {
      purge?: Callback<JobName.UploadPurge>;
      trim?: Callback<JobName.EventTrim>;
      deliver?: Callback<JobName.OutboxDelivery>;
    } = {},
  ) {}

  @OnJob(JobName.UploadPurge)
  purge(payload: JobPayload<JobName.UploadPurge>, context: JobContext) {
    return this.on.purge?.(payload, context);
  }

  @OnJob(JobName.EventTrim)
  trim(payload: JobPayload<JobName.EventTrim>, context: JobContext) {
    return this.on.trim?.(payload, context);
  }

  @OnJob(JobName.OutboxDelivery)
  deliver(payload: JobPayload<JobName.OutboxDelivery>, context: JobContext) {
    return this.on.deliver?.(payload, context);
  }

  @OnJob(JobName.PurgeAuditLog)
  purgeAuditLog() {}

  @OnJob(JobName.ScheduledRun)
  fire() {}

  @OnJob(JobName.GarbageCollection)
  collect() {}
  @OnJob(JobName.Retention)
  retain() {}

  @OnJob(JobName.ScanArtifact)
  scan() {}
}

function transient(message: string): Error {
  return Object.assign(new Error(message), { code: 'ECONNRESET' });
}

async function waitFor(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('JobRunner on Redis', () => {
  const runners: JobRunner[] = [];
  let prefix: string;
  let db: TestDatabase;
  let ds: ReturnType<typeof createDataSource>;
  let tasks: ExecutionRepository;

  /** A task for an upload purge (a task-backed job) to run in. */
  async function newTask(): Promise<number> {
    const execution = await tasks.createExecution({ vendorType: 'UPLOAD_PURGE', trigger: 'MANUAL' });
    return (await tasks.createTask(execution.id))!.id;
  }

  beforeAll(async () => {
    db = await createTestDatabase('wharf_job_runner');
    ds = createDataSource({ ...db, database: db.database });
    await ds.initialize();
    await runMigrations(ds);
    tasks = new ExecutionRepository(ds);
  });

  function runner(options: Partial<JobRunnerOptions> = {}): JobRunner {
    const created = new JobRunner({ connection, prefix, backoffMs: 50, tasks, ...options });
    runners.push(created);
    return created;
  }

  let inspector: JobRunner | undefined;
  async function counts(queue: QueueName) {
    inspector ??= runner();
    return inspector.queue(queue).getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
  }

  beforeEach(() => {
    prefix = `${FILE_PREFIX}:${++testNumber}`;
    inspector = undefined;
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

  it('refuses an invalid payload with the faults named, and enqueues nothing', async () => {
    const producer = runner();
    await expect(producer.enqueue(JobName.UploadPurge, { ageMs: -5, extra: 1 } as never)).rejects.toThrow(
      new JobPayloadError(JobName.UploadPurge, [
        'taskId: Invalid input: expected number, received undefined',
        'ageMs: Too small: expected number to be >0',
        'payload: Unrecognized key: "extra"',
      ]),
    );
    await expect(producer.enqueue('NO_SUCH_JOB' as JobName, {})).rejects.toThrow(JobPayloadError);
    expect(await counts(QueueName.Maintenance)).toEqual({ waiting: 0, active: 0, completed: 0, failed: 0, delayed: 0 });
  });

  it('gives the handler its parsed payload, defaults applied', async () => {
    const received: Array<[unknown, JobContext]> = [];
    const worker = runner();
    await worker.start(JobHandlerRegistry.bind([new Handlers({ purge: (p, c) => void received.push([p, c]) })]));
    const taskId = await newTask();
    const { id } = await worker.enqueue(JobName.UploadPurge, { taskId, ageMs: 60_000 });
    await waitFor(() => received.length === 1, 'the purge to run');
    expect(received).toEqual([
      [
        { taskId, ageMs: 60_000, dryRun: false },
        { id, attempt: 1, signal: expect.any(AbortSignal) as unknown, log: expect.any(Function) as unknown },
      ],
    ]);
  });

  it('drops a job whose deduplication id is waiting or running, and takes it again once done', async () => {
    const producer = runner();
    const [t1, t2, t3] = [await newTask(), await newTask(), await newTask()];
    const first = await producer.enqueue(JobName.UploadPurge, { taskId: t1, ageMs: 1 });
    const again = await producer.enqueue(JobName.UploadPurge, { taskId: t2, ageMs: 2, dryRun: false });
    const dryRun = await producer.enqueue(JobName.UploadPurge, { taskId: t3, ageMs: 1, dryRun: true });
    expect([first.added, again.added, dryRun.added]).toEqual([true, false, true]);
    expect(again.id).toBe(first.id);
    expect((await counts(QueueName.Maintenance)).waiting).toBe(2);

    const ran: unknown[] = [];
    await runner().start(JobHandlerRegistry.bind([new Handlers({ purge: (p) => void ran.push(p) })]));
    await waitFor(async () => (await counts(QueueName.Maintenance)).completed === 2, 'both purges');
    expect(ran).toEqual([
      { taskId: t1, ageMs: 1, dryRun: false },
      { taskId: t3, ageMs: 1, dryRun: true },
    ]);
    expect((await producer.enqueue(JobName.UploadPurge, { taskId: await newTask(), ageMs: 3 })).added).toBe(true);
  });

  it('retries a retryable error with backoff until it succeeds', async () => {
    const attempts: Array<[number, number]> = [];
    const worker = runner();
    await worker.start(
      JobHandlerRegistry.bind([
        new Handlers({
          trim: (_, { attempt }) => {
            attempts.push([attempt, Date.now()]);
            if (attempt < 3) throw transient('database went away');
          },
        }),
      ]),
    );
    await worker.enqueue(JobName.EventTrim, {});
    await waitFor(async () => (await counts(QueueName.Maintenance)).completed === 1, 'the trim to succeed');
    expect(attempts.map(([attempt]) => attempt)).toEqual([1, 2, 3]);
    // Exponential from 50 ms: at least 50 ms, then at least 100 ms between attempts.
    expect(attempts[1][1] - attempts[0][1]).toBeGreaterThanOrEqual(45);
    expect(attempts[2][1] - attempts[1][1]).toBeGreaterThanOrEqual(95);
  });

  it('fails a retryable error for good after maxFails attempts', async () => {
    let runs = 0;
    const worker = runner();
    await worker.start(
      JobHandlerRegistry.bind([
        new Handlers({
          deliver: () => {
            runs++;
            throw transient('audit database unreachable');
          },
        }),
      ]),
    );
    const { id } = await worker.enqueue(JobName.OutboxDelivery, { upToId: 1 });
    await waitFor(async () => (await counts(QueueName.Events)).failed === 1, 'the delivery to fail');
    expect(runs).toBe(5);
    expect((await worker.queue(QueueName.Events).getJob(id))?.failedReason).toBe('audit database unreachable');
  });

  it('fails a non-retryable error at once', async () => {
    let runs = 0;
    const worker = runner();
    await worker.start(
      JobHandlerRegistry.bind([
        new Handlers({
          deliver: () => {
            runs++;
            throw new TypeError('event row has no payload');
          },
        }),
      ]),
    );
    const { id } = await worker.enqueue(JobName.OutboxDelivery, { upToId: 1 });
    await waitFor(async () => (await counts(QueueName.Events)).failed === 1, 'the delivery to fail');
    await sleep(300);
    expect(runs).toBe(1);
    expect((await worker.queue(QueueName.Events).getJob(id))?.failedReason).toBe('TypeError: event row has no payload');
  });

  it('fails at once a job whose stored payload its schema refuses, without calling the handler', async () => {
    let runs = 0;
    const worker = runner();
    await worker.start(JobHandlerRegistry.bind([new Handlers({ purge: () => void runs++ })]));
    // As a producer that bypasses enqueue (another version, a hand-written add) would store it.
    const job = await worker.queue(QueueName.Maintenance).add(JobName.UploadPurge, { ageMs: 'soon' }, { attempts: 3 });
    await waitFor(async () => (await counts(QueueName.Maintenance)).failed === 1, 'the purge to fail');
    expect(runs).toBe(0);
    expect((await worker.queue(QueueName.Maintenance).getJob(job.id!))?.failedReason).toBe(
      `invalid payload for job ${JobName.UploadPurge}: taskId: Invalid input: expected number, received undefined; ` +
        'ageMs: Invalid input: expected number, received string',
    );
    expect((await worker.queue(QueueName.Maintenance).getJob(job.id!))?.attemptsMade).toBe(1);
  });

  async function peakConcurrency(options: Partial<JobRunnerOptions>, jobs: number): Promise<number> {
    let active = 0;
    let peak = 0;
    let done = 0;
    const worker = runner(options);
    await worker.start(
      JobHandlerRegistry.bind([
        new Handlers({
          deliver: async () => {
            peak = Math.max(peak, ++active);
            await sleep(100);
            active--;
            done++;
          },
        }),
      ]),
    );
    for (let i = 1; i <= jobs; i++) await worker.enqueue(JobName.OutboxDelivery, { upToId: i });
    await waitFor(() => done === jobs, 'every delivery');
    return peak;
  }

  it('runs a queue with its declared concurrency', async () => {
    expect(await peakConcurrency({}, 4)).toBe(1);
  });

  it('runs a queue with the concurrency a process sets', async () => {
    expect(await peakConcurrency({ concurrency: { [QueueName.Events]: 3 } }, 9)).toBe(3);
  });

  it('shares the work of one queue between two runners, each job run once', async () => {
    const runs: Array<[string, number]> = [];
    const handlers = (who: string) =>
      new Handlers({
        deliver: async ({ upToId }) => {
          runs.push([who, upToId!]);
          await sleep(20);
        },
      });
    const a = runner({ concurrency: { [QueueName.Events]: 2 } });
    const b = runner({ concurrency: { [QueueName.Events]: 2 } });
    await a.start(JobHandlerRegistry.bind([handlers('a')], { jobs: [JobName.OutboxDelivery] }));
    await b.start(JobHandlerRegistry.bind([handlers('b')], { jobs: [JobName.OutboxDelivery] }));
    const total = 40;
    for (let i = 1; i <= total; i++) await (i % 2 ? a : b).enqueue(JobName.OutboxDelivery, { upToId: i });
    await waitFor(async () => (await counts(QueueName.Events)).completed === total, 'every delivery');
    await sleep(200);
    expect(runs.map(([, id]) => id).sort((x, y) => x - y)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(runs.some(([who]) => who === 'a')).toBe(true);
    expect(runs.some(([who]) => who === 'b')).toBe(true);
  });

  it('holds the jobs of a paused type, for every runner, runs the other types of its queue, and runs them on resume', async () => {
    const ran: string[] = [];
    const producer = runner();
    const before = Date.now();
    await producer.pause([JobName.EventTrim]);
    const paused = await producer.pausedJobTypes();
    expect([...paused.keys()]).toEqual([JobName.EventTrim]);
    expect(paused.get(JobName.EventTrim)).toBeGreaterThanOrEqual(before);
    expect(paused.get(JobName.EventTrim)).toBeLessThanOrEqual(Date.now());
    // Pausing again keeps the time it was first paused.
    await sleep(5);
    await producer.pause([JobName.EventTrim]);
    expect((await producer.pausedJobTypes()).get(JobName.EventTrim)).toBe(paused.get(JobName.EventTrim));
    const worker = runner({ pausePollMs: 100 });
    await worker.start(
      JobHandlerRegistry.bind([
        new Handlers({ trim: () => void ran.push('trim'), purge: () => void ran.push('purge') }),
      ]),
    );
    const trim = await producer.enqueue(JobName.EventTrim, {});
    await producer.enqueue(JobName.UploadPurge, { taskId: await newTask(), ageMs: 1 });
    await waitFor(() => ran.includes('purge'), 'the purge');
    // Taken and put back several times over, and never run nor counted as an attempt.
    await sleep(500);
    expect(ran).toEqual(['purge']);
    const held = await producer.queue(QueueName.Maintenance).getJob(trim.id);
    expect(['delayed', 'waiting', 'active']).toContain(await held?.getState());
    expect(held?.attemptsMade).toBe(0);
    expect(held?.processedOn).toBeGreaterThan(0);

    await producer.resume([JobName.EventTrim]);
    expect((await producer.pausedJobTypes()).size).toBe(0);
    await waitFor(() => ran.includes('trim'), 'the trim after resume');
    expect(ran).toEqual(['purge', 'trim']);
  });

  it('works only the queues of the jobs it was started with', async () => {
    const worker = runner();
    await worker.start(JobHandlerRegistry.bind([new Handlers()], { jobs: [JobName.OutboxDelivery] }));
    await worker.enqueue(JobName.EventTrim, {});
    await worker.enqueue(JobName.OutboxDelivery, {});
    await waitFor(async () => (await counts(QueueName.Events)).completed === 1, 'the delivery');
    expect((await counts(QueueName.Maintenance)).waiting).toBe(1);
  });

  it('waits on close for the handler that is running', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = false;
    let finished = false;
    const worker = runner();
    await worker.start(
      JobHandlerRegistry.bind([
        new Handlers({
          deliver: async () => {
            started = true;
            await gate;
            finished = true;
          },
        }),
      ]),
    );
    const { id } = await worker.enqueue(JobName.OutboxDelivery, {});
    await waitFor(() => started, 'the delivery to start');

    let closed = false;
    const closing = worker.close().then(() => (closed = true));
    await sleep(300);
    expect(closed).toBe(false);
    release();
    await closing;
    expect(finished).toBe(true);
    expect(await runner().queue(QueueName.Events).getJobState(id)).toBe('completed');
  });
});
