import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createDataSource, runMigrations } from '@wharf/db';
import { createTestDatabase, type TestDatabase } from '@wharf/testkit';
import { type DataSource } from 'typeorm';
import { AuditRepository } from '../repositories/audit.repository.js';
import { OutboxRepository } from '../repositories/outbox.repository.js';
import { AuditPurgeService, auditPurgeParameters } from './audit-purge.service.js';

const HOUR = 3_600_000;

describe('audit log purge against PostgreSQL', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let service: AuditPurgeService;
  let audit: AuditRepository;
  const lines: string[] = [];
  const context = { log: (line: string) => void lines.push(line) };

  const insert = (operation: string, resourceType: string, hoursAgo: number, resource = 'p/r:t') =>
    audit.insert([
      {
        projectId: null,
        operation,
        resourceType,
        resource,
        username: 'u',
        opTime: new Date(Date.now() - hoursAgo * HOUR),
      },
    ]);
  const remaining = async () =>
    (
      await ds.query<{ operation: string; resource_type: string; resource: string }[]>(
        `SELECT operation, resource_type, resource FROM audit_log ORDER BY id`,
      )
    ).map((r) => `${r.operation}_${r.resource_type}:${r.resource}`);

  beforeAll(async () => {
    db = await createTestDatabase('wharf_audit_purge_spec');
    ds = createDataSource({ ...db, database: db.database });
    await ds.initialize();
    await runMigrations(ds);
    audit = new AuditRepository(ds);
    service = new AuditPurgeService(audit, new OutboxRepository(ds));
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  beforeEach(async () => {
    lines.length = 0;
    await ds.query(`TRUNCATE audit_log, event_outbox`);
  });

  it('deletes only the records older than the retention of the listed event types, and a dry run counts the same', async () => {
    await insert('pull', 'artifact', 30, 'old-pull');
    await insert('pull', 'artifact', 1, 'new-pull');
    await insert('create', 'artifact', 30, 'old-push');
    await insert('delete', 'tag', 30, 'old-tag-delete');
    await insert('delete', 'artifact', 30, 'old-artifact-delete');
    const parameters = auditPurgeParameters.parse({
      audit_retention_hour: 24,
      include_event_types: 'pull_artifact, DELETE_TAG',
      dry_run: true,
    });
    expect((await service.purge(parameters, context)).purged).toBe(2);
    expect(await remaining()).toHaveLength(5);

    const result = await service.purge({ ...parameters, dry_run: false }, context);
    expect(result).toEqual({ purged: 2, outboxPurged: 0, stopped: false });
    expect(await remaining()).toEqual([
      'pull_artifact:new-pull',
      'create_artifact:old-push',
      'delete_artifact:old-artifact-delete',
    ]);
    expect(lines.at(-2)).toBe('purged 2 audit record(s)');
  });

  it('takes an operation alone for all its event types, as Harbor did before event types', async () => {
    await insert('delete', 'tag', 30, 'a');
    await insert('delete', 'artifact', 30, 'b');
    await insert('create', 'project', 30, 'c');
    const parameters = auditPurgeParameters.parse({ audit_retention_hour: 24, include_event_types: 'delete' });
    expect((await service.purge(parameters, context)).purged).toBe(2);
    expect(await remaining()).toEqual(['create_project:c']);
  });

  it('purges nothing when no event type is selected, as Harbor', async () => {
    await insert('pull', 'artifact', 30);
    const parameters = auditPurgeParameters.parse({ audit_retention_hour: 1, include_event_types: ' , ' });
    expect((await service.purge(parameters, context)).purged).toBe(0);
    expect(await remaining()).toHaveLength(1);
    expect(lines).toContain('no event type selected: nothing to purge');
  });

  it('purges in batches until none is left, and stops between batches when asked', async () => {
    await ds.query(
      `INSERT INTO audit_log (operation, resource_type, resource, username, op_time)
       SELECT 'pull', 'artifact', 'r' || g, 'u', now() - interval '2 days' FROM generate_series(1, 25000) g`,
    );
    const parameters = auditPurgeParameters.parse({ audit_retention_hour: 24, include_event_types: 'pull_artifact' });
    const controller = new AbortController();
    controller.abort();
    expect(await service.purge(parameters, { ...context, signal: controller.signal })).toMatchObject({
      purged: 0,
      stopped: true,
    });
    expect((await service.purge(parameters, context)).purged).toBe(25000);
    expect(await remaining()).toEqual([]);
  });

  it('deletes the delivered outbox events past their retention, never the pending ones', async () => {
    await ds.query(
      `INSERT INTO event_outbox (type, payload, delivered_at) VALUES
         ('PUSH_ARTIFACT', '{}', now() - interval '2 hours'),
         ('PUSH_ARTIFACT', '{}', NULL),
         ('PUSH_ARTIFACT', '{}', now())`,
    );
    const parameters = auditPurgeParameters.parse({ audit_retention_hour: 24, include_event_types: 'pull' });
    expect((await service.purge({ ...parameters, dry_run: true }, context)).outboxPurged).toBe(0);
    expect((await service.purge(parameters, context)).outboxPurged).toBe(1);
    const left = await ds.query<{ delivered: boolean }[]>(
      `SELECT delivered_at IS NOT NULL AS delivered FROM event_outbox ORDER BY id`,
    );
    expect(left).toEqual([{ delivered: false }, { delivered: true }]);
  });

  it.each([
    [{ audit_retention_hour: 0, include_event_types: 'pull' }, 'at least 1'],
    [{ audit_retention_hour: 1.5, include_event_types: 'pull' }, 'whole number'],
    [{ audit_retention_hour: 24, include_event_types: 'pull_artifact;drop table' }, 'include_event_types'],
    [{ audit_retention_hour: 24, include_event_types: 'fly' }, 'include_event_types'],
    [{ audit_retention_hour: 24, include_event_types: 'pull', extra: 1 }, 'extra'],
  ])('refuses the parameters %j', (input, message) => {
    const parsed = auditPurgeParameters.safeParse(input);
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain(message);
  });
});
