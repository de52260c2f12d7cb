import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type WharfConfig, parseConfig } from '@wharf/config';
import { createDataSource, runMigrations } from '@wharf/db';
import {
  type DatabaseServer,
  type TestDatabase,
  createTestDatabase,
  externalDatabaseSection,
  freePort,
} from '@wharf/testkit';
import { Redis } from 'ioredis';
import { type CoreServer, type CoreServerOptions, startCoreServer } from '../core.server.js';
import { OutboxConsumerService } from '../services/outbox-consumer.service.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface TestResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response is JSON, else the text. */
  body: T;
  text: string;
}

export interface RequestOptions {
  /** Basic credentials; omitted: anonymous (unless a cookie is given). */
  auth?: Credentials;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface TestCore {
  url: string;
  server: CoreServer;
  config: WharfConfig;
  database: TestDatabase;
  dataVolume: string;
  /** Prefix of the server's job queues in jobservice's Redis database, for a worker of the test to share. */
  jobPrefix: string;
  admin: Credentials;
  request<T = unknown>(method: string, path: string, options?: RequestOptions): Promise<TestResponse<T>>;
  close(): Promise<void>;
}

export function basicAuth(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

async function deleteKeys(db: number, prefix: string): Promise<void> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379, db, lazyConnect: true });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * A real core server for integration tests: its own PostgreSQL database (migrated), its own data volume and Redis
 * key prefix, listening on a free port of the loopback, with every response checked against its schema.
 */
export async function startTestCore(
  extraConfig: Record<string, unknown> = {},
  serverOptions: Pick<CoreServerOptions, 'portalDir' | 'builtInScanner'> & {
    /** A PostgreSQL server of the test's own instead of the shared one. */
    databaseServer?: DatabaseServer;
    /**
     * Delivers the registry's events in this process, as jobservice does in a deployment (core never does), so the
     * audit log and pull counts follow pushes and pulls without a jobservice. True unless a test says otherwise.
     */
    inProcessEventDelivery?: boolean;
  } = {},
): Promise<TestCore> {
  const { databaseServer, inProcessEventDelivery = true, ...coreOptions } = serverOptions;
  const database = await createTestDatabase('wharf_core', databaseServer);
  const dataVolume = await mkdtemp(join(tmpdir(), 'wharf-core-'));
  const admin = { username: 'admin', password: `Adm1n-${randomBytes(9).toString('base64url')}` };
  const redisPrefix = `wharf:test:${randomBytes(6).toString('hex')}:`;
  // The job queues of this core alone, in jobservice's Redis database.
  const jobPrefix = `wharf:test-jobs:${randomBytes(6).toString('hex')}`;
  // A port of its own (not 0): the registry's token challenge names the configured port.
  const port = await freePort();
  const raw = {
    hostname: '127.0.0.1',
    harbor_admin_password: admin.password,
    data_volume: dataVolume,
    external_database: externalDatabaseSection(database),
    external_redis: { host: '127.0.0.1:6379' },
    log: { level: 'error', local: { location: join(dataVolume, 'log') } },
    ...extraConfig,
    // A test's http keys join the listener's, whose port it cannot know beforehand.
    http: { host: '127.0.0.1', port, ...(extraConfig.http as Record<string, unknown> | undefined) },
  };
  // JSON is YAML: the config goes through the same loader as a harbor.yml.
  const { config } = parseConfig(JSON.stringify(raw), 'test harbor.yml', {});
  let server: CoreServer | undefined;
  try {
    const dataSource = createDataSource({ ...config.database, applicationName: 'wharf-test-migrate' });
    await dataSource.initialize();
    await runMigrations(dataSource);
    await dataSource.destroy();
    // No portal unless a test asks for one: whether apps/portal was built must not change what the API tests see.
    server = await startCoreServer(config, {
      checkResponses: true,
      redisPrefix,
      jobPrefix,
      portalDir: false,
      ...coreOptions,
    });
  } catch (error) {
    await database.drop().catch(() => undefined);
    await rm(dataVolume, { recursive: true, force: true });
    throw error;
  }
  const started = server;
  if (inProcessEventDelivery) started.app.get(OutboxConsumerService).startPolling();
  const url = started.url;
  return {
    url,
    server: started,
    config,
    database,
    dataVolume,
    jobPrefix,
    admin,
    async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<TestResponse<T>> {
      const headers: Record<string, string> = { ...options.headers };
      if (options.auth) headers.authorization = basicAuth(options.auth);
      let body: string | undefined;
      if (options.body !== undefined) {
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const response = await fetch(`${url}${path}`, { method, headers, body, redirect: 'manual' });
      const text = await response.text();
      const isJson = (response.headers.get('content-type') ?? '').includes('json') && text.length > 0;
      return {
        status: response.status,
        headers: response.headers,
        text,
        body: (isJson ? JSON.parse(text) : text) as T,
      };
    },
    async close(): Promise<void> {
      await started.close();
      await deleteKeys(config.redis.coreDb, redisPrefix);
      await deleteKeys(config.redis.jobserviceDb, `${jobPrefix}:`);
      await database.drop();
      await rm(dataVolume, { recursive: true, force: true });
    },
  };
}
