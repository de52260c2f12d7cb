import { DataSource } from 'typeorm';
import { REGISTRY_ENTITIES } from './entities/registry.entities.js';
import { RegistrySchema1763900000000 } from './migrations/1763900000000-registry-schema.js';
import { CoreSchema1763990000000 } from './migrations/1763990000000-core-schema.js';

/** Connection settings, as resolved from harbor.yml by @wharf/config. */
export interface DatabaseOptions {
  host: string;
  port: number;
  database: string;
  username: string;
  password?: string;
  sslMode?: 'disable' | 'require' | 'verify-ca' | 'verify-full';
  maxOpenConns?: number;
  applicationName?: string;
}

export const MIGRATIONS = [RegistrySchema1763900000000, CoreSchema1763990000000];
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
    extra: { max: options.maxOpenConns ?? 20 },
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
