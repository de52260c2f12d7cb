import { DataSource } from 'typeorm';
import { REGISTRY_ENTITIES } from './entities/registry.entities.js';
import { RegistrySchema1763900000000 } from './migrations/1763900000000-registry-schema.js';
import { CoreSchema1763990000000 } from './migrations/1763990000000-core-schema.js';
import { StorageLimit1765000000000 } from './migrations/1765000000000-storage-limit.js';
import { TagIdPullTime1765100000000 } from './migrations/1765100000000-tag-id-pull-time.js';
import { AccessChangeNotice1765216000000 } from './migrations/1765216000000-access-change-notice.js';
import { UploadLeaseHolder1765230000000 } from './migrations/1765230000000-upload-lease-holder.js';
import { Executions1765300000000 } from './migrations/1765300000000-executions.js';
import { TaskJob1765400000000 } from './migrations/1765400000000-task-job.js';
import { BlobGcState1765500000000 } from './migrations/1765500000000-blob-gc-state.js';
import { ImmutableTagRules1765600000000 } from './migrations/1765600000000-immutable-tag-rules.js';
import { RetentionPolicy1765700000000 } from './migrations/1765700000000-retention-policy.js';
import { Schedules1765800000000 } from './migrations/1765800000000-schedules.js';
import { ManifestAccessory1766000000000 } from './migrations/1766000000000-manifest-accessory.js';
import { ProjectTrustedKey1766100000000 } from './migrations/1766100000000-project-trusted-key.js';
import { ScanReports1766200000000 } from './migrations/1766200000000-scan-reports.js';
import { ScannerRegistrations1766300000000 } from './migrations/1766300000000-scanner-registrations.js';

/** Connection settings, as resolved from harbor.yml by @wharf/config. */
export interface DatabaseOptions {
  host: string;
  port: number;
  database: string;
  username: string;
  password?: string;
  sslMode?: 'disable' | 'require' | 'verify-ca' | 'verify-full';
  maxOpenConns?: number;
  /** Idle connections kept open (harbor.yml `max_idle_conns`). */
  maxIdleConns?: number;
  /** A connection older than this is closed once it is idle; 0: no limit (`conn_max_lifetime`). */
  connMaxLifetimeMs?: number;
  /** An idle connection is closed after this long; 0: no limit (`conn_max_idle_time`). */
  connMaxIdleTimeMs?: number;
  applicationName?: string;
}

/**
 * The PostgreSQL application names of the processes that serve clients (their listener and lease connections add a
 * suffix): garbage collection yields to the data path while it sees them at work.
 */
export const CORE_APPLICATION_NAME = 'wharf-core';
export const REGISTRY_APPLICATION_NAME = 'wharf-registry';
export const DATA_PATH_APPLICATION_NAMES: readonly string[] = [CORE_APPLICATION_NAME, REGISTRY_APPLICATION_NAME];

/** The connection pool's settings (node-postgres' pg-pool) for harbor.yml's database settings. */
export interface PoolSettings {
  max: number;
  /** Idle connections the pool never closes for being idle. */
  min: number;
  /** An idle connection above `min` closes after this long (0 would mean never). */
  idleTimeoutMillis: number;
  /** 0: no limit. */
  maxLifetimeSeconds: number;
}

const DEFAULT_MAX_OPEN_CONNS = 20;
const DEFAULT_MAX_IDLE_CONNS = 10;
/** How soon a connection above max_idle_conns closes once idle (database/sql closes it at once; a second saves churn). */
const EXCESS_IDLE_CLOSE_MS = 1000;

/**
 * Harbor's settings (Go's database/sql semantics) on pg-pool: with no idle limit, up to max_idle_conns idle
 * connections stay open for good and any above that close a second after use; with conn_max_idle_time, every idle
 * connection closes after that long. pg-pool's own default (close anything idle for 10 s) would make the first
 * requests after every quiet spell open new connections and prepare their statements again.
 */
export function poolSettings(options: DatabaseOptions): PoolSettings {
  const max = options.maxOpenConns ?? DEFAULT_MAX_OPEN_CONNS;
  const keepIdle = Math.min(options.maxIdleConns ?? DEFAULT_MAX_IDLE_CONNS, max);
  const idleTime = options.connMaxIdleTimeMs ?? 0;
  const lifetime = options.connMaxLifetimeMs ?? 0;
  return {
    max,
    min: idleTime === 0 ? keepIdle : 0,
    idleTimeoutMillis: idleTime === 0 ? EXCESS_IDLE_CLOSE_MS : idleTime,
    maxLifetimeSeconds: lifetime === 0 ? 0 : Math.max(1, Math.ceil(lifetime / 1000)),
  };
}

export const MIGRATIONS = [
  RegistrySchema1763900000000,
  CoreSchema1763990000000,
  StorageLimit1765000000000,
  TagIdPullTime1765100000000,
  AccessChangeNotice1765216000000,
  UploadLeaseHolder1765230000000,
  Executions1765300000000,
  TaskJob1765400000000,
  BlobGcState1765500000000,
  ImmutableTagRules1765600000000,
  RetentionPolicy1765700000000,
  Schedules1765800000000,
  ManifestAccessory1766000000000,
  ProjectTrustedKey1766100000000,
  ScanReports1766200000000,
  ScannerRegistrations1766300000000,
];
export const ENTITIES = [...REGISTRY_ENTITIES];

function sslOption(mode: DatabaseOptions['sslMode']): boolean | { rejectUnauthorized: boolean } {
  switch (mode) {
    case undefined:
    case 'disable':
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
    case 'verify-full':
      return { rejectUnauthorized: true };
  }
}

/** The one DataSource definition every app and the migration command use. Never synchronizes. */
export function createDataSource(options: DatabaseOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    host: options.host,
    port: options.port,
    database: options.database,
    username: options.username,
    password: options.password,
    ssl: sslOption(options.sslMode),
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'wharf_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    // TypeORM's own query logging prints parameters, which may be secrets; callers report errors themselves.
    logging: false,
    applicationName: options.applicationName ?? 'wharf',
    extra: poolSettings(options),
  });
}

/** Applies pending migrations; returns the names of those it ran. */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  const ran = await dataSource.runMigrations({ transaction: 'each' });
  return ran.map((m) => m.name);
}

/** Names of migrations the database has not run yet. */
export async function pendingMigrations(dataSource: DataSource): Promise<string[]> {
  const executed = new Set<string>();
  const exists = await dataSource.query<{ present: boolean }[]>(
    `SELECT to_regclass('wharf_migrations') IS NOT NULL AS present`,
  );
  if (exists[0]?.present) {
    const rows = await dataSource.query<{ name: string }[]>(`SELECT name FROM wharf_migrations`);
    for (const row of rows) executed.add(row.name);
  }
  return MIGRATIONS.map((m) => new m().name).filter((name) => !executed.has(name));
}
