import type pg from 'pg';
import { type DataSource } from 'typeorm';

/** Runs one named statement on the connection pool; resolves to its rows. */
export type PreparedQuery = <R>(name: string, text: string, values: unknown[]) => Promise<R[]>;

interface QueryPool {
  query<R>(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: R[] }>;
  connect(): Promise<PooledClient>;
  /** The pool's settings, which include the connection settings it opens each connection with. */
  readonly options: pg.ClientConfig & { max: number };
}

/** One connection taken from the pool, for a transaction of its own; released exactly once. */
export interface PooledClient {
  query<R>(config: { name: string; text: string; values: unknown[] } | string): Promise<{ rows: R[] }>;
  /** Given an error, the connection is closed instead of going back to the pool. */
  release(error?: Error): void;
  /** A connection lost while taken from the pool emits 'error': unlistened, that would end the process. */
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
}

/** The pg pool TypeORM's PostgreSQL driver keeps under a DataSource. */
function pgPool(dataSource: DataSource): QueryPool {
  return (dataSource.driver as unknown as { master: QueryPool }).master;
}

/** Takes a connection from the pg pool under a DataSource, as preparedQueries runs on it. */
export function pooledClient(dataSource: DataSource): Promise<PooledClient> {
  return pgPool(dataSource).connect();
}

/** The settings the pg pool under a DataSource opens its connections with, for a connection of one's own. */
export function connectionSettings(dataSource: DataSource): pg.ClientConfig {
  const { options } = pgPool(dataSource);
  // pg-pool keeps the password as a property a spread does not copy (so that logging the options shows none).
  return { ...options, password: options.password };
}

/** How many connections the pg pool under a DataSource opens at most. */
export function poolSize(dataSource: DataSource): number {
  return pgPool(dataSource).options.max;
}

/**
 * Named prepared statements straight on the pg pool under a DataSource, for the queries on the registry's hot path:
 * no per-query runner, and PostgreSQL parses and plans each statement once per connection. A name must always go
 * with the same text.
 */
export function preparedQueries(dataSource: DataSource): PreparedQuery {
  const pool = pgPool(dataSource);
  return async <R>(name: string, text: string, values: unknown[]): Promise<R[]> =>
    (await pool.query<R>({ name, text, values })).rows;
}
