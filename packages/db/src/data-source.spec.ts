import { describe, expect, it } from '@jest/globals';
import { poolSettings } from './data-source.js';

const server = { host: '127.0.0.1', port: 5432, database: 'registry', username: 'wharf' };

describe('poolSettings', () => {
  it('keeps max_idle_conns idle connections for good when no idle time is set, and closes the rest soon', () => {
    expect(poolSettings({ ...server, maxOpenConns: 20, maxIdleConns: 10, connMaxIdleTimeMs: 0 })).toEqual({
      max: 20,
      min: 10,
      idleTimeoutMillis: 1000,
      maxLifetimeSeconds: 0,
    });
  });

  it('closes every idle connection after conn_max_idle_time when it is set', () => {
    expect(poolSettings({ ...server, maxIdleConns: 10, connMaxIdleTimeMs: 30_000 })).toMatchObject({
      min: 0,
      idleTimeoutMillis: 30_000,
    });
  });

  it('never keeps more idle connections than the pool may open', () => {
    expect(poolSettings({ ...server, maxOpenConns: 1, maxIdleConns: 10 })).toMatchObject({ max: 1, min: 1 });
    expect(poolSettings({ ...server, maxOpenConns: 5, maxIdleConns: 0 })).toMatchObject({ min: 0 });
  });

  it('turns conn_max_lifetime into whole seconds, at least one', () => {
    expect(poolSettings({ ...server, connMaxLifetimeMs: 5 * 60_000 }).maxLifetimeSeconds).toBe(300);
    expect(poolSettings({ ...server, connMaxLifetimeMs: 1 }).maxLifetimeSeconds).toBe(1);
    expect(poolSettings({ ...server, connMaxLifetimeMs: 0 }).maxLifetimeSeconds).toBe(0);
  });

  it('defaults to Harbor’s pool: 20 open, 10 idle kept, no lifetime or idle limit', () => {
    expect(poolSettings(server)).toEqual({ max: 20, min: 10, idleTimeoutMillis: 1000, maxLifetimeSeconds: 0 });
  });
});
