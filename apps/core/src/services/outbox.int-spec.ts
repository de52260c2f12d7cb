import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { RegistryRepository, createDataSource } from '@wharf/db';
import { RegistryWriter } from '@wharf/registry';
import { type Fixtures, digestOf, fixtures } from '../testing/audit-log-fixtures.js';
import { AuditRepository } from '../repositories/audit.repository.js';
import { OutboxRepository } from '../repositories/outbox.repository.js';
import { type TestCore, startTestCore } from '../testing/test-core.js';
import { OUTBOX_BATCH_SIZE, OutboxConsumerService } from './outbox-consumer.service.js';

interface AuditRow {
  project_id: number | null;
  operation: string;
  resource_type: string;
  resource: string;
  username: string;
  op_time: Date;
}

// Starting a server and delivering thousands of events take seconds on a busy machine.
jest.setTimeout(60_000);

describe('outbox consumer', () => {
  let core: TestCore;
  let fx: Fixtures;
  let consumer: OutboxConsumerService;
  let libraryId: number;

  const auditOf = (resourceLike: string) =>
    fx.dataSource.query<AuditRow[]>(
      `SELECT project_id, operation, resource_type, resource, username, op_time FROM audit_log
        WHERE resource LIKE $1 ORDER BY id`,
      [resourceLike],
    );
  const pending = async () =>
    Number(
      (
        await fx.dataSource.query<{ n: string }[]>(`SELECT count(*) AS n FROM event_outbox WHERE delivered_at IS NULL`)
      )[0].n,
    );

  beforeAll(async () => {
    core = await startTestCore();
    fx = fixtures(core);
    consumer = core.server.app.get(OutboxConsumerService);
    libraryId = await fx.project('library', { public: true });
  });

  afterAll(async () => {
    await core.close();
  });

  it('records a push by tag as a create of <repository>:<tag> in the repository project, at the time it happened', async () => {
    const digest = await fx.push('library/app', { tag: 'v1', actor: 'alice' });
    const [event] = await fx.dataSource.query<{ occurred_at: Date }[]>(
      `SELECT occurred_at FROM event_outbox WHERE type = 'PUSH_ARTIFACT' AND payload->>'digest' = $1`,
      [digest],
    );
    await consumer.drain();
    expect(await auditOf('library/app:v1')).toEqual([
      {
        project_id: libraryId,
        operation: 'create',
        resource_type: 'artifact',
        resource: 'library/app:v1',
        username: 'alice',
        op_time: event.occurred_at,
      },
    ]);
    expect(await pending()).toBe(0);
  });

  it('names a push by digest by its digest and an unauthenticated one as anonymous', async () => {
    const digest = await fx.push('library/by-digest');
    await consumer.drain();
    const rows = await auditOf('library/by-digest:%');
    expect(rows.map((r) => [r.operation, r.resource, r.username])).toEqual([
      ['create', `library/by-digest:${digest}`, 'anonymous'],
    ]);
  });

  it('counts every aggregated pull and keeps the latest pull time', async () => {
    const digest = await fx.push('library/pulled', { tag: 'latest' });
    const early = new Date('2030-01-01T10:00:00.000Z');
    const late = new Date('2030-01-01T10:00:05.000Z');
    await fx.registry.recordEvents([
      {
        type: 'PULL_ARTIFACT',
        repository: 'library/pulled',
        digest,
        tag: 'latest',
        actor: 'bob',
        count: 3,
        occurredAt: late,
      },
      { type: 'PULL_ARTIFACT', repository: 'library/pulled', digest, actor: 'carol', count: 2, occurredAt: early },
    ]);
    await consumer.drain();
    const [repository] = await fx.dataSource.query<{ pull_count: string }[]>(
      `SELECT pull_count FROM registry_repository WHERE name = 'library/pulled'`,
    );
    expect(Number(repository.pull_count)).toBe(5);
    const [manifest] = await fx.dataSource.query<{ pull_time: Date }[]>(
      `SELECT pull_time FROM registry_manifest WHERE digest = $1`,
      [digest],
    );
    expect(manifest.pull_time).toEqual(late);
    const pulls = (await auditOf('library/pulled%')).filter((r) => r.operation === 'pull');
    expect(pulls.map((r) => [r.resource, r.username, r.op_time])).toEqual([
      ['library/pulled:latest', 'bob', late],
      [`library/pulled:${digest}`, 'carol', early],
    ]);

    // A batch that arrives late does not move the pull time back.
    await fx.registry.recordEvents([
      { type: 'PULL_ARTIFACT', repository: 'library/pulled', digest, count: 1, occurredAt: early },
    ]);
    await consumer.drain();
    const [after] = await fx.dataSource.query<{ pull_time: Date }[]>(
      `SELECT pull_time FROM registry_manifest WHERE digest = $1`,
      [digest],
    );
    expect(after.pull_time).toEqual(late);
  });

  it("moves a tag's pull time forward for pulls by that tag of the manifest it still points at", async () => {
    const first = await fx.push('library/tagged', { tag: 'stable' });
    await fx.push('library/tagged', { tag: 'edge' });
    const tagTimes = async () =>
      Object.fromEntries(
        (
          await fx.dataSource.query<{ name: string; pull_time: Date | null }[]>(
            `SELECT t.name, t.pull_time FROM registry_tag t JOIN registry_repository r ON r.id = t.repository_id
              WHERE r.name = 'library/tagged' ORDER BY t.name`,
          )
        ).map((row) => [row.name, row.pull_time]),
      );
    const at = (second: number) => new Date(`2030-02-01T10:00:${String(second).padStart(2, '0')}.000Z`);
    const pull = (digest: string, occurredAt: Date, tag?: string) =>
      ({ type: 'PULL_ARTIFACT', repository: 'library/tagged', digest, tag, count: 1, occurredAt }) as const;

    await fx.registry.recordEvents([pull(first, at(5), 'stable'), pull(first, at(9)), pull(first, at(3), 'stable')]);
    await consumer.drain();
    // The pull by digest counts for the manifest, not for a tag; the later of the two pulls by tag wins.
    expect(await tagTimes()).toEqual({ edge: null, stable: at(5) });

    // A late batch does not move it back.
    await fx.registry.recordEvents([pull(first, at(1), 'stable')]);
    await consumer.drain();
    expect((await tagTimes()).stable).toEqual(at(5));

    // Once the tag points at another manifest, a pull of the old one by that tag (recorded late) leaves it alone.
    const second = await fx.push('library/tagged', { tag: 'stable' });
    await fx.registry.recordEvents([pull(first, at(30), 'stable')]);
    await consumer.drain();
    expect((await tagTimes()).stable).toEqual(at(5));
    await fx.registry.recordEvents([pull(second, at(40), 'stable')]);
    await consumer.drain();
    expect(await tagTimes()).toEqual({ edge: null, stable: at(40) });
  });

  it('records tag, manifest and blob deletions', async () => {
    const digest = await fx.push('library/gone', { tag: 'old' });
    const [layer] = await fx.dataSource.query<{ digest: string }[]>(
      `SELECT rb.digest FROM registry_repository_blob rb JOIN registry_repository r ON r.id = rb.repository_id
        WHERE r.name = 'library/gone'`,
    );
    expect(await fx.registry.deleteTag('library/gone', 'old', 'dave')).toBe(true);
    expect(await fx.registry.deleteManifest('library/gone', digest, 'dave')).toBe(true);
    expect(await fx.registry.unlinkBlob('library/gone', layer.digest, 'dave')).toBe(true);
    await consumer.drain();
    const deletes = (await auditOf('library/gone%')).filter((r) => r.operation === 'delete');
    expect(deletes.map((r) => [r.resource_type, r.resource, r.username, r.project_id])).toEqual([
      ['tag', 'library/gone:old', 'dave', libraryId],
      ['artifact', `library/gone:${digest}`, 'dave', libraryId],
      ['blob', `library/gone:${layer.digest}`, 'dave', libraryId],
    ]);
  });

  it('records events of a repository outside any project without a project', async () => {
    await fx.push('orphan/app', { tag: 'v1', actor: 'erin' });
    await consumer.drain();
    expect((await auditOf('orphan/app:v1')).map((r) => r.project_id)).toEqual([null]);
  });

  it('skips events it cannot read without holding up the ones behind them', async () => {
    await consumer.drain();
    const auditCount = async () =>
      Number((await fx.dataSource.query<{ n: string }[]>(`SELECT count(*) AS n FROM audit_log`))[0].n);
    const before = await auditCount();
    await fx.dataSource.query(
      `INSERT INTO event_outbox (type, payload) VALUES ('SOMETHING_NEW', '{}'), ('PUSH_ARTIFACT', '{"repository": 7}')`,
    );
    await fx.registry.recordEvents([
      { type: 'DELETE_TAG', repository: 'library/after', digest: digestOf('x'), tag: 't' },
    ]);
    await consumer.drain();
    expect(await pending()).toBe(0);
    expect(await auditCount()).toBe(before + 1);
    expect((await auditOf('library/after:t')).map((r) => r.operation)).toEqual(['delete']);
  });

  it('delivers more than a batch in one drain', async () => {
    const total = OUTBOX_BATCH_SIZE * 2 + 37;
    const digest = digestOf('bulk');
    await fx.registry.recordEvents(
      Array.from({ length: total }, (_, i) => ({
        type: 'PULL_ARTIFACT' as const,
        repository: 'library/bulk',
        digest,
        actor: `user${i}`,
        count: 1,
      })),
    );
    // The background poller may take some batches first; drain returns once all of them are delivered.
    await consumer.drain();
    expect(await pending()).toBe(0);
    expect((await auditOf('library/bulk:%')).length).toBe(total);
  });

  it('shares the work with another process: each event is delivered exactly once', async () => {
    const other = createDataSource({ ...core.config.database, applicationName: 'wharf-test-second-core' });
    await other.initialize();
    try {
      const second = new OutboxConsumerService(
        other,
        new OutboxRepository(other),
        new AuditRepository(other),
        new RegistryWriter(new RegistryRepository(other)),
      );
      const total = OUTBOX_BATCH_SIZE * 4;
      await fx.registry.recordEvents(
        Array.from({ length: total }, (_, i) => ({
          type: 'DELETE_TAG' as const,
          repository: 'library/shared',
          digest: digestOf('shared'),
          tag: `t${i}`,
          actor: 'frank',
        })),
      );
      const [a, b] = await Promise.all([consumer.drain(), second.drain()]);
      expect(a + b).toBeGreaterThan(0);
      // What one consumer skipped while the other held it, a last drain picks up.
      await consumer.drain();
      expect(await pending()).toBe(0);
      const rows = await auditOf('library/shared:%');
      expect(rows.length).toBe(total);
      expect(new Set(rows.map((r) => r.resource)).size).toBe(total);
    } finally {
      await other.destroy();
    }
  });

  it('applies a batch whose delivery failed midway exactly once, when it is delivered again', async () => {
    const digest = await fx.push('library/fails', { tag: 'v1' });
    // Stopping delivers what is pending and stops the poller, so only this test's consumers run below.
    await consumer.stopPolling();
    try {
      expect(await pending()).toBe(0);
      // Fails at the last step, after the audit records and pull counts were written in the same transaction.
      class BrokenOutbox extends OutboxRepository {
        override markDelivered(): Promise<void> {
          return Promise.reject(new Error('connection lost'));
        }
      }
      const broken = new OutboxConsumerService(
        fx.dataSource,
        new BrokenOutbox(fx.dataSource),
        new AuditRepository(fx.dataSource),
        new RegistryWriter(new RegistryRepository(fx.dataSource)),
      );
      await fx.registry.recordEvents([
        { type: 'PULL_ARTIFACT', repository: 'library/fails', digest, tag: 'v1', actor: 'gina', count: 4 },
      ]);
      await expect(broken.drain()).rejects.toThrow('connection lost');
      expect(await pending()).toBe(1);
      const pullCount = async () =>
        Number(
          (
            await fx.dataSource.query<{ pull_count: string }[]>(
              `SELECT pull_count FROM registry_repository WHERE name = 'library/fails'`,
            )
          )[0].pull_count,
        );
      expect(await pullCount()).toBe(0);
      expect(await consumer.drain()).toBe(1);
      expect(await pending()).toBe(0);
      expect(await pullCount()).toBe(4);
      expect((await auditOf('library/fails:v1')).map((r) => [r.operation, r.username])).toEqual([
        ['create', 'anonymous'],
        ['pull', 'gina'],
      ]);
    } finally {
      consumer.startPolling();
    }
  });

  it('hands each delivered batch to the registered handlers, and keeps a batch pending while one fails', async () => {
    await consumer.stopPolling();
    const alone = new OutboxConsumerService(
      fx.dataSource,
      new OutboxRepository(fx.dataSource),
      new AuditRepository(fx.dataSource),
      new RegistryWriter(new RegistryRepository(fx.dataSource)),
    );
    const seen: string[] = [];
    let failing = true;
    alone.handle('scan on push', (events) => {
      if (failing) return Promise.reject(new Error('queue unavailable (simulated)'));
      seen.push(...events.map((e) => `${e.type} ${e.repository}:${e.tag ?? e.digest}`));
      return Promise.resolve();
    });
    expect(() => alone.handle('scan on push', () => Promise.resolve())).toThrow(
      'registry events already have a handler named scan on push',
    );
    try {
      await fx.push('library/handled', { tag: 'v1', actor: 'jill' });
      await expect(alone.drain()).rejects.toThrow('queue unavailable (simulated)');
      expect(await pending()).toBe(1);
      expect(await auditOf('library/handled:v1')).toEqual([]);
      failing = false;
      expect(await alone.drain()).toBe(1);
      expect(seen).toEqual(['PUSH_ARTIFACT library/handled:v1']);
      expect((await auditOf('library/handled:v1')).map((r) => r.username)).toEqual(['jill']);
    } finally {
      consumer.startPolling();
    }
  });

  it('delivers in the background without being asked', async () => {
    await fx.push('library/background', { tag: 'v1', actor: 'hank' });
    const deadline = Date.now() + 5000;
    let rows = await auditOf('library/background:v1');
    while (rows.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      rows = await auditOf('library/background:v1');
    }
    expect(rows.map((r) => r.username)).toEqual(['hank']);
  });

  it('deletes delivered events once they are older than the retention, and never a pending one', async () => {
    await consumer.drain();
    const insert = async (deliveredAt: string) => {
      const [row] = await fx.dataSource.query<{ id: string }[]>(
        `INSERT INTO event_outbox (type, payload, delivered_at)
         VALUES ('PUSH_ARTIFACT', '{"repository": "library/purge", "digest": "sha256:00"}', ${deliveredAt})
         RETURNING id`,
      );
      return Number(row.id);
    };
    const old = await insert(`now() - interval '2 hours'`);
    const recent = await insert(`now() - interval '1 minute'`);
    // Pending; the background poller may deliver it meanwhile, which makes it recent.
    const waiting = await insert('NULL');

    expect(await consumer.purgeDelivered()).toBe(1);
    const left = await fx.dataSource.query<{ id: string }[]>(
      `SELECT id FROM event_outbox WHERE id = ANY($1::bigint[]) ORDER BY id`,
      [[old, recent, waiting]],
    );
    expect(left.map((row) => Number(row.id))).toEqual([recent, waiting]);
  });
});

describe('core without jobservice', () => {
  let core: TestCore;

  beforeAll(async () => {
    core = await startTestCore({}, { inProcessEventDelivery: false });
  });

  afterAll(async () => {
    await core.close();
  });

  it('leaves the events pending: only jobservice delivers them', async () => {
    const fx = fixtures(core);
    await fx.project('library', { public: true });
    await fx.push('library/idle', { tag: 'v1', actor: 'kim' });
    // Longer than a poll interval of the consumer, had core started one.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const [{ n }] = await fx.dataSource.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM event_outbox WHERE delivered_at IS NULL`,
    );
    expect(Number(n)).toBe(1);
    await core.server.app.get(OutboxConsumerService).drain();
    const rows = await fx.dataSource.query<{ username: string }[]>(
      `SELECT username FROM audit_log WHERE resource = 'library/idle:v1'`,
    );
    expect(rows.map((r) => r.username)).toEqual(['kim']);
  });
});
