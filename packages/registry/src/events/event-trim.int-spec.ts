import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { stopWaitsForHeldWork } from '../testing/schedules.js';
import { startTestRegistry, type TestRegistry } from '../testing/test-registry.js';
import { type RegistryRepository } from '@wharf/db';
import { scheduleEventTrim, trimEventsNoCoreDelivers } from './event-trim.js';

const HOUR = 3_600_000;

function digestOf(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

describe('trimming the events of a registry that runs alone (PostgreSQL)', () => {
  let reg: TestRegistry;
  let pushes = 0;

  beforeAll(async () => {
    reg = await startTestRegistry();
  });

  afterAll(async () => {
    await reg?.close();
  });

  beforeEach(async () => {
    await reg.dataSource.query(`DELETE FROM event_outbox`);
    await reg.dataSource.query(`DELETE FROM wharf_user`);
  });

  /** Pushes a small image through /v2, as a client would: its events are what the registry writes. */
  async function pushImage(): Promise<void> {
    pushes += 1;
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', push: pushes }));
    const blob = await fetch(`${reg.url}/v2/library/app/blobs/uploads/?digest=${digestOf(config)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: config,
    });
    expect(blob.status).toBe(201);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: digestOf(config),
          size: config.length,
        },
        layers: [],
      }),
    );
    const put = await fetch(`${reg.url}/v2/library/app/manifests/v${pushes}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest,
    });
    expect(put.status).toBe(201);
  }

  async function eventCount(): Promise<number> {
    const rows = await reg.dataSource.query<{ n: string }[]>(`SELECT count(*) AS n FROM event_outbox`);
    return Number(rows[0].n);
  }

  async function ageEvents(ms: number): Promise<void> {
    await reg.dataSource.query(
      `UPDATE event_outbox SET occurred_at = now() - $1::double precision * interval '1 millisecond'`,
      [ms],
    );
  }

  async function coreStarts(): Promise<void> {
    await reg.dataSource.query(
      `INSERT INTO wharf_user (username, password_hash, sysadmin_flag) VALUES ('admin', 'x', true)`,
    );
  }

  it('discards events older than the retention, delivered or not, when no core has started on the database', async () => {
    await pushImage();
    await pushImage();
    const old = await eventCount();
    expect(old).toBeGreaterThan(0);
    await ageEvents(2 * HOUR);
    await reg.dataSource.query(
      `UPDATE event_outbox SET delivered_at = now() WHERE id = (SELECT min(id) FROM event_outbox)`,
    );
    await pushImage();
    const recent = (await eventCount()) - old;
    expect(recent).toBeGreaterThan(0);

    expect(await trimEventsNoCoreDelivers(reg.repository)).toBe(old);
    expect(await eventCount()).toBe(recent);
    expect(await trimEventsNoCoreDelivers(reg.repository)).toBe(0);
  });

  it('leaves every event to core once a core has started on the database', async () => {
    await pushImage();
    await ageEvents(2 * HOUR);
    const before = await eventCount();
    await coreStarts();
    expect(await trimEventsNoCoreDelivers(reg.repository)).toBeNull();
    expect(await eventCount()).toBe(before);
  });

  it('trims at once and on its schedule, and says once that a core delivers the events', async () => {
    const logged: { fields: object; message: string }[] = [];
    const log = {
      info: (fields: object, message: string) => logged.push({ fields, message }),
      error: (fields: object, message: string) => logged.push({ fields, message: `error: ${message}` }),
    };
    await pushImage();
    await ageEvents(2 * HOUR);
    const stop = scheduleEventTrim(reg.repository, log, { intervalMs: 50 });
    try {
      await waitFor(async () => (await eventCount()) === 0);
      expect(logged[0]).toEqual({
        fields: { discarded: expect.any(Number) },
        message: expect.stringMatching(/^deleted/),
      });

      await coreStarts();
      await pushImage();
      await ageEvents(2 * HOUR);
      const left = () => logged.filter((entry) => entry.message.startsWith('events are left'));
      await waitFor(() => Promise.resolve(left().length > 0));
      // Several more runs: the events stay, and the log says so once.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(left()).toHaveLength(1);
      expect(await eventCount()).toBeGreaterThan(0);
    } finally {
      await stop();
    }
    expect(logged.filter((entry) => entry.message.startsWith('error'))).toEqual([]);
  });

  it('deletes a backlog in batches, and stops deleting as soon as a core starts during the trim', async () => {
    for (let i = 0; i < 3; i++) await pushImage();
    await ageEvents(2 * HOUR);
    const total = await eventCount();
    expect(total).toBeGreaterThanOrEqual(3);

    expect(await trimEventsNoCoreDelivers(reg.repository, { batchSize: 1 })).toBe(total);
    expect(await eventCount()).toBe(0);

    for (let i = 0; i < 3; i++) await pushImage();
    await ageEvents(2 * HOUR);
    const backlog = await eventCount();
    // The real repository, with a core starting right after the trim's first batch.
    let batches = 0;
    const coreStartsAfterOneBatch = new Proxy(reg.repository, {
      get(target, property, receiver) {
        if (property !== 'discardEventsNoCoreDelivers') return Reflect.get(target, property, receiver) as unknown;
        return async (...args: Parameters<RegistryRepository['discardEventsNoCoreDelivers']>) => {
          const result = await target.discardEventsNoCoreDelivers(...args);
          if (++batches === 1) await coreStarts();
          return result;
        };
      },
    });
    expect(await trimEventsNoCoreDelivers(coreStartsAfterOneBatch, { batchSize: 1 })).toBe(1);
    expect(await eventCount()).toBe(backlog - 1);
  });

  it('stops after the batch being deleted, and the stop waits for it (a test double holds the batch)', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    const holdingRepository = {
      coreHasStarted: () => Promise.resolve(false),
      discardEventsNoCoreDelivers: async () => {
        calls += 1;
        await held;
        // A turn of the event loop per batch, so that a trim that never stops fails the test rather than hanging it.
        await new Promise((resolve) => setImmediate(resolve));
        return { deleted: 1, lastId: calls };
      },
    } as unknown as RegistryRepository;
    const log = { info: () => undefined, error: () => undefined };
    const stop = scheduleEventTrim(holdingRepository, log, { batchSize: 1, intervalMs: 10 });
    await waitFor(() => Promise.resolve(calls === 1));
    expect(await stopWaitsForHeldWork(stop, release)).toBe(true);
    // A full batch would have asked for the next one: the stop ended the trim instead, and no run followed.
    expect(calls).toBe(1);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
