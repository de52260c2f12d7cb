import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '@wharf/testkit';
import { type Pool } from 'pg';
import { type DataSource } from 'typeorm';
import { type PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import { createDataSource, type DatabaseOptions } from './data-source.js';

function poolOf(dataSource: DataSource): Pool {
  return (dataSource.driver as PostgresDriver).master as Pool;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens `count` connections at once (queries held open together), then lets them all go idle. */
async function openConnections(dataSource: DataSource, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, () => dataSource.query('SELECT pg_sleep(0.05)')));
}

describe('the connection pool honours harbor.yml’s idle settings (PostgreSQL)', () => {
  let db: TestDatabase;
  const open: DataSource[] = [];

  async function connect(settings: Partial<DatabaseOptions>): Promise<DataSource> {
    const dataSource = createDataSource({ ...db, ...settings, applicationName: 'wharf-pool-spec' });
    await dataSource.initialize();
    open.push(dataSource);
    return dataSource;
  }

  beforeAll(async () => {
    db = await createTestDatabase('wharf_pool_spec');
  });

  afterAll(async () => {
    await Promise.all(open.map((dataSource) => dataSource.destroy()));
    await db?.drop();
  });

  it('keeps max_idle_conns connections open through a quiet spell and closes the ones above it', async () => {
    const dataSource = await connect({ maxOpenConns: 6, maxIdleConns: 2, connMaxIdleTimeMs: 0 });
    await openConnections(dataSource, 6);
    expect(poolOf(dataSource).totalCount).toBe(6);
    await sleep(1600);
    expect(poolOf(dataSource).totalCount).toBe(2);
    expect(poolOf(dataSource).idleCount).toBe(2);
  });

  it('closes every idle connection after conn_max_idle_time', async () => {
    const dataSource = await connect({ maxOpenConns: 4, maxIdleConns: 4, connMaxIdleTimeMs: 300 });
    await openConnections(dataSource, 3);
    expect(poolOf(dataSource).totalCount).toBe(3);
    await sleep(900);
    expect(poolOf(dataSource).totalCount).toBe(0);
  });
});
