import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '@wharf/testkit';
import { type DataSource } from 'typeorm';
import { createDataSource, pendingMigrations, runMigrations } from './data-source.js';
import { RegistryRepository, UploadBusyError } from './repositories/registry.repository.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

describe('RegistryRepository against PostgreSQL', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let repo: RegistryRepository;

  beforeAll(async () => {
    db = await createTestDatabase('wharf_db_spec');
    ds = createDataSource({ ...db, database: db.database });
    await ds.initialize();
    const all = [
      'RegistrySchema1763900000000',
      'CoreSchema1763990000000',
      'StorageLimit1765000000000',
      'TagIdPullTime1765100000000',
      'AccessChangeNotice1765216000000',
      'UploadLeaseHolder1765230000000',
      'Executions1765300000000',
      'TaskJob1765400000000',
      'BlobGcState1765500000000',
      'ImmutableTagRules1765600000000',
      'RetentionPolicy1765700000000',
      'Schedules1765800000000',
      'ManifestAccessory1766000000000',
      'ProjectTrustedKey1766100000000',
      'ScanReports1766200000000',
      'ScannerRegistrations1766300000000',
    ];
    expect(await pendingMigrations(ds)).toEqual(all);
    expect(await runMigrations(ds)).toEqual(all);
    expect(await pendingMigrations(ds)).toEqual([]);
    // The migrations after the registry's schema can be undone and applied again.
    for (let i = 1; i < all.length; i++) await ds.undoLastMigration({ transaction: 'each' });
    expect(await pendingMigrations(ds)).toEqual(all.slice(1));
    expect(await runMigrations(ds)).toEqual(all.slice(1));
    repo = new RegistryRepository(ds);
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('links blobs per repository and stores them once', async () => {
    await repo.linkBlob('lib/a', d('a'), 10);
    await repo.linkBlob('lib/b', d('a'), 10);
    expect(await repo.blobInRepository('lib/a', d('a'))).toBe(10);
    expect(await repo.blobInRepository('lib/c', d('a'))).toBeNull();
    const count = await ds.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM registry_blob`);
    expect(count[0].n).toBe(1);
    expect(await repo.storedBlobs('lib/a', [d('a'), d('b')])).toEqual(new Map([[d('a'), 10]]));
    expect(await repo.unlinkBlob('lib/b', d('a'))).toBe(true);
    expect(await repo.unlinkBlob('lib/b', d('a'))).toBe(false);
    expect(await repo.blobInRepository('lib/b', d('a'))).toBeNull();
  });

  /** A promise the test settles, standing for the storage's syncs of the blob's bytes. */
  function held<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: Error) => void } {
    let resolve!: (value: T) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  }

  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Connections of this database holding a transaction open with nothing running: links waiting on their syncs. */
  async function linksWaiting(): Promise<number> {
    const rows = await ds.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'`,
    );
    return rows[0].n;
  }

  it('links a blob while its bytes are made durable, and shows the link only once they are', async () => {
    const durable = held<string>();
    const linking = repo.linkBlobOnceDurable('lib/overlap', d('c'), 7, undefined, durable.promise);
    await pause(100);
    // The link's statement has run, in a transaction left open for the syncs: nobody sees the blob yet.
    expect(await linksWaiting()).toBe(1);
    expect(await repo.blobSize(d('c'))).toBeNull();
    expect(await repo.blobInRepository('lib/overlap', d('c'))).toBeNull();
    durable.resolve('synced');
    await expect(linking).resolves.toBe('synced');
    expect(await repo.blobInRepository('lib/overlap', d('c'))).toBe(7);
  });

  it('links nothing when the bytes could not be made durable, and fails with that failure', async () => {
    const durable = held<void>();
    const linking = repo.linkBlobOnceDurable('lib/overlap-failed', d('e'), 9, undefined, durable.promise);
    await pause(50);
    durable.reject(new Error('EIO: i/o error, fsync (simulated disk error)'));
    await expect(linking).rejects.toThrow('simulated disk error');
    expect(await repo.blobSize(d('e'))).toBeNull();
    expect(await repo.repositoryExists('lib/overlap-failed')).toBe(false);
  });

  it('fails, and goes on working, when its connection is lost while the bytes are being synced', async () => {
    const durable = held<void>();
    const linking = repo.linkBlobOnceDurable('lib/overlap-lost', d('9'), 3, undefined, durable.promise);
    await pause(100);
    const terminated = await ds.query<{ done: boolean }[]>(
      `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
        WHERE datname = current_database() AND state = 'idle in transaction'`,
    );
    expect(terminated).toEqual([{ done: true }]);
    await pause(50);
    durable.resolve();
    await expect(linking).rejects.toThrow();
    expect(await repo.blobSize(d('9'))).toBeNull();
    // The lost connection was not put back: the next links run as usual.
    await expect(repo.linkBlobOnceDurable('lib/overlap-lost', d('9'), 3, undefined, Promise.resolve())).resolves.toBe(
      undefined,
    );
    expect(await repo.blobInRepository('lib/overlap-lost', d('9'))).toBe(3);
  });

  it('waits for the bytes before failing with a link that could not be made', async () => {
    const durable = held<void>();
    let failed = false;
    // Not an upload id: the link's statement fails at once.
    const linking = repo
      .linkBlobOnceDurable('lib/overlap-bad', d('f'), 1, 'not-a-uuid', durable.promise)
      .catch((error: unknown) => {
        failed = true;
        throw error;
      });
    await pause(100);
    expect(failed).toBe(false);
    durable.resolve();
    await expect(linking).rejects.toThrow(/uuid/);
    expect(await repo.blobSize(d('f'))).toBeNull();
  });

  it('stores manifests with tags, moves tags, deletes tags and manifests with events', async () => {
    const payload = Buffer.from('{"schemaVersion":2}');
    const base = {
      repository: 'lib/a',
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      payload,
      references: [],
    };
    await repo.putManifest({ ...base, digest: d('1'), tag: 'v1' });
    await repo.putManifest({ ...base, digest: d('2'), tag: 'v1', subjectDigest: d('1'), artifactType: 'x/y' });
    await repo.putManifest({ ...base, digest: d('2'), tag: 'v2' });
    expect((await repo.getManifest('lib/a', 'v1', false, true))?.digest).toBe(d('2'));
    expect((await repo.getManifest('lib/a', d('1'), true, false))?.payload).toBeUndefined();
    expect(await repo.listTags('lib/a', 10)).toEqual({ tagsJson: '["v1", "v2"]', last: 'v2', more: false });
    expect(await repo.listTags('lib/a', 1)).toEqual({ tagsJson: '["v1"]', last: 'v1', more: true });
    expect(await repo.listTags('lib/a', 1, 'v1')).toEqual({ tagsJson: '["v2"]', last: 'v2', more: false });
    expect(await repo.listTags('nope', 10)).toBeNull();
    expect((await repo.listReferrers('lib/a', d('1'))).map((r) => r.artifactType)).toEqual(['x/y']);
    expect(await repo.deleteTag('lib/a', 'v2')).toBe(true);
    expect(await repo.deleteTag('lib/a', 'v2')).toBe(false);
    expect(await repo.deleteManifest('lib/a', d('2'))).toBe(true);
    expect(await repo.getManifest('lib/a', 'v1', false, false)).toBeNull();
    expect(await repo.deleteManifest('lib/a', d('2'))).toBe(false);
    const events = await ds.query<{ type: string }[]>(`SELECT type FROM event_outbox ORDER BY id`);
    expect(events.map((e) => e.type)).toEqual([
      'DELETE_BLOB',
      'PUSH_ARTIFACT',
      'PUSH_ARTIFACT',
      'PUSH_ARTIFACT',
      'DELETE_TAG',
      'DELETE_ARTIFACT',
    ]);
  });

  it('leases upload sessions to one writer at a time', async () => {
    await repo.createUpload('00000000-0000-4000-8000-000000000001', 'lib/a', 'uploads/x/data');
    const owner1 = '00000000-0000-4000-8000-0000000000a1';
    const owner2 = '00000000-0000-4000-8000-0000000000a2';
    expect((await repo.acquireUpload('00000000-0000-4000-8000-000000000001', 'lib/a', owner1, 60_000))?.size).toBe(0);
    await expect(
      repo.acquireUpload('00000000-0000-4000-8000-000000000001', 'lib/a', owner2, 60_000),
    ).rejects.toBeInstanceOf(UploadBusyError);
    await repo.releaseUpload('00000000-0000-4000-8000-000000000001', owner1, 42);
    expect((await repo.acquireUpload('00000000-0000-4000-8000-000000000001', 'lib/a', owner2, 60_000))?.size).toBe(42);
    expect(await repo.acquireUpload('00000000-0000-4000-8000-000000000001', 'lib/other', owner2, 1)).toBeNull();
    expect(await repo.deleteStaleUpload('00000000-0000-4000-8000-000000000001', new Date(Date.now() + 60_000))).toBe(
      false,
    );
    await repo.releaseUpload('00000000-0000-4000-8000-000000000001', owner2, 42);
    expect(await repo.deleteStaleUpload('00000000-0000-4000-8000-000000000001', new Date(Date.now() + 60_000))).toBe(
      true,
    );
  });
  it('numbers the tags that exist when tags get their ids, and keeps them unique', async () => {
    await repo.linkBlob('lib/numbered', d('n'), 1);
    // Back to before the tag ids: undo the migrations from that one on.
    const names = ds.migrations.map((migration) => migration.name ?? migration.constructor.name);
    const from = names.indexOf('TagIdPullTime1765100000000');
    for (let i = from; i < names.length; i++) await ds.undoLastMigration({ transaction: 'each' });
    const [{ repository }] = await ds.query<{ repository: string }[]>(
      `SELECT id AS repository FROM registry_repository WHERE name = 'lib/numbered'`,
    );
    const [{ manifest }] = await ds.query<{ manifest: string }[]>(
      `INSERT INTO registry_manifest (repository_id, digest, media_type, payload, size)
         VALUES ($1, $2, 'application/vnd.oci.image.manifest.v1+json', '\\x7b7d', 2) RETURNING id AS manifest`,
      [repository, d('numbered-manifest')],
    );
    await ds.query(
      `INSERT INTO registry_tag (repository_id, name, manifest_id) SELECT $1, 't' || n, $2 FROM generate_series(1, 5) n`,
      [repository, manifest],
    );
    expect(await runMigrations(ds)).toEqual(names.slice(from));
    const rows = await ds.query<{ id: string | null; pull_time: Date | null }[]>(
      `SELECT id, pull_time FROM registry_tag WHERE repository_id = $1`,
      [repository],
    );
    expect(rows).toHaveLength(5);
    expect(rows.every((row) => row.id !== null && row.pull_time === null)).toBe(true);
    expect(new Set(rows.map((row) => row.id)).size).toBe(5);
    await expect(
      ds.query(
        `INSERT INTO registry_tag (id, repository_id, name, manifest_id) OVERRIDING SYSTEM VALUE VALUES ($1, $2, 't6', $3)`,
        [rows[0].id, repository, manifest],
      ),
    ).rejects.toThrow(/registry_tag_id_key/);
  });

  it('classifies the accessories that exist when accessories get their columns', async () => {
    await repo.linkBlob('lib/signed', d('s'), 1);
    const names = ds.migrations.map((migration) => migration.name ?? migration.constructor.name);
    const from = names.indexOf('ManifestAccessory1766000000000');
    for (let i = from; i < names.length; i++) await ds.undoLastMigration({ transaction: 'each' });
    const [{ repository }] = await ds.query<{ repository: string }[]>(
      `SELECT id AS repository FROM registry_repository WHERE name = 'lib/signed'`,
    );
    const subject = d('1');
    const put = async (digest: string, fields: { artifactType?: string; subject?: string; payload?: unknown }) => {
      const [{ id }] = await ds.query<{ id: string }[]>(
        `INSERT INTO registry_manifest (repository_id, digest, media_type, artifact_type, subject_digest, payload, size)
           VALUES ($1, $2, 'application/vnd.oci.image.manifest.v1+json', $3, $4, $5, 2) RETURNING id`,
        [
          repository,
          digest,
          fields.artifactType ?? null,
          fields.subject ?? null,
          Buffer.from(JSON.stringify(fields.payload ?? {})),
        ],
      );
      return id;
    };
    await put(subject, { artifactType: 'application/vnd.oci.image.config.v1+json' });
    await put(d('2'), { artifactType: 'application/vnd.cncf.notary.signature', subject });
    await put(d('3'), { artifactType: 'application/example', subject });
    await put(d('4'), {
      artifactType: 'application/vnd.oci.image.config.v1+json',
      subject,
      payload: { layers: [{}, { annotations: { 'containerd.io/snapshot/nydus-bootstrap': 'true' } }] },
    });
    const signed = await put(d('5'), {});
    const unsigned = await put(d('6'), {});
    const attestation = await put(d('7'), {});
    await ds.query(
      `INSERT INTO registry_manifest_reference (manifest_id, position, kind, digest, media_type, size)
         VALUES ($1, 0, 'layer', $2, 'application/vnd.dev.cosign.simplesigning.v1+json', 1)`,
      [signed, d('s')],
    );
    const tag = `sha256-${'1'.repeat(64)}`;
    await ds.query(
      `INSERT INTO registry_tag (repository_id, name, manifest_id) VALUES ($1, $2, $3), ($1, $4, $5), ($1, $6, $7)`,
      [repository, `${tag}.sig`, signed, `${tag}.sig.old`, unsigned, `${tag}.att`, attestation],
    );
    expect(await runMigrations(ds)).toEqual(names.slice(from));
    const rows = await ds.query<{ digest: string; accessory_subject: string | null; accessory_type: string | null }[]>(
      `SELECT digest, accessory_subject, accessory_type FROM registry_manifest WHERE repository_id = $1 ORDER BY digest`,
      [repository],
    );
    expect(rows.map((r) => [r.digest, r.accessory_subject, r.accessory_type])).toEqual([
      [subject, null, null],
      [d('2'), subject, 'signature.notation'],
      [d('3'), subject, 'subject.accessory'],
      [d('4'), subject, 'accelerator.nydus'],
      [d('5'), subject, 'signature.cosign'],
      [d('6'), null, null],
      [d('7'), subject, 'subject.accessory'],
    ]);
    await expect(
      ds.query(`UPDATE registry_manifest SET accessory_type = 'x' WHERE digest = $1 AND repository_id = $2`, [
        subject,
        repository,
      ]),
    ).rejects.toThrow(/registry_manifest_accessory_check/);
  });
});
