import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { type WharfConfig, parseConfig } from '@wharf/config';
import { ExecutionRepository, ScheduleRepository, createDataSource, runMigrations } from '@wharf/db';
import { type TestDatabase, createTestDatabase, freePort } from '@wharf/testkit';
import { Redis } from 'ioredis';
import { JobName, JobRunner, QueueName } from '@wharf/jobs';
import { type Logger, pino } from 'pino';
import { parseHeartbeat } from '@wharf/jobs';
import { type JobService, startJobService } from './jobservice.js';
import { probeJobService, probeRedis } from './probe.js';

const REDIS_HOST = process.env.WHARF_TEST_REDIS_HOST ?? '127.0.0.1';
const REDIS_PORT = Number(process.env.WHARF_TEST_REDIS_PORT ?? 6379);
const JOBSERVICE_DB = 2;
/** Core's secrets and the registry's storage, which the worker module opens. */
const DATA_VOLUME = mkdtempSync(join(tmpdir(), 'wharf-jobservice-'));

function configFor(
  database: { host: string; port: number; database: string; username: string },
  redisPort = REDIS_PORT,
  extra = '',
) {
  const text = `
hostname: registry.local
harbor_admin_password: Admin-Passw0rd
data_volume: ${DATA_VOLUME}
external_database:
  harbor:
    host: ${database.host}
    port: ${database.port}
    db_name: ${database.database}
    username: ${database.username}
    password: unused-with-trust-auth
external_redis:
  host: ${REDIS_HOST}:${redisPort}
  jobservice_db_index: ${JOBSERVICE_DB}
${extra}`;
  return parseConfig(text, 'jobservice test', {}).config;
}

/** A logger whose JSON lines the test can read. */
function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines: () => lines };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('jobservice', () => {
  let database: TestDatabase;
  let config: WharfConfig;
  let redis: Redis;
  let service: JobService | undefined;
  const host = `jobservice-test-${randomBytes(4).toString('hex')}`;
  const jobPrefix = `wharf-test-jobservice-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    database = await createTestDatabase('wharf_jobservice');
    config = configFor(database);
    const dataSource = createDataSource(config.database);
    await dataSource.initialize();
    await runMigrations(dataSource);
    await dataSource.destroy();
    redis = new Redis({ host: REDIS_HOST, port: REDIS_PORT, db: JOBSERVICE_DB });
  });

  afterEach(async () => {
    await service?.close();
    service = undefined;
  });

  afterAll(async () => {
    const keys = [
      ...(await redis.keys(`wharf:jobservice:heartbeat:${host}:*`)),
      ...(await redis.keys(`${jobPrefix}:*`)),
    ];
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await database.drop();
    rmSync(DATA_VOLUME, { recursive: true, force: true });
  });

  it('connects, runs every declared job, says it is ready, and keeps a heartbeat with a lifetime', async () => {
    const { logger, lines } = capturingLogger();
    service = await startJobService(config, {
      logger,
      host,
      jobPrefix,
      heartbeatIntervalMs: 200,
      heartbeatTtlSeconds: 2,
    });
    expect(service.heartbeatKey).toBe(`wharf:jobservice:heartbeat:${host}:${process.pid}`);
    const every = Object.values(JobName).sort();
    expect(service.jobTypes).toEqual(every);
    expect(lines()).toContainEqual(
      expect.objectContaining({ msg: 'jobservice ready', jobTypes: every, redisDb: JOBSERVICE_DB }),
    );

    const first = parseHeartbeat(await redis.get(service.heartbeatKey));
    expect(first).toMatchObject({ host, pid: process.pid, jobTypes: every });
    const ttl = await redis.ttl(service.heartbeatKey);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2);

    // Refreshed before it expires: still there after more than one lifetime, with a newer beat.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const later = parseHeartbeat(await redis.get(service.heartbeatKey));
    expect(later?.startedAt).toBe(first?.startedAt);
    expect(Date.parse(later!.beatAt)).toBeGreaterThan(Date.parse(first!.beatAt));
  });

  it('runs a task-backed job with the services of core and records the run in its task', async () => {
    service = await startJobService(config, { logger: capturingLogger().logger, host, jobPrefix });
    const dataSource = createDataSource(config.database);
    await dataSource.initialize();
    const producer = new JobRunner({
      connection: { host: REDIS_HOST, port: REDIS_PORT, db: JOBSERVICE_DB },
      prefix: jobPrefix,
    });
    try {
      const executions = new ExecutionRepository(dataSource);
      const execution = await executions.createExecution({ vendorType: 'UPLOAD_PURGE', trigger: 'MANUAL' });
      const task = (await executions.createTask(execution.id))!;
      await producer.enqueue(JobName.UploadPurge, { taskId: task.id, ageMs: 60_000, dryRun: true });
      await until('the purge to succeed', async () =>
        (await executions.getTask(task.id))!.status === 'Success' ? true : undefined,
      );
      expect((await executions.taskLog(task.id))!.text).toBe(
        'would remove 0 abandoned upload sessions and 0 uploads with no session\n',
      );
    } finally {
      await producer.close();
      await dataSource.destroy();
    }
  });

  it('sets the upload purge schedule from upload_purging, runs it with trigger SCHEDULE, and removes it when disabled', async () => {
    const purging = configFor(database, REDIS_PORT, 'upload_purging:\n  interval: 2h\n  age: 1h\n  dryrun: true\n');
    // Queues of its own: the firing after start of another test's jobservice is not this one's.
    const ownPrefix = `${jobPrefix}:purge-schedule`;
    service = await startJobService(purging, {
      logger: capturingLogger().logger,
      host,
      jobPrefix: ownPrefix,
      uploadPurgeDelayMs: 2_000,
    });
    const dataSource = createDataSource(config.database);
    await dataSource.initialize();
    const producer = new JobRunner({
      connection: { host: REDIS_HOST, port: REDIS_PORT, db: JOBSERVICE_DB },
      prefix: ownPrefix,
    });
    try {
      const schedules = new ScheduleRepository(dataSource);
      const schedule = (await schedules.get({ vendorType: 'UPLOAD_PURGE' }))!;
      expect(schedule).toMatchObject({ vendorId: -1, cronType: 'Custom', cron: '0 0 */2 * * *' });
      const armed = await producer.queue(QueueName.System).getJobScheduler(`schedule:${schedule.id}`);
      expect(armed).toMatchObject({ pattern: '0 0 */2 * * *', tz: 'UTC' });

      // Its time comes, shortly after start: one run, recorded as scheduled, with the configured age and mode. A
      // firing asked for meanwhile is the same one.
      expect((await producer.enqueue(JobName.ScheduledRun, { scheduleId: schedule.id })).added).toBe(false);
      const executions = new ExecutionRepository(dataSource);
      const run = await until('the scheduled purge to succeed', async () => {
        const { items } = await executions.listExecutions('UPLOAD_PURGE', undefined, { pageSize: '100' });
        const scheduled = items.filter((e) => e.trigger === 'SCHEDULE');
        return scheduled.length === 1 && scheduled[0].status === 'Success' ? scheduled[0] : undefined;
      });
      const {
        items: [task],
      } = await executions.listTasks(run.id);
      expect(task.jobData).toEqual({ ageMs: 3_600_000, dryRun: true });

      await service.close();
      service = await startJobService(configFor(database, REDIS_PORT, 'upload_purging:\n  enabled: false\n'), {
        logger: capturingLogger().logger,
        host,
        jobPrefix: ownPrefix,
        uploadPurgeDelayMs: 0,
      });
      expect(await schedules.get({ vendorType: 'UPLOAD_PURGE' })).toBeUndefined();
      expect(await producer.queue(QueueName.System).getJobScheduler(`schedule:${schedule.id}`)).toBeUndefined();
    } finally {
      await producer.close();
      await dataSource.destroy();
    }
  });

  it('purges abandoned uploads shortly after start, once for jobservices that start together', async () => {
    const purging = configFor(database, REDIS_PORT, 'upload_purging:\n  age: 1h\n');
    const ownPrefix = `${jobPrefix}:start-purge`;
    const dataSource = createDataSource(config.database);
    await dataSource.initialize();
    const others: JobService[] = [];
    try {
      const executions = new ExecutionRepository(dataSource);
      const earlier = new Set(
        (await executions.listExecutions('UPLOAD_PURGE', undefined, { pageSize: '100' })).items.map((e) => e.id),
      );
      // An upload session abandoned two hours ago, and an upload file that no session names.
      const uploads = join(DATA_VOLUME, 'registry', 'uploads');
      mkdirSync(uploads, { recursive: true });
      const [abandoned, unnamed] = [randomUUID(), randomUUID()];
      await dataSource.query(
        `INSERT INTO registry_upload (id, repository_name, path, started_at, updated_at)
         VALUES ($1, 'library/app', $2, now() - interval '2 hours', now() - interval '2 hours')`,
        [abandoned, `uploads/${abandoned}`],
      );
      const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
      for (const id of [abandoned, unnamed]) {
        writeFileSync(join(uploads, id), randomBytes(100));
        utimesSync(join(uploads, id), twoHoursAgo, twoHoursAgo);
      }

      const captured = [capturingLogger(), capturingLogger()];
      others.push(
        ...(await Promise.all(
          captured.map(({ logger }, i) =>
            startJobService(purging, { logger, host: `${host}-${i}`, jobPrefix: ownPrefix, uploadPurgeDelayMs: 1_000 }),
          ),
        )),
      );
      // One of the two queued the run; the other found it queued.
      const queued = captured.map(({ lines }) =>
        lines().some((line) => line.msg === 'abandoned uploads are purged shortly after start'),
      );
      expect(queued.sort()).toEqual([false, true]);

      const run = await until('the purge after start to succeed', async () => {
        const { items } = await executions.listExecutions('UPLOAD_PURGE', undefined, { pageSize: '100' });
        const fresh = items.filter((e) => !earlier.has(e.id));
        return fresh.length > 0 && fresh.every((e) => e.status === 'Success') ? fresh : undefined;
      });
      expect(run).toHaveLength(1);
      expect(run[0].trigger).toBe('SCHEDULE');
      const {
        items: [task],
      } = await executions.listTasks(run[0].id);
      expect((await executions.taskLog(task.id))!.text).toBe(
        'removed 1 abandoned upload sessions and 1 uploads with no session\n',
      );
      expect(await dataSource.query(`SELECT id FROM registry_upload WHERE id = $1`, [abandoned])).toEqual([]);
      expect(existsSync(join(uploads, abandoned)) || existsSync(join(uploads, unnamed))).toBe(false);
      // Nothing more is queued: the next run is the schedule's.
      const pending = new JobRunner({
        connection: { host: REDIS_HOST, port: REDIS_PORT, db: JOBSERVICE_DB },
        prefix: ownPrefix,
      });
      try {
        const waiting = await pending.queue(QueueName.System).getJobs(['waiting', 'delayed', 'active']);
        expect(waiting.filter((job) => !job.repeatJobKey)).toEqual([]);
      } finally {
        await pending.close();
      }
    } finally {
      for (const other of others) await other.close();
      await dataSource.destroy();
    }
  });

  it('delivers the registry events and trims the delivered ones once a minute, for the whole cluster', async () => {
    service = await startJobService(config, { logger: capturingLogger().logger, host, jobPrefix });
    const dataSource = createDataSource(config.database);
    await dataSource.initialize();
    const producer = new JobRunner({
      connection: { host: REDIS_HOST, port: REDIS_PORT, db: JOBSERVICE_DB },
      prefix: jobPrefix,
    });
    try {
      const trim = await producer.queue(QueueName.Maintenance).getJobScheduler('event-trim');
      expect(trim).toMatchObject({ every: 60_000, name: JobName.EventTrim });
      const [event] = await dataSource.query<{ id: string }[]>(
        `INSERT INTO event_outbox (type, payload)
         VALUES ('PUSH_ARTIFACT', '{"repository": "library/app", "digest": "sha256:01", "tag": "v1", "actor": "lee"}')
         RETURNING id`,
      );
      // Within about a second of the poller's interval, with no core running.
      await until(
        'the event to be delivered',
        async () => {
          const [row] = await dataSource.query<{ delivered: boolean }[]>(
            `SELECT delivered_at IS NOT NULL AS delivered FROM event_outbox WHERE id = $1`,
            [event.id],
          );
          return row.delivered ? true : undefined;
        },
        5_000,
      );
      const audit = await dataSource.query<{ username: string; operation: string }[]>(
        `SELECT username, operation FROM audit_log WHERE resource = 'library/app:v1'`,
      );
      expect(audit).toEqual([{ username: 'lee', operation: 'create' }]);
    } finally {
      await producer.close();
      await dataSource.destroy();
    }
  });

  it('is found by the status probes, and removes its heartbeat when it stops', async () => {
    service = await startJobService(config, { logger: capturingLogger().logger, host, jobPrefix });
    await expect(probeRedis(config)).resolves.toBeUndefined();
    const key = service.heartbeatKey;
    const beats = await probeJobService(config);
    expect(beats.map((beat) => `${beat.host}:${beat.pid}`)).toContain(`${host}:${process.pid}`);
    await service.close();
    service = undefined;
    expect(await redis.exists(key)).toBe(0);
  });

  it('reconnects to Redis after losing the connection and goes on beating', async () => {
    const { logger, lines } = capturingLogger();
    service = await startJobService(config, {
      logger,
      host,
      jobPrefix,
      heartbeatIntervalMs: 200,
      heartbeatTtlSeconds: 5,
    });
    const name = `wharf-jobservice:${host}:${process.pid}`;
    const clients = (await redis.client('LIST')) as string;
    const id = /id=(\d+) [^\n]*name=(\S+)/g;
    const ids = [...clients.matchAll(id)].filter((match) => match[2] === name).map((match) => match[1]);
    expect(ids).toHaveLength(1);
    const killedAt = Date.now();
    await redis.client('KILL', 'ID', ids[0]);
    const key = service.heartbeatKey;
    await until('a heartbeat after the reconnection', async () => {
      const beat = parseHeartbeat(await redis.get(key));
      return beat && Date.parse(beat.beatAt) > killedAt + 100 ? beat : undefined;
    });
    expect(lines().map((line) => line.msg)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^lost the connection to Redis/),
        expect.stringMatching(/^reconnected to Redis/),
      ]),
    );
  });

  it('stops beating while PostgreSQL does not answer, so status sees it unhealthy', async () => {
    const { logger, lines } = capturingLogger();
    service = await startJobService(config, {
      logger,
      host,
      jobPrefix,
      heartbeatIntervalMs: 200,
      heartbeatTtlSeconds: 1,
    });
    const key = service.heartbeatKey;
    expect(await redis.exists(key)).toBe(1);
    // PostgreSQL stops answering the jobservice: its connections are cut and no new one is let in. (Dropping its
    // database would do as well, but a drop waits for a checkpoint, which on a busy disk took longer than the test.)
    const admin = createDataSource({ ...config.database, database: 'postgres' });
    await admin.initialize();
    try {
      await admin.query(`ALTER DATABASE "${database.database}" WITH ALLOW_CONNECTIONS false`);
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [
        database.database,
      ]);
      await until('the heartbeat to expire', async () => ((await redis.exists(key)) === 0 ? true : undefined), 10_000);
      expect(lines().map((line) => line.msg)).toContainEqual(
        expect.stringMatching(/^PostgreSQL at .* does not answer$/),
      );
    } finally {
      await admin.query(`ALTER DATABASE "${database.database}" WITH ALLOW_CONNECTIONS true`);
      await admin.destroy();
    }
  });

  it('names PostgreSQL when it cannot connect to it', async () => {
    const port = await freePort();
    const unreachable = configFor({ ...database, port });
    await expect(startJobService(unreachable, { host })).rejects.toThrow(
      new RegExp(`^cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port} \\(database ${database.database}, user`),
    );
  });

  it('names Redis when it cannot connect to it', async () => {
    const port = await freePort();
    const unreachable = configFor(database, port);
    await expect(startJobService(unreachable, { host })).rejects.toThrow(
      new RegExp(
        `^cannot connect to Redis at ${REDIS_HOST.replaceAll('.', '\\.')}:${port} \\(database ${JOBSERVICE_DB}\\)`,
      ),
    );
  });

  it('refuses to start while migrations are pending', async () => {
    const fresh = await createTestDatabase('wharf_jobservice_fresh');
    try {
      await expect(startJobService(configFor(fresh), { host })).rejects.toThrow(
        /migrations pending\): run wharf migrate/,
      );
    } finally {
      await fresh.drop();
    }
  });
});
