import { hostname } from 'node:os';
import { type INestApplicationContext } from '@nestjs/common';
import { DiscoveryService, NestFactory } from '@nestjs/core';
import { type WharfConfig, redisConnection } from '@wharf/config';
import {
  type OpenedWorkerDependencies,
  OutboxConsumerService,
  ScheduleService,
  UploadPurgeService,
  WorkerModule,
  armEventTrim,
  openWorkerDependencies,
} from '@wharf/core';
import { ExecutionRepository, createDataSource, pendingMigrations } from '@wharf/db';
import { type Heartbeat, JobHandlerRegistry, JobRunner, heartbeatKey, providerInstances } from '@wharf/jobs';
import { Redis } from 'ioredis';
import { type Logger, pino } from 'pino';
import { localHeartbeatHost } from './probe.js';

export interface JobServiceOptions {
  /** Where JSON log lines go; standard output by default. */
  logger?: Logger;
  /** How often the process checks its connections and refreshes its heartbeat. */
  heartbeatIntervalMs?: number;
  /** Lifetime of the heartbeat key: it disappears this long after the process stops beating. */
  heartbeatTtlSeconds?: number;
  /** The host part of the heartbeat key; this machine's name by default. */
  host?: string;
  /** Prefix of the job queues' keys; core must use the same (tests give each their own). */
  jobPrefix?: string;
  /** How often the unfinished tasks in PostgreSQL are compared with the queues (and once at start). */
  reconcileIntervalMs?: number;
  /** How long after start abandoned uploads are purged (when `upload_purging` is enabled), besides its schedule. */
  uploadPurgeDelayMs?: number;
}

export interface JobService {
  /** The Redis key this process keeps alive while it is healthy. */
  heartbeatKey: string;
  /** Job types this worker runs: every declared job, each bound to its one handler in core's services. */
  jobTypes: readonly string[];
  /** Stops beating, removes the heartbeat and closes every connection. */
  close(): Promise<void>;
}

const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;
const DEFAULT_HEARTBEAT_TTL_SECONDS = 30;
const DEFAULT_RECONCILE_INTERVAL_MS = 60_000;
const DEFAULT_UPLOAD_PURGE_DELAY_MS = 60_000;
const CONNECT_TIMEOUT_MS = 10_000;

export function createJobServiceLogger(config: WharfConfig): Logger {
  return pino({ level: config.log.level, base: { pid: process.pid, hostname: hostname(), name: 'wharf-jobservice' } });
}

function describeDatabase(config: WharfConfig): string {
  const db = config.database;
  return `PostgreSQL at ${db.host}:${db.port} (database ${db.database}, user ${db.username})`;
}

function describeRedis(config: WharfConfig): string {
  return `Redis at ${config.redis.host}:${config.redis.port} (database ${config.redis.jobserviceDb})`;
}

function createRedis(config: WharfConfig, connectionName: string): Redis {
  return new Redis({
    connectionName,
    ...redisConnection(config, config.redis.jobserviceDb),
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // Commands fail fast while Redis is away; the next heartbeat tries again, and ioredis keeps reconnecting.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (attempt) => Math.min(attempt * 500, 5_000),
  });
}

/**
 * Boots core's worker module, binds every declared job to its one `@OnJob` handler among core's services (refusing
 * to start on a job with none or two) and starts working the queues, recording task-backed runs in PostgreSQL.
 */
async function startWorker(
  config: WharfConfig,
  dataSource: ReturnType<typeof createDataSource>,
  log: Logger,
  jobPrefix: string | undefined,
  name: string,
): Promise<{ app: INestApplicationContext; opened: OpenedWorkerDependencies; jobs: JobRunner; jobTypes: string[] }> {
  const jobs = new JobRunner({
    connection: redisConnection(config, config.redis.jobserviceDb),
    prefix: jobPrefix,
    tasks: new ExecutionRepository(dataSource),
    logger: log,
    name,
    lockDurationMs: config.jobservice.workerLostAfterMs,
  });
  const opened = await openWorkerDependencies(config, { dataSource, jobs });
  let app: INestApplicationContext | undefined;
  try {
    app = await NestFactory.createApplicationContext(WorkerModule.create(opened.dependencies), {
      logger: ['error', 'warn'],
      abortOnError: false,
    });
    const registry = JobHandlerRegistry.bind(providerInstances(app.get(DiscoveryService)));
    await jobs.start(registry);
    return { app, opened, jobs, jobTypes: registry.jobs.sort() };
  } catch (error) {
    await jobs.close().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await opened.close().catch(() => undefined);
    throw error;
  }
}

/**
 * `wharf start jobservice`: the background worker. It connects to PostgreSQL and Redis, runs every declared job with
 * core's services, checks both connections on every heartbeat and keeps its heartbeat key in Redis while both
 * answer, so status checks see a live and connected worker. Connections lost later are retried; a failed start is
 * reported at once.
 */
export async function startJobService(config: WharfConfig, options: JobServiceOptions = {}): Promise<JobService> {
  const log = options.logger ?? createJobServiceLogger(config);
  const intervalMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
  const ttlSeconds = options.heartbeatTtlSeconds ?? DEFAULT_HEARTBEAT_TTL_SECONDS;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || intervalMs <= 0 || intervalMs >= ttlSeconds * 1000) {
    throw new Error('the heartbeat interval must be positive and shorter than the heartbeat lifetime');
  }
  const host = options.host ?? localHeartbeatHost();
  const key = heartbeatKey(host, process.pid);
  const jobTypes: string[] = [];

  const dataSource = createDataSource({ ...config.database, applicationName: 'wharf-jobservice' });
  try {
    await dataSource.initialize();
  } catch (error) {
    throw new Error(`cannot connect to ${describeDatabase(config)}: ${(error as Error).message}`, { cause: error });
  }
  const redis = createRedis(config, `wharf-jobservice:${host}:${process.pid}`);
  try {
    const pending = await pendingMigrations(dataSource);
    if (pending.length > 0) {
      throw new Error(
        `the database schema is not up to date (${pending.length} migrations pending): run wharf migrate --config FILE`,
      );
    }
    try {
      await redis.connect();
      await redis.ping();
    } catch (error) {
      throw new Error(`cannot connect to ${describeRedis(config)}: ${(error as Error).message}`, { cause: error });
    }
  } catch (error) {
    redis.disconnect();
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }

  let worker: Awaited<ReturnType<typeof startWorker>>;
  try {
    worker = await startWorker(config, dataSource, log, options.jobPrefix, `${host}:${process.pid}`);
  } catch (error) {
    redis.disconnect();
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
  jobTypes.push(...worker.jobTypes);

  let redisLost = false;
  const lostRedis = (reason: string) => {
    if (!redisLost) log.warn({ err: reason }, `lost the connection to ${describeRedis(config)}; reconnecting`);
    redisLost = true;
  };
  redis.on('error', (error: Error) => lostRedis(error.message));
  redis.on('reconnecting', () => lostRedis('connection closed'));
  redis.on('ready', () => {
    if (redisLost) log.info(`reconnected to ${describeRedis(config)}`);
    redisLost = false;
  });

  const startedAt = new Date().toISOString();
  let healthy = true;
  const beat = async (): Promise<void> => {
    try {
      await dataSource.query('SELECT 1');
    } catch (error) {
      if (healthy) log.error({ err: (error as Error).message }, `${describeDatabase(config)} does not answer`);
      healthy = false;
      return;
    }
    const value: Heartbeat = { host, pid: process.pid, startedAt, beatAt: new Date().toISOString(), jobTypes };
    try {
      await redis.set(key, JSON.stringify(value), 'EX', ttlSeconds);
    } catch (error) {
      if (healthy)
        log.error({ err: (error as Error).message }, `cannot write the heartbeat to ${describeRedis(config)}`);
      healthy = false;
      return;
    }
    if (!healthy) log.info('PostgreSQL and Redis answer again; heartbeat resumed');
    healthy = true;
  };

  // Tasks whose jobs Redis lost (flushed, replaced, or a worker that died for good) are repaired from PostgreSQL, and
  // the schedules re-armed from their rows: at start, and then periodically, for what is lost while this one runs.
  const executions = new ExecutionRepository(dataSource);
  const reconcile = async (): Promise<void> => {
    try {
      const { requeued, failed } = await worker.jobs.reconcile(executions);
      if (requeued.length + failed.length > 0) {
        log.warn({ requeued, failed }, 'tasks whose jobs were lost: queued again, or recorded as failed');
      }
    } catch (error) {
      log.error({ err: (error as Error).message }, 'comparing the tasks with the job queues failed');
    }
    try {
      await worker.app.get(ScheduleService).syncAll();
      await armEventTrim(worker.jobs);
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'could not re-arm the schedules; trying again later');
    }
  };
  // The built-in schedule of upload_purging, from this process's configuration: the last jobservice started wins. It
  // also fires once shortly after start, for the uploads abandoned while no jobservice ran.
  try {
    const purging = worker.app.get(UploadPurgeService);
    const schedule = await purging.applyConfig();
    const delayMs = options.uploadPurgeDelayMs ?? DEFAULT_UPLOAD_PURGE_DELAY_MS;
    if (await purging.purgeSoon(schedule, delayMs)) {
      log.info({ delayMs }, 'abandoned uploads are purged shortly after start');
    }
  } catch (error) {
    log.warn({ err: (error as Error).message }, 'could not set the upload purge schedule; the next start tries again');
  }
  await reconcile();
  // Registry events reach the audit log (and every event handler) from jobservice processes only.
  worker.app.get(OutboxConsumerService).startPolling();
  let reconciling: Promise<void> = Promise.resolve();
  const reconcileTimer = setInterval(() => {
    reconciling = reconciling.then(reconcile);
  }, options.reconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS);

  await beat();
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(beat);
  }, intervalMs);

  log.info({ heartbeatKey: key, redisDb: config.redis.jobserviceDb, jobTypes }, 'jobservice ready');

  let closed: Promise<void> | undefined;
  return {
    heartbeatKey: key,
    jobTypes,
    close: () => {
      closed ??= (async () => {
        clearInterval(timer);
        clearInterval(reconcileTimer);
        await running;
        await reconciling;
        // Running handlers see their signal aborted and end first; then the services they use close.
        await worker.jobs.close();
        await worker.app.close();
        await worker.opened.close();
        try {
          await redis.del(key);
          await redis.quit();
        } catch {
          // Redis is away: the key expires on its own.
          redis.disconnect();
        }
        await dataSource.destroy();
        log.info('jobservice stopped');
      })();
      return closed;
    },
  };
}
