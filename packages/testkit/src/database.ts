import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TestDatabase {
  host: string;
  port: number;
  username: string;
  password: string;
  database: string;
  /** Drops the database, closing any connection still open to it. */
  drop(): Promise<void>;
}

/** A PostgreSQL server other than the shared one (a test's private cluster). */
export interface DatabaseServer {
  host: string;
  port: number;
  username: string;
  /** Set when the server asks for one (scram-sha-256). */
  password?: string;
}

function adminConnection(server?: DatabaseServer): pg.Client {
  return new pg.Client({
    host: server?.host ?? process.env.WHARF_TEST_PGHOST ?? '127.0.0.1',
    port: server?.port ?? Number(process.env.WHARF_TEST_PGPORT ?? 5432),
    user: server?.username ?? process.env.WHARF_TEST_PGUSER ?? 'postgres',
    password: server ? server.password : process.env.WHARF_TEST_PGPASSWORD,
    database: 'postgres',
  });
}

/** Creates a fresh, uniquely named PostgreSQL database for one test file, run or benchmark. */
export async function createTestDatabase(prefix = 'wharf_test', server?: DatabaseServer): Promise<TestDatabase> {
  const database = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = adminConnection(server);
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
  return {
    host: admin.host,
    port: admin.port,
    username: admin.user ?? 'postgres',
    password: server ? (server.password ?? '') : (process.env.WHARF_TEST_PGPASSWORD ?? ''),
    database,
    drop: async () => {
      const client = adminConnection(server);
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * harbor.yml's `external_database` section for a test database. The config requires a password; PostgreSQL's trust
 * authentication, as on test hosts, ignores it.
 */
export function externalDatabaseSection(db: TestDatabase): Record<string, unknown> {
  return {
    harbor: {
      host: db.host,
      port: db.port,
      db_name: db.database,
      username: db.username,
      password: db.password || 'unused-with-trust-auth',
      ssl_mode: 'disable',
    },
  };
}
