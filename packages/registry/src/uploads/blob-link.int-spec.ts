import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FilesystemDriver } from '@wharf/storage';
import { startTestRegistry, type TestRegistry } from '../testing/test-registry.js';

/**
 * A small blob's database link runs while its bytes are synced and moved under their digest, and commits only after.
 * The storage here is the real filesystem driver; only its move into the blob's place is held or failed by the test,
 * standing for a slow or failing disk.
 */
class HeldMoves extends FilesystemDriver {
  gate: Promise<void> | undefined;
  failure: Error | undefined;
  moves = 0;
  madeDurable: string[] = [];

  override async ensureDurable(path: string): Promise<void> {
    this.madeDurable.push(path);
    return super.ensureDurable(path);
  }

  override async move(src: string, dst: string): Promise<void> {
    if (dst.startsWith('blobs/')) {
      this.moves += 1;
      await this.gate;
      if (this.failure) throw this.failure;
    }
    return super.move(src, dst);
  }
}

function digestOf(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

describe('linking a small blob while its bytes are made durable (PostgreSQL + filesystem)', () => {
  let reg: TestRegistry;
  let storage: HeldMoves;
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'wharf-blob-link-'));
    storage = new HeldMoves(root);
    reg = await startTestRegistry({ storage });
  });

  afterAll(async () => {
    await reg?.close();
    await rm(root, { recursive: true, force: true });
  });

  const push = (blob: Buffer, repository = 'library/app', target = reg) =>
    fetch(`${target.url}/v2/${repository}/blobs/uploads/?digest=${digestOf(blob)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: blob,
    });
  const head = async (blob: Buffer) =>
    (await fetch(`${reg.url}/v2/library/app/blobs/${digestOf(blob)}`, { method: 'HEAD' })).status;

  it('shows the blob only once its bytes are in place', async () => {
    const blob = randomBytes(300 * 1024);
    let release!: () => void;
    storage.gate = new Promise((resolve) => (release = resolve));
    const moves = storage.moves;
    const pushing = push(blob);
    while (storage.moves === moves) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await head(blob)).toBe(404);
    release();
    storage.gate = undefined;
    expect((await pushing).status).toBe(201);
    expect(await head(blob)).toBe(200);
  });

  it('links nothing when the bytes cannot be put in place (simulated disk error)', async () => {
    const blob = randomBytes(200 * 1024);
    storage.failure = new Error('EIO: i/o error, rename (simulated disk error)');
    try {
      const response = await push(blob);
      expect(response.status).toBeGreaterThanOrEqual(500);
    } finally {
      storage.failure = undefined;
    }
    expect(await head(blob)).toBe(404);
    const rows = await reg.dataSource.query<unknown[]>(`SELECT 1 FROM registry_blob WHERE digest = $1`, [
      digestOf(blob),
    ]);
    expect(rows).toEqual([]);
    // The same blob pushed again, with the disk working, is stored and linked.
    expect((await push(blob)).status).toBe(201);
    expect(await head(blob)).toBe(200);
  });

  it('makes a blob found in place durable before linking it again', async () => {
    const blob = randomBytes(100 * 1024);
    expect((await push(blob)).status).toBe(201);
    const before = storage.madeDurable.length;
    const moves = storage.moves;
    expect((await push(blob, 'library/other')).status).toBe(201);
    expect(storage.moves).toBe(moves);
    expect(storage.madeDurable.slice(before)).toEqual([
      `blobs/sha256/${digestOf(blob).slice(7, 9)}/${digestOf(blob).slice(7)}`,
    ]);
  });

  /**
   * Pushes `count` small blobs to `target` with their moves held; the links held open meanwhile. `beforeMoves` runs
   * once the pushes have started, before waiting for their moves.
   */
  async function linksHeldDuring(
    target: TestRegistry,
    driver: HeldMoves,
    count: number,
    beforeMoves?: () => Promise<void>,
  ): Promise<number> {
    let release!: () => void;
    driver.gate = new Promise((resolve) => (release = resolve));
    const moves = driver.moves;
    const pushing = Array.from({ length: count }, () => push(randomBytes(50 * 1024), 'library/app', target));
    let held: number;
    try {
      await beforeMoves?.();
      while (driver.moves < moves + count) await new Promise((resolve) => setTimeout(resolve, 5));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const rows = await target.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'`,
      );
      held = rows[0].n;
    } finally {
      release();
      driver.gate = undefined;
    }
    expect((await Promise.all(pushing)).map((response) => response.status)).toEqual(Array<number>(count).fill(201));
    return held;
  }

  it('holds at most four links open across syncs; more pushes link after theirs', async () => {
    expect(await linksHeldDuring(reg, storage, 6)).toBe(4);
  });

  it('counts a link among those held from the moment it is chosen, so pushes whose policies answer together stay within four', async () => {
    const driverRoot = await mkdtemp(join(tmpdir(), 'wharf-blob-link-policy-'));
    const driver = new HeldMoves(driverRoot);
    let asked = 0;
    let answer: Promise<void> | undefined;
    let answerPolicies!: () => void;
    const slow = await startTestRegistry({
      storage: driver,
      policies: [
        {
          name: 'held (simulated slow quota check)',
          beforeBlobCommit: async () => {
            asked += 1;
            await answer;
          },
        },
      ],
    });
    try {
      expect((await push(randomBytes(10), 'library/app', slow)).status).toBe(201);
      answer = new Promise((resolve) => (answerPolicies = resolve));
      const held = await linksHeldDuring(slow, driver, 6, async () => {
        // Every push has chosen how to link before any policy answers.
        while (asked < 7) await new Promise((resolve) => setTimeout(resolve, 5));
        answerPolicies();
      });
      expect(held).toBe(4);
    } finally {
      answerPolicies?.();
      await slow.close();
      await rm(driverRoot, { recursive: true, force: true });
    }
  });

  it('holds links open on a quarter of the connection pool at most, none with fewer than four connections', async () => {
    for (const [connections, held] of [
      [8, 2],
      [3, 0],
    ]) {
      const driverRoot = await mkdtemp(join(tmpdir(), 'wharf-blob-link-pool-'));
      const driver = new HeldMoves(driverRoot);
      const small = await startTestRegistry({ storage: driver }, undefined, {
        maxOpenConns: connections,
        maxIdleConns: connections,
      });
      try {
        // The repository's row exists first: links creating it at once would wait on each other's insert.
        expect((await push(randomBytes(10), 'library/app', small)).status).toBe(201);
        expect(await linksHeldDuring(small, driver, 4)).toBe(held);
      } finally {
        await small.close();
        await rm(driverRoot, { recursive: true, force: true });
      }
    }
  });
});
