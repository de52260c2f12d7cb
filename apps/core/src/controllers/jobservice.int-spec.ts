import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { redisConnection } from '@wharf/config';
import { ExecutionRepository } from '@wharf/db';
import {
  type Heartbeat,
  type JobContext,
  JobHandlerRegistry,
  JobName,
  JobRunner,
  OnJob,
  QUEUES,
  QueueName,
  heartbeatKey,
} from '@wharf/jobs';
import { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { ScheduleService } from '../services/schedule.service.js';
import { SystemJobService } from '../services/system-job.service.js';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type Credentials, type TestCore, startTestCore } from '../testing/test-core.js';

interface JobQueue {
  job_type: string;
  count: number;
  latency: number;
  paused: boolean;
}

interface ScheduleTask {
  id: number;
  vendor_type: string;
  vendor_id: number;
  cron: string;
  update_time: string;
}

// A real server, PostgreSQL, Redis and a worker that runs the jobs, as jobservice would.
jest.setTimeout(90_000);

describe('job service dashboard API', () => {
  let core: TestCore;
  let contract: HarborContract;
  let worker: JobRunner;
  let executions: ExecutionRepository;

  const api = <T = unknown>(method: string, path: string, auth: Credentials | undefined = core.admin, body?: unknown) =>
    core.request<T>(method, `/api/v2.0${path}`, { auth, body });

  const finishedGc = (id: number) => runStatus(api, `/system/gc/${id}`, ['Success', 'Error', 'Stopped']);
  const queues = async () => {
    const response = await api<JobQueue[]>('GET', '/jobservice/queues');
    expect(response.status).toBe(200);
    for (const queue of response.body) contract.assertValid('JobQueue', queue);
    return Object.fromEntries(response.body.map((queue) => [queue.job_type, queue]));
  };

  /** The SCHEDULED_RUN jobs its schedulers have queued for later. */
  const schedulerJobs = async () =>
    (await worker.queue(QueueName.System).getJobs(['delayed'], 0, -1)).filter(
      (job) => job?.name === String(JobName.ScheduledRun) && job.timestamp + (job.opts.delay ?? 0) > Date.now(),
    ).length;

  beforeAll(async () => {
    core = await startTestCore();
    contract = await harborContract();
    executions = new ExecutionRepository(core.server.app.get(DataSource));
    worker = new JobRunner({
      connection: redisConnection(core.config, core.config.redis.jobserviceDb),
      prefix: core.jobPrefix,
      tasks: executions,
      stopPollMs: 200,
      pausePollMs: 100,
    });
    await worker.start(
      JobHandlerRegistry.bind([core.server.app.get(SystemJobService), core.server.app.get(ScheduleService)], {
        jobs: [JobName.GarbageCollection],
      }),
    );
  });

  afterAll(async () => {
    await worker?.close();
    await core?.close();
  });

  it("answers a job's log by the job id its task recorded, as text, and 404 for a job of no task", async () => {
    const started = await api('POST', '/system/gc/schedule', core.admin, {
      schedule: { type: 'Manual' },
      parameters: { dry_run: true, time_window: 0 },
    });
    expect(started.status).toBe(201);
    const runId = Number(started.headers.get('location')?.split('/').at(-1));
    expect(await finishedGc(runId)).toBe('Success');
    const task = (await executions.listTasks(runId)).items[0];
    expect(task?.jobId).toEqual(expect.any(String));

    const log = await api<string>('GET', `/jobservice/jobs/${task.jobId}/log`);
    expect(log.status).toBe(200);
    expect(log.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(log.text).toMatch(/dry run/i);
    expect(log.text).toBe((await api<string>('GET', `/system/gc/${runId}/log`)).text);

    const unknown = await api<{ errors: { code: string }[] }>('GET', '/jobservice/jobs/no-such-job/log');
    expect(unknown.status).toBe(404);
    expect(unknown.body.errors[0]?.code).toBe('NOT_FOUND');
    expect((await api('GET', '/jobservice/jobs/bad%20id/log')).status).toBe(400);
  });

  it('lists the schedules with their vendor, cron and last change, a page at a time', async () => {
    const weekly = { schedule: { type: 'Weekly' }, parameters: { dry_run: true } };
    expect((await api('PUT', '/system/gc/schedule', core.admin, weekly)).status).toBe(200);
    const daily = {
      schedule: { type: 'Daily' },
      parameters: { audit_retention_hour: 24, include_event_types: 'pull' },
    };
    expect((await api('PUT', '/system/purgeaudit/schedule', core.admin, daily)).status).toBe(200);

    const all = await api<ScheduleTask[]>('GET', '/schedules');
    expect(all.status).toBe(200);
    expect(all.headers.get('x-total-count')).toBe('2');
    for (const item of all.body) contract.assertValid('ScheduleTask', item);
    expect(all.body).toEqual([
      {
        id: expect.any(Number),
        vendor_type: 'GARBAGE_COLLECTION',
        vendor_id: -1,
        cron: '0 0 0 * * 0',
        update_time: expect.any(String),
      },
      {
        id: expect.any(Number),
        vendor_type: 'PURGE_AUDIT_LOG',
        vendor_id: -1,
        cron: '0 0 0 * * *',
        update_time: expect.any(String),
      },
    ]);
    expect(Date.now() - Date.parse(all.body[0].update_time)).toBeLessThan(60_000);

    const second = await api<ScheduleTask[]>('GET', '/schedules?page=2&page_size=1');
    expect(second.body.map((s) => s.vendor_type)).toEqual(['PURGE_AUDIT_LOG']);
    expect(second.headers.get('link')).toContain('rel="prev"');
    expect((await api('GET', '/schedules?page_size=0')).status).toBe(400);

    expect((await api('PUT', '/system/gc/schedule', core.admin, { schedule: { type: 'None' } })).status).toBe(200);
    expect((await api<ScheduleTask[]>('GET', '/schedules')).body.map((s) => s.vendor_type)).toEqual([
      'PURGE_AUDIT_LOG',
    ]);
  });

  it('holds the jobs of a paused job type until it is resumed, and says so in the queue list', async () => {
    expect((await api('PUT', '/jobservice/queues/GARBAGE_COLLECTION', core.admin, { action: 'pause' })).status).toBe(
      200,
    );
    const started = await api('POST', '/system/gc/schedule', core.admin, {
      schedule: { type: 'Manual' },
      parameters: { dry_run: true },
    });
    expect(started.status).toBe(201);
    const runId = Number(started.headers.get('location')?.split('/').at(-1));
    await sleep(1_200);
    expect(await taskStatus(executions, runId)).toBe('Pending');
    let held = await queues();
    expect(Object.keys(held).sort()).toEqual(Object.values(JobName).sort());
    expect(held.GARBAGE_COLLECTION).toMatchObject({ count: 1, paused: true });
    expect(held.GARBAGE_COLLECTION.latency).toBeGreaterThanOrEqual(1);
    expect(held.PURGE_AUDIT_LOG).toEqual({ job_type: 'PURGE_AUDIT_LOG', count: 0, latency: 0, paused: false });
    // A daily schedule has its next run queued for later: not waiting yet.
    const daily = {
      schedule: { type: 'Daily' },
      parameters: { audit_retention_hour: 24, include_event_types: 'pull' },
    };
    expect((await api('PUT', '/system/purgeaudit/schedule', core.admin, daily)).status).toBe(200);
    expect(await schedulerJobs()).toBeGreaterThan(0);
    held = await queues();
    expect(held.SCHEDULED_RUN).toMatchObject({ count: 0, latency: 0 });
    expect((await api('PUT', '/system/purgeaudit/schedule', core.admin, { schedule: { type: 'None' } })).status).toBe(
      200,
    );
    expect((await api('GET', '/schedules/all/paused')).body).toEqual({ paused: false });

    expect((await api('PUT', '/jobservice/queues/GARBAGE_COLLECTION', core.admin, { action: 'resume' })).status).toBe(
      200,
    );
    expect(await finishedGc(runId)).toBe('Success');
    expect((await queues()).GARBAGE_COLLECTION).toEqual({
      job_type: 'GARBAGE_COLLECTION',
      count: 0,
      latency: 0,
      paused: false,
    });
  });

  it("pauses every job type with 'all', which pauses the schedules, and refuses what it does not know", async () => {
    expect((await api('PUT', '/jobservice/queues/all', core.admin, { action: 'pause' })).status).toBe(200);
    expect(Object.values(await queues()).every((queue) => queue.paused)).toBe(true);
    expect((await api('GET', '/schedules/all/paused')).body).toEqual({ paused: true });
    expect((await api('GET', '/schedules/ALL/paused')).body).toEqual({ paused: true });
    const specific = await api<{ errors: { message: string }[] }>('GET', '/schedules/SCHEDULED_RUN/paused');
    expect(specific.status).toBe(400);
    expect(specific.body.errors[0]?.message).toContain("'all'");

    expect((await api('PUT', '/jobservice/queues/NO_SUCH_JOB', core.admin, { action: 'resume' })).status).toBe(404);
    expect((await api('PUT', '/jobservice/queues/all', core.admin, { action: 'restart' })).status).toBe(400);
    expect((await api('PUT', '/jobservice/queues/all', core.admin, {})).status).toBe(400);
    expect((await api('GET', '/schedules/all/paused')).body).toEqual({ paused: true });

    expect((await api('PUT', '/jobservice/queues/all', core.admin, { action: 'resume' })).status).toBe(200);
    expect(Object.values(await queues()).some((queue) => queue.paused)).toBe(false);
    expect((await api('GET', '/schedules/all/paused')).body).toEqual({ paused: false });
  });
});

/** Garbage collection and event trims that run until they are stopped; the other jobs of their queues do nothing. */
class Blocking {
  readonly trims: AbortSignal[] = [];

  @OnJob(JobName.GarbageCollection)
  collect(_payload: unknown, { signal }: JobContext) {
    return untilAborted(signal);
  }

  @OnJob(JobName.EventTrim)
  trim(_payload: unknown, { signal }: JobContext) {
    this.trims.push(signal);
    return untilAborted(signal);
  }

  @OnJob(JobName.PurgeAuditLog)
  purge() {}

  @OnJob(JobName.ScheduledRun)
  fire() {}

  @OnJob(JobName.UploadPurge)
  purgeUploads() {}
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** The status of the one task of a system job's run (the run itself shows Running while its task waits). */
async function taskStatus(executions: ExecutionRepository, runId: number): Promise<string | undefined> {
  return (await executions.listTasks(runId)).items[0]?.status;
}

async function runStatus(
  api: <T>(method: string, path: string) => Promise<{ body: T }>,
  path: string,
  wanted: string[],
): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { job_status } = (await api<{ job_status: string }>('GET', path)).body;
    if (wanted.includes(job_status)) return job_status;
    if (Date.now() > deadline) throw new Error(`${path} still ${job_status}`);
    await sleep(100);
  }
}

interface WorkerPool {
  worker_pool_id: string;
  pid: number;
  host: string;
  start_at: string;
  heartbeat_at: string;
  concurrency: number;
}

interface Worker {
  id: string;
  pool_id: string;
  job_name: string;
  job_id: string;
  start_at?: string;
}

describe('worker pools and stopping job types', () => {
  let core: TestCore;
  let contract: HarborContract;
  let worker: JobRunner;
  let executions: ExecutionRepository;
  let redis: Redis;
  const handlers = new Blocking();
  // A jobservice process of this test's own, as jobservice names itself and beats; others may share the database.
  const host = `test-${randomBytes(6).toString('hex')}`;
  const pool = `${host}:${process.pid}`;
  const idle = `${host}-idle`;
  const beat: Heartbeat = {
    host,
    pid: process.pid,
    startedAt: new Date(Date.now() - 60_000).toISOString(),
    beatAt: new Date().toISOString(),
    jobTypes: [],
  };

  const api = <T = unknown>(method: string, path: string, body?: unknown) =>
    core.request<T>(method, `/api/v2.0${path}`, { auth: core.admin, body });
  const count = async (type: string) =>
    (await api<JobQueue[]>('GET', '/jobservice/queues')).body.find((queue) => queue.job_type === type)?.count;

  beforeAll(async () => {
    core = await startTestCore();
    executions = new ExecutionRepository(core.server.app.get(DataSource));
    worker = new JobRunner({
      connection: redisConnection(core.config, core.config.redis.jobserviceDb),
      prefix: core.jobPrefix,
      tasks: executions,
      stopPollMs: 200,
      pausePollMs: 100,
      name: pool,
    });
    const registry = JobHandlerRegistry.bind([handlers], { jobs: [JobName.GarbageCollection, JobName.EventTrim] });
    await worker.start(registry);
    contract = await harborContract();
    redis = new Redis({ host: '127.0.0.1', port: 6379, db: core.config.redis.jobserviceDb });
    beat.jobTypes = registry.jobs.sort();
    await redis.set(heartbeatKey(host, process.pid), JSON.stringify(beat), 'EX', 120);
    // A second process working the same queues, idle.
    await redis.set(heartbeatKey(idle, 1), JSON.stringify({ ...beat, host: idle, pid: 1 }), 'EX', 120);
  });

  afterAll(async () => {
    await redis?.del(heartbeatKey(host, process.pid), heartbeatKey(idle, 1));
    await redis?.quit();
    await worker?.close();
    await core?.close();
  });

  it('shows a pool per live jobservice process and its workers, one per slot, with the job running in each', async () => {
    const pools = await api<WorkerPool[]>('GET', '/jobservice/pools');
    expect(pools.status).toBe(200);
    for (const item of pools.body) contract.assertValid('WorkerPool', item);
    const slots = QUEUES[QueueName.System].concurrency + QUEUES[QueueName.Maintenance].concurrency;
    expect(pools.body.find((p) => p.worker_pool_id === pool)).toEqual({
      worker_pool_id: pool,
      pid: process.pid,
      host,
      start_at: beat.startedAt,
      heartbeat_at: beat.beatAt,
      concurrency: slots,
    });

    const gc = await api('POST', '/system/gc/schedule', { schedule: { type: 'Manual' } });
    expect(gc.status).toBe(201);
    const gcId = Number(gc.headers.get('location')?.split('/').at(-1));
    for (let i = 0; i < 100 && (await taskStatus(executions, gcId)) !== 'Running'; i++) await sleep(100);
    const task = (await executions.listTasks(gcId)).items[0];
    expect(task.status).toBe('Running');

    const workers = await api<Worker[]>('GET', `/jobservice/pools/${pool}/workers`);
    expect(workers.status).toBe(200);
    for (const item of workers.body) contract.assertValid('Worker', item);
    expect(workers.body.map((w) => w.id).sort()).toEqual(
      [`${pool}:maintenance:1`, `${pool}:system:1`, `${pool}:system:2`].sort(),
    );
    expect(workers.body.length).toBe(slots);
    const busy = workers.body.filter((w) => w.job_id !== '');
    expect(busy).toEqual([
      {
        id: `${pool}:system:1`,
        pool_id: pool,
        job_name: 'GARBAGE_COLLECTION',
        job_id: task.jobId,
        start_at: expect.any(String),
      },
    ]);
    expect(Math.abs(Date.parse(busy[0].start_at!) - task.startTime!.getTime())).toBeLessThan(5_000);
    expect(workers.body.filter((w) => w.job_id === '').every((w) => w.job_name === '' && !('start_at' in w))).toBe(
      true,
    );
    const all = await api<Worker[]>('GET', '/jobservice/pools/all/workers');
    expect(all.body.filter((w) => w.pool_id === pool)).toEqual(workers.body);
    const idleWorkers = all.body.filter((w) => w.pool_id === `${idle}:1`);
    expect(idleWorkers).toHaveLength(slots);
    expect(idleWorkers.every((w) => w.job_id === '' && w.job_name === '')).toBe(true);
    expect((await api('GET', '/jobservice/pools/nowhere:1/workers')).status).toBe(404);

    expect((await api('PUT', `/system/gc/${gcId}`)).status).toBe(200);
    expect(await runStatus(api, `/system/gc/${gcId}`, ['Stopped', 'Success', 'Error'])).toBe('Stopped');
    await redis.del(heartbeatKey(host, process.pid));
    expect((await api<WorkerPool[]>('GET', '/jobservice/pools')).body.some((p) => p.worker_pool_id === pool)).toBe(
      false,
    );
    expect((await api('GET', `/jobservice/pools/${pool}/workers`)).status).toBe(404);
  });

  it('stops the running and waiting jobs of a type, their tasks ending Stopped, and of every type with all', async () => {
    const gc = await api('POST', '/system/gc/schedule', { schedule: { type: 'Manual' } });
    expect(gc.status).toBe(201);
    const gcId = Number(gc.headers.get('location')?.split('/').at(-1));
    const gcRun = `/system/gc/${gcId}`;
    for (let i = 0; i < 100 && (await taskStatus(executions, gcId)) !== 'Running'; i++) await sleep(100);
    expect(await taskStatus(executions, gcId)).toBe('Running');
    await core.server.app.get(JobRunner).enqueue(JobName.EventTrim, {});
    await sleep(300);
    expect(handlers.trims).toHaveLength(1);
    expect((await api('PUT', '/jobservice/queues/PURGE_AUDIT_LOG', { action: 'pause' })).status).toBe(200);
    const purge = await api('POST', '/system/purgeaudit/schedule', {
      schedule: { type: 'Manual' },
      parameters: { audit_retention_hour: 24, include_event_types: 'pull' },
    });
    expect(purge.status).toBe(201);
    const purgeId = Number(purge.headers.get('location')?.split('/').at(-1));
    const purgeRun = `/system/purgeaudit/${purgeId}`;
    expect(await count('PURGE_AUDIT_LOG')).toBe(1);

    expect((await api('PUT', '/jobservice/queues/GARBAGE_COLLECTION', { action: 'stop' })).status).toBe(200);
    expect(await runStatus(api, gcRun, ['Stopped', 'Success', 'Error'])).toBe('Stopped');
    await sleep(300);
    expect(handlers.trims[0].aborted).toBe(false);
    expect(await taskStatus(executions, purgeId)).toBe('Pending');

    expect((await api('PUT', '/jobservice/queues/all', { action: 'stop' })).status).toBe(200);
    expect(await runStatus(api, purgeRun, ['Stopped', 'Success', 'Error'])).toBe('Stopped');
    await sleep(300);
    expect(handlers.trims[0].aborted).toBe(true);
    expect(await count('PURGE_AUDIT_LOG')).toBe(0);
    expect(await count('EVENT_TRIM')).toBe(0);
  });
});
