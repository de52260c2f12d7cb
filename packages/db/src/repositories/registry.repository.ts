import { type DataSource, type EntityManager } from 'typeorm';
import { storageLimitErrorOf } from '../storage-limit.js';
import {
  type PooledClient,
  type PreparedQuery,
  connectionSettings,
  pooledClient,
  poolSize,
  preparedQueries,
} from '../prepared-query.js';
import { UPLOAD_LEASE_LOCK_SPACE, UploadLeaseHolder } from '../upload-lease-holder.js';

export type RegistryEventType = 'PUSH_ARTIFACT' | 'PULL_ARTIFACT' | 'DELETE_ARTIFACT' | 'DELETE_TAG' | 'DELETE_BLOB';

export interface RegistryEvent {
  type: RegistryEventType;
  repository: string;
  digest: string;
  tag?: string;
  mediaType?: string;
  size?: number;
  actor?: string;
  /** How many identical events this one stands for (pulls are aggregated per flush interval). */
  count?: number;
  occurredAt?: Date;
}

export interface StoredManifest {
  digest: string;
  mediaType: string;
  size: number;
  subjectDigest: string | null;
  payload?: Buffer;
}

/**
 * What a manifest is an accessory of (by its subject field or cosign's tag convention), and Harbor's type for it
 * (`signature.cosign`, `sbom.harbor`, …), as @wharf/oci classifies it.
 */
export interface ManifestAccessory {
  subject: string;
  type: string;
}

/** A manifest as the writer reads it to delete or copy it: its content, references and tags. */
export interface StoredArtifact {
  digest: string;
  mediaType: string;
  artifactType?: string;
  payload: Buffer;
  subjectDigest?: string;
  annotations?: Record<string, string>;
  accessory?: ManifestAccessory;
  references: ManifestReference[];
  tags: string[];
}

interface ArtifactRow {
  id: string;
  digest: string;
  media_type: string;
  artifact_type: string | null;
  payload: Buffer;
  subject_digest: string | null;
  annotations: Record<string, string> | null;
  accessory_subject: string | null;
  accessory_type: string | null;
  tags: string[];
}

export interface ManifestReference {
  kind: 'config' | 'layer' | 'manifest';
  digest: string;
  mediaType: string;
  size: number;
}

export interface NewManifest {
  repository: string;
  digest: string;
  mediaType: string;
  artifactType?: string;
  payload: Buffer;
  subjectDigest?: string;
  annotations?: Record<string, string>;
  /**
   * The subject this manifest is an accessory of, by its subject field or by `tag` (cosign's convention). A manifest
   * stored already that is no accessory yet becomes this one; an accessory stays what it was.
   */
  accessory?: ManifestAccessory;
  references: ManifestReference[];
  /**
   * Blobs the references need stored and manifests of the repository its index lists: the push is refused with a
   * ReferencesGoneError when garbage collection has taken one meanwhile (see storeManifest).
   */
  requiredBlobs?: string[];
  requiredManifests?: string[];
  tag?: string;
  actor?: string;
  /**
   * Asked before `tag`, which exists, is pointed at this manifest (moved, or a push repeated): inside the push's
   * transaction with the tag's row locked, so no concurrent push slips past it. Rejecting stores nothing.
   */
  beforeTagMove?: (currentDigest: string) => Promise<void>;
}

export interface UploadSession {
  id: string;
  repository: string;
  path: string;
  size: number;
  startedAt: Date;
  updatedAt: Date;
}

export interface TagPage {
  /** The page's tags as a JSON array. */
  tagsJson: string;
  last: string | null;
  more: boolean;
}

export interface Referrer {
  digest: string;
  mediaType: string;
  size: number;
  artifactType: string | null;
  annotations: Record<string, string> | null;
}

/** The NOTIFY channel that carries the names of repositories whose manifests or tags changed. */
export const MANIFEST_CHANGE_CHANNEL = 'wharf_registry_manifests';

/**
 * A push named blobs (or index children) that garbage collection deleted, or is deleting, after the push checked for
 * them: the client is told they are unknown, and pushes them again.
 */
export class ReferencesGoneError extends Error {
  constructor(
    readonly kind: 'blob' | 'manifest',
    readonly digests: string[],
  ) {
    super(`${kind} unknown to registry: ${digests[0]}`);
    this.name = 'ReferencesGoneError';
  }
}

/**
 * A blob being linked turned out to have been deleted by garbage collection while the link was on its way, and its
 * bytes could not be put back: the client uploads it again.
 */
export class BlobGoneError extends Error {
  constructor(readonly digest: string) {
    super(`blob ${digest} was deleted by garbage collection while it was being stored`);
    this.name = 'BlobGoneError';
  }
}

/**
 * Makes sure a blob's bytes are in storage, putting them back if the caller still has them; false when they are gone.
 * A link runs it, holding the blob row's lock, when the blob was being deleted or had no row (see LINK_BLOB).
 */
export type EnsureStored = () => Promise<boolean>;

export class UploadBusyError extends Error {
  constructor(readonly uploadId: string) {
    super(`upload ${uploadId} is being written by another request`);
    this.name = 'UploadBusyError';
  }
}

interface UploadRow {
  id: string;
  repository_name: string;
  path: string;
  size: string;
  started_at: Date;
  updated_at: Date;
}

function toUpload(row: UploadRow): UploadSession {
  return {
    id: row.id,
    repository: row.repository_name,
    path: row.path,
    size: Number(row.size),
    startedAt: row.started_at,
    updatedAt: row.updated_at,
  };
}

// The repository row is written once, at its first push: later pushes only read it, so concurrent pushes to
// one repository never queue on its row lock.
const ENSURE_REPOSITORY = `
  WITH created AS (
    INSERT INTO registry_repository (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id
  )
  SELECT id FROM created UNION ALL SELECT id FROM registry_repository WHERE name = $1`;

/**
 * Records a stored blob and links it to its repository (creating the repository at its first push), and ends the
 * upload session, in one statement. The bytes are durable before this runs, so losing this commit in a database
 * crash cannot leave a row pointing at missing bytes: at worst the client's manifest push then names an unknown
 * blob and the client pushes it again; the synchronous manifest commit that follows flushes this one with it.
 * So it does not wait for its own WAL flush, which takes a disk round trip off every blob upload.
 * `repositories` is 0 only when another transaction created the repository after this statement's snapshot
 * was taken; the caller then runs it again.
 *
 * The blob's row is locked and taken back from garbage collection (state 'none', touched now), and `prior` is the
 * state it had: 'none' or 'delete' when its bytes were never deleted, 'deleting' when they may be, 'absent' when
 * it had no row (a new blob, or one whose deletion has just ended). A row that another transaction inserted after
 * this statement's snapshot is seen by neither the update nor the insert: `prior` is null, and the caller runs the
 * statement again. (The locking subquery returns the state as it was before this statement's update.)
 */
const LINK_BLOB = `
  WITH settings AS (SELECT set_config('synchronous_commit', 'off', true)),
  updated AS (
    UPDATE registry_blob b SET gc_state = 'none', touched_at = now()
      FROM (SELECT digest, gc_state FROM registry_blob WHERE digest = $2 FOR UPDATE) old
     WHERE b.digest = old.digest
    RETURNING old.gc_state AS prior
  ),
  inserted AS (
    INSERT INTO registry_blob (digest, size) SELECT $2, $3 WHERE NOT EXISTS (SELECT 1 FROM updated)
    ON CONFLICT (digest) DO NOTHING RETURNING 'absent'::text AS prior
  ),
  created AS (
    INSERT INTO registry_repository (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id
  ),
  repository AS (
    SELECT id FROM created UNION ALL SELECT id FROM registry_repository WHERE name = $1 LIMIT 1
  ),
  link AS (
    INSERT INTO registry_repository_blob (repository_id, digest)
    SELECT id, $2 FROM repository WHERE EXISTS (SELECT 1 FROM updated UNION ALL SELECT 1 FROM inserted)
    ON CONFLICT (repository_id, digest) DO NOTHING
  ),
  finished AS (
    DELETE FROM registry_upload WHERE $4::uuid IS NOT NULL AND id = $4::uuid
  )
  SELECT (SELECT count(*) FROM settings)::int AS settings, (SELECT count(*) FROM repository)::int AS repositories,
         (SELECT prior FROM updated UNION ALL SELECT prior FROM inserted LIMIT 1) AS prior`;

const UPLOAD_COLUMNS = 'id, repository_name, path, size, started_at, updated_at';

const GET_MANIFEST_BY_TAG = `
  SELECT m.digest, m.media_type, m.size, m.subject_digest, m.payload
  FROM registry_repository r
  JOIN registry_tag t ON t.repository_id = r.id AND t.name = $2
  JOIN registry_manifest m ON m.id = t.manifest_id
  WHERE r.name = $1`;
const HEAD_MANIFEST_BY_TAG = GET_MANIFEST_BY_TAG.replace(', m.payload', '');
const GET_MANIFEST_BY_DIGEST = `
  SELECT m.digest, m.media_type, m.size, m.subject_digest, m.payload
  FROM registry_repository r
  JOIN registry_manifest m ON m.repository_id = r.id AND m.digest = $2
  WHERE r.name = $1`;
const HEAD_MANIFEST_BY_DIGEST = GET_MANIFEST_BY_DIGEST.replace(', m.payload', '');

/** A blob's collection state before a link took it back; see LINK_BLOB. */
type PriorState = 'none' | 'delete' | 'deleting' | 'absent';

/**
 * Runs LINK_BLOB on `query` (the pool, or one connection's transaction). Its repository lookup finds nothing only
 * when another transaction created the repository after the statement's snapshot, and its blob lookup only when
 * another created the blob's row: the next statement sees them. Resolves to the blob's prior state.
 */
async function runLinkBlob(
  query: PreparedQuery,
  name: string,
  digest: string,
  size: number,
  completedUploadId: string | undefined,
): Promise<PriorState> {
  const params = [name, digest, size, completedUploadId ?? null];
  for (let attempt = 0; attempt < 3; attempt++) {
    const rows = await query<{ repositories: number; prior: PriorState | null }>(
      'registry_link_blob',
      LINK_BLOB,
      params,
    );
    const row = rows[0];
    if (row?.repositories === 1 && row.prior !== null) return row.prior;
  }
  throw new Error(`could not record blob ${digest} in repository ${name}`);
}

/** Whether a blob's bytes may have been deleted by garbage collection before its link locked its row. */
function bytesMayBeGone(prior: PriorState): boolean {
  return prior === 'deleting' || prior === 'absent';
}

/** All registry metadata I/O: plain SQL over the shared DataSource, each write and its events in one transaction. */
export class RegistryRepository {
  /** The hot reads (manifest and blob lookups on every pull) and the upload-session writes: see preparedQueries. */
  private readonly prepared: PreparedQuery;

  constructor(private readonly dataSource: DataSource) {
    this.prepared = preparedQueries(dataSource);
  }

  /** How many database connections this process opens at most (harbor.yml `max_open_conns`). */
  get connectionLimit(): number {
    return poolSize(this.dataSource);
  }

  private async ensureRepository(manager: EntityManager, name: string): Promise<string> {
    // Empty only when another transaction created the repository after this statement's snapshot: the next
    // statement sees it.
    for (let attempt = 0; attempt < 3; attempt++) {
      const rows = await manager.query<{ id: string }[]>(ENSURE_REPOSITORY, [name]);
      if (rows.length > 0) return rows[0].id;
    }
    throw new Error(`could not create or find repository ${name}`);
  }

  private async insertEvents(manager: EntityManager | DataSource, events: RegistryEvent[]): Promise<void> {
    if (events.length === 0) return;
    const values: string[] = [];
    const params: unknown[] = [];
    for (const event of events) {
      const { type, occurredAt, ...payload } = event;
      params.push(type, JSON.stringify(payload), occurredAt ?? new Date());
      const n = params.length;
      values.push(`($${n - 2}, $${n - 1}::jsonb, $${n})`);
    }
    await manager.query(`INSERT INTO event_outbox (type, payload, occurred_at) VALUES ${values.join(', ')}`, params);
  }

  /**
   * Tells every process that a repository's manifests or tags changed, so they drop cached copies. NOTIFY is
   * transactional: it is delivered when (and only if) the change commits.
   */
  private async notifyManifestChange(manager: EntityManager, name: string): Promise<void> {
    await manager.query(`SELECT pg_notify($1, $2)`, [MANIFEST_CHANGE_CHANNEL, name]);
  }

  /** Writes events that have no other write to share a transaction with (pulls, batched by the caller). */
  async recordEvents(events: RegistryEvent[]): Promise<void> {
    await this.insertEvents(this.dataSource, events);
  }

  async repositoryExists(name: string): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>(`SELECT 1 FROM registry_repository WHERE name = $1`, [name]);
    return rows.length > 0;
  }

  /** The size of a blob the repository holds, or null. */
  async blobInRepository(name: string, digest: string): Promise<number | null> {
    const rows = await this.prepared<{ size: string }>(
      'registry_blob_in_repository',
      `SELECT b.size FROM registry_repository r
       JOIN registry_repository_blob rb ON rb.repository_id = r.id AND rb.digest = $2
       JOIN registry_blob b ON b.digest = rb.digest AND b.gc_state <> 'deleting'
       WHERE r.name = $1`,
      [name, digest],
    );
    return rows.length > 0 ? Number(rows[0].size) : null;
  }

  /** The size of a stored blob, whichever repository holds it, or null. */
  async blobSize(digest: string): Promise<number | null> {
    const rows = await this.dataSource.query<{ size: string }[]>(
      `SELECT size FROM registry_blob WHERE digest = $1 AND gc_state <> 'deleting'`,
      [digest],
    );
    return rows.length > 0 ? Number(rows[0].size) : null;
  }

  /**
   * Records blob bytes (already durable in storage) and links them to a repository. With `ensureStored`, the link
   * commits only once that has confirmed the bytes are in storage, when garbage collection may have deleted them
   * before the link took the blob back (see LINK_BLOB); a BlobGoneError when they are gone.
   */
  async linkBlob(
    name: string,
    digest: string,
    size: number,
    completedUploadId?: string,
    ensureStored?: EnsureStored,
  ): Promise<void> {
    if (!ensureStored) {
      await runLinkBlob(this.prepared, name, digest, size, completedUploadId);
      return;
    }
    await this.linkBlobOnceDurable(name, digest, size, completedUploadId, Promise.resolve(), ensureStored);
  }

  /**
   * Records blob bytes and links them to a repository, as linkBlob does, while `durable` makes the bytes durable in
   * storage. The statement runs at once, in a transaction that commits only once `durable` has resolved and rolls back
   * if it rejects: the link's work overlaps the storage's syncs, and the database never points at bytes that may not
   * exist. The transaction holds a pooled connection (and the new rows' locks) until then, so callers keep `durable`
   * short. Resolves to what `durable` resolved to; a failure of either is thrown once both have settled. When the
   * blob's bytes may have been deleted by garbage collection before the link locked its row, `ensureStored` is run
   * after `durable`, with the lock held, and the link rolls back with a BlobGoneError if the bytes are gone.
   */
  async linkBlobOnceDurable<T>(
    name: string,
    digest: string,
    size: number,
    completedUploadId: string | undefined,
    durable: Promise<T>,
    ensureStored?: EnsureStored,
  ): Promise<T> {
    // Handled from the start: it may reject while the link is still running.
    const settled = durable.then(
      () => undefined,
      () => undefined,
    );
    let client: PooledClient;
    try {
      client = await pooledClient(this.dataSource);
    } catch (error) {
      await settled;
      throw error;
    }
    let broken: Error | undefined;
    // A connection lost meanwhile (a database restart) fails the queries still to come, and is not reused.
    const lost = (error: Error) => {
      broken ??= error;
    };
    client.on('error', lost);
    try {
      await client.query('BEGIN');
      const onClient: PreparedQuery = async <R>(queryName: string, text: string, values: unknown[]) =>
        (await client.query<R>({ name: queryName, text, values })).rows;
      const prior = await runLinkBlob(onClient, name, digest, size, completedUploadId);
      const result = await durable;
      if (ensureStored && bytesMayBeGone(prior) && !(await ensureStored())) throw new BlobGoneError(digest);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      await settled;
      throw error;
    } finally {
      client.removeListener('error', lost);
      client.release(broken);
    }
  }

  /** Unlinks a blob from a repository (its bytes stay for garbage collection). False when it was not linked. */
  async unlinkBlob(name: string, digest: string, actor?: string): Promise<boolean> {
    return this.dataSource.transaction(async (m) => {
      const rows = await m.query<[unknown[], number]>(
        `DELETE FROM registry_repository_blob rb USING registry_repository r
         WHERE rb.repository_id = r.id AND r.name = $1 AND rb.digest = $2
         RETURNING rb.digest`,
        [name, digest],
      );
      if ((rows[0]?.length ?? 0) === 0) return false;
      await this.insertEvents(m, [{ type: 'DELETE_BLOB', repository: name, digest, actor }]);
      return true;
    });
  }

  /**
   * The stored size of each blob among those given that the repository holds; digests it does not hold are absent.
   * Sizes are the bytes received, so a manifest's descriptors can be held to them.
   */
  async storedBlobs(name: string, digests: string[]): Promise<Map<string, number>> {
    if (digests.length === 0) return new Map();
    const rows = await this.prepared<{ digest: string; size: string }>(
      'registry_stored_blobs',
      `SELECT rb.digest, b.size FROM registry_repository r
       JOIN registry_repository_blob rb ON rb.repository_id = r.id AND rb.digest = ANY($2::text[])
       JOIN registry_blob b ON b.digest = rb.digest AND b.gc_state <> 'deleting'
       WHERE r.name = $1`,
      [name, digests],
    );
    return new Map(rows.map((r) => [r.digest, Number(r.size)]));
  }

  /** The media type and size of each manifest among those given that the repository holds. */
  async storedManifests(name: string, digests: string[]): Promise<Map<string, { mediaType: string; size: number }>> {
    if (digests.length === 0) return new Map();
    const rows = await this.prepared<{ digest: string; media_type: string; size: string }>(
      'registry_stored_manifests',
      `SELECT m.digest, m.media_type, m.size FROM registry_repository r
       JOIN registry_manifest m ON m.repository_id = r.id AND m.digest = ANY($2::text[])
       WHERE r.name = $1`,
      [name, digests],
    );
    return new Map(rows.map((r) => [r.digest, { mediaType: r.media_type, size: Number(r.size) }]));
  }

  /** Stores a manifest (idempotently), its references, the tag if any, and the push event, in one transaction. */
  /**
   * Stores a manifest with its references and tag. A StorageLimitExceededError when the database refuses it because
   * it would take the repository's project past its storage limit (nothing is stored then).
   */
  async putManifest(manifest: NewManifest): Promise<void> {
    try {
      await this.storeManifest(manifest);
    } catch (error) {
      throw storageLimitErrorOf(error) ?? error;
    }
  }

  private async storeManifest(manifest: NewManifest): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const repositoryId = await this.ensureRepository(m, manifest.repository);
      await this.storeManifestRows(m, repositoryId, manifest);
    });
  }

  private async storeManifestRows(m: EntityManager, repositoryId: string, manifest: NewManifest): Promise<void> {
    await this.holdReferences(m, repositoryId, manifest);
    // DO UPDATE (a no-op: same digest, same content) rather than DO NOTHING: it always returns the row and
    // waits on a concurrent delete of it, so a push racing a delete of the same digest still ends stored.
    // xmax = 0 tells a row this statement inserted from one that was there before. A stored manifest pushed again
    // under a cosign convention tag becomes an accessory then; one that is an accessory already stays as it is (the
    // check constraint keeps the two accessory columns set together, so both come from the same row).
    const [row] = await m.query<{ id: string; inserted: boolean }[]>(
      `INSERT INTO registry_manifest
         (repository_id, digest, media_type, artifact_type, size, payload, subject_digest, annotations,
          accessory_subject, accessory_type)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (repository_id, digest) DO UPDATE SET media_type = EXCLUDED.media_type,
         accessory_subject = COALESCE(registry_manifest.accessory_subject, EXCLUDED.accessory_subject),
         accessory_type = COALESCE(registry_manifest.accessory_type, EXCLUDED.accessory_type)
       RETURNING id, (xmax = 0) AS inserted`,
      [
        repositoryId,
        manifest.digest,
        manifest.mediaType,
        manifest.artifactType ?? null,
        manifest.payload.length,
        manifest.payload,
        manifest.subjectDigest ?? null,
        manifest.annotations ? JSON.stringify(manifest.annotations) : null,
        manifest.accessory?.subject ?? null,
        manifest.accessory?.type ?? null,
      ],
    );
    const manifestId = row.id;
    if (row.inserted) {
      if (manifest.references.length > 0) {
        const values: string[] = [];
        const params: unknown[] = [manifestId];
        manifest.references.forEach((ref, position) => {
          params.push(position, ref.kind, ref.digest, ref.mediaType, ref.size);
          const n = params.length;
          values.push(`($1, $${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`);
        });
        await m.query(
          `INSERT INTO registry_manifest_reference (manifest_id, position, kind, digest, media_type, size)
           VALUES ${values.join(', ')}`,
          params,
        );
      }
    }
    if (manifest.tag !== undefined)
      await this.storeTag(m, repositoryId, manifest.tag, manifestId, manifest.beforeTagMove);
    await this.notifyManifestChange(m, manifest.repository);
    await this.insertEvents(m, [
      {
        type: 'PUSH_ARTIFACT',
        repository: manifest.repository,
        digest: manifest.digest,
        tag: manifest.tag,
        mediaType: manifest.mediaType,
        size: manifest.payload.length,
        actor: manifest.actor,
      },
    ]);
  }

  /**
   * Points a pushed tag at its manifest. With `beforeTagMove`, a tag that exists is locked and the check asked before
   * it moves; a tag created meanwhile by a concurrent push is found by the insert's conflict, so it is asked about too.
   */
  private async storeTag(
    m: EntityManager,
    repositoryId: string,
    tag: string,
    manifestId: string,
    beforeTagMove: NewManifest['beforeTagMove'],
  ): Promise<void> {
    if (beforeTagMove) {
      const created = await m.query<unknown[]>(
        `INSERT INTO registry_tag (repository_id, name, manifest_id) VALUES ($1, $2, $3)
         ON CONFLICT (repository_id, name) DO NOTHING RETURNING manifest_id`,
        [repositoryId, tag, manifestId],
      );
      if (created.length > 0) return;
      const current = await m.query<{ digest: string }[]>(
        `SELECT mf.digest FROM registry_tag t JOIN registry_manifest mf ON mf.id = t.manifest_id
          WHERE t.repository_id = $1 AND t.name = $2
          FOR UPDATE OF t`,
        [repositoryId, tag],
      );
      if (current.length > 0) await beforeTagMove(current[0].digest);
    }
    await m.query(
      `INSERT INTO registry_tag (repository_id, name, manifest_id) VALUES ($1, $2, $3)
       ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = EXCLUDED.manifest_id, updated_at = now()`,
      [repositoryId, tag, manifestId],
    );
  }

  /**
   * Holds what a manifest being stored references against garbage collection until the manifest commits. Each blob's
   * row is share-locked, so a collection cannot start deleting it meanwhile, and one that a collection has marked
   * for deletion is taken back (state 'none'): that write is what the collection's own locked update sees, so it
   * leaves the blob be. A blob a collection is already deleting counts as gone, and so does an index's child that
   * is no longer stored (key-share-locked against a concurrent delete): ReferencesGoneError. Rows are locked in
   * digest order, as the collection locks them.
   */
  private async holdReferences(m: EntityManager, repositoryId: string, manifest: NewManifest): Promise<void> {
    const blobs = [...new Set(manifest.requiredBlobs ?? [])].sort();
    if (blobs.length > 0) {
      const rows = await m.query<{ digest: string; gc_state: string }[]>(
        `SELECT digest, gc_state FROM registry_blob WHERE digest = ANY($1::text[]) ORDER BY digest FOR SHARE`,
        [blobs],
      );
      const marked = rows.filter((r) => r.gc_state === 'delete').map((r) => r.digest);
      if (marked.length > 0) {
        await m.query(
          `UPDATE registry_blob SET gc_state = 'none', touched_at = now()
           WHERE digest = ANY($1::text[]) AND gc_state = 'delete'`,
          [marked],
        );
      }
      const held = new Set(rows.filter((r) => r.gc_state !== 'deleting').map((r) => r.digest));
      const gone = blobs.filter((digest) => !held.has(digest));
      if (gone.length > 0) throw new ReferencesGoneError('blob', gone);
    }
    const children = [...new Set(manifest.requiredManifests ?? [])].sort();
    if (children.length > 0) {
      const rows = await m.query<{ digest: string }[]>(
        `SELECT digest FROM registry_manifest WHERE repository_id = $1 AND digest = ANY($2::text[])
         ORDER BY digest FOR KEY SHARE`,
        [repositoryId, children],
      );
      const held = new Set(rows.map((r) => r.digest));
      const gone = children.filter((digest) => !held.has(digest));
      if (gone.length > 0) throw new ReferencesGoneError('manifest', gone);
    }
  }

  async getManifest(
    name: string,
    reference: string,
    byDigest: boolean,
    withPayload: boolean,
  ): Promise<StoredManifest | null> {
    const [statement, sql] = byDigest
      ? withPayload
        ? ['registry_get_manifest_by_digest', GET_MANIFEST_BY_DIGEST]
        : ['registry_head_manifest_by_digest', HEAD_MANIFEST_BY_DIGEST]
      : withPayload
        ? ['registry_get_manifest_by_tag', GET_MANIFEST_BY_TAG]
        : ['registry_head_manifest_by_tag', HEAD_MANIFEST_BY_TAG];
    const rows = await this.prepared<{
      digest: string;
      media_type: string;
      size: string;
      subject_digest: string | null;
      payload?: Buffer;
    }>(statement, sql, [name, reference]);
    const row = rows[0];
    if (!row) return null;
    const stored: StoredManifest = {
      digest: row.digest,
      mediaType: row.media_type,
      size: Number(row.size),
      subjectDigest: row.subject_digest,
    };
    if (row.payload) stored.payload = row.payload;
    return stored;
  }

  /**
   * Runs `work` in the caller's transaction when one is given (so a change commits with the caller's other writes,
   * such as an audit record), else in a transaction of its own.
   */
  private inTransaction<T>(manager: EntityManager | undefined, work: (m: EntityManager) => Promise<T>): Promise<T> {
    return manager ? work(manager) : this.dataSource.transaction(work);
  }

  /** Deletes a manifest and every tag pointing at it. False when the repository does not hold it. */
  async deleteManifest(name: string, digest: string, actor?: string, manager?: EntityManager): Promise<boolean> {
    return this.inTransaction(manager, async (m) => {
      const rows = await m.query<[{ media_type: string; size: string }[], number]>(
        `DELETE FROM registry_manifest mf USING registry_repository r
         WHERE mf.repository_id = r.id AND r.name = $1 AND mf.digest = $2
         RETURNING mf.media_type, mf.size`,
        [name, digest],
      );
      const deleted = rows[0];
      if (!deleted || deleted.length === 0) return false;
      await this.notifyManifestChange(m, name);
      await this.insertEvents(m, [
        {
          type: 'DELETE_ARTIFACT',
          repository: name,
          digest,
          mediaType: deleted[0].media_type,
          size: Number(deleted[0].size),
          actor,
        },
      ]);
      return true;
    });
  }

  /** Deletes one tag; the manifest stays. False when the tag does not exist. */
  async deleteTag(name: string, tag: string, actor?: string, manager?: EntityManager): Promise<boolean> {
    return this.inTransaction(manager, async (m) => {
      const rows = await m.query<[{ digest: string }[], number]>(
        `DELETE FROM registry_tag t USING registry_repository r, registry_manifest mf
         WHERE t.repository_id = r.id AND r.name = $1 AND t.name = $2 AND mf.id = t.manifest_id
         RETURNING mf.digest`,
        [name, tag],
      );
      const deleted = rows[0];
      if (!deleted || deleted.length === 0) return false;
      await this.notifyManifestChange(m, name);
      await this.insertEvents(m, [{ type: 'DELETE_TAG', repository: name, digest: deleted[0].digest, tag, actor }]);
      return true;
    });
  }

  /**
   * Adds a tag to a stored manifest without moving an existing one: false when the repository already has a tag
   * of that name (wherever it points) or does not hold the manifest.
   */
  async createTag(name: string, tag: string, digest: string, manager?: EntityManager): Promise<boolean> {
    return this.inTransaction(manager, async (m) => {
      const rows = await m.query<{ manifest_id: string }[]>(
        `INSERT INTO registry_tag (repository_id, name, manifest_id)
         SELECT r.id, $2, mf.id FROM registry_repository r
           JOIN registry_manifest mf ON mf.repository_id = r.id AND mf.digest = $3
          WHERE r.name = $1
         ON CONFLICT (repository_id, name) DO NOTHING
         RETURNING manifest_id`,
        [name, tag, digest],
      );
      if (rows.length === 0) return false;
      await this.notifyManifestChange(m, name);
      return true;
    });
  }

  /** Runs `work` in one transaction: the writer's reads, policy checks and writes commit or roll back together. */
  transaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /** A manifest of the repository as stored, with its tags, its references and its row locked; null when absent. */
  async lockManifest(name: string, digest: string, m: EntityManager): Promise<StoredArtifact | null> {
    const rows = await m.query<ArtifactRow[]>(
      `SELECT mf.id, mf.digest, mf.media_type, mf.artifact_type, mf.payload, mf.subject_digest, mf.annotations,
              mf.accessory_subject, mf.accessory_type,
              ARRAY(SELECT t.name FROM registry_tag t WHERE t.manifest_id = mf.id ORDER BY t.name) AS tags
         FROM registry_repository r JOIN registry_manifest mf ON mf.repository_id = r.id AND mf.digest = $2
        WHERE r.name = $1
        FOR UPDATE OF mf`,
      [name, digest],
    );
    const row = rows[0];
    if (!row) return null;
    const references = await m.query<
      { kind: ManifestReference['kind']; digest: string; media_type: string; size: string }[]
    >(
      `SELECT kind, digest, media_type, size FROM registry_manifest_reference WHERE manifest_id = $1 ORDER BY position`,
      [row.id],
    );
    return {
      digest: row.digest,
      mediaType: row.media_type,
      artifactType: row.artifact_type ?? undefined,
      payload: row.payload,
      subjectDigest: row.subject_digest ?? undefined,
      annotations: row.annotations ?? undefined,
      ...(row.accessory_subject !== null && row.accessory_type !== null
        ? { accessory: { subject: row.accessory_subject, type: row.accessory_type } }
        : {}),
      tags: row.tags,
      references: references.map((r) => ({
        kind: r.kind,
        digest: r.digest,
        mediaType: r.media_type,
        size: Number(r.size),
      })),
    };
  }

  /**
   * The digests of the repository's accessories of the manifest `digest` (manifests whose subject it is, by their
   * subject field or by cosign's tag convention), oldest first.
   */
  async accessoryDigests(name: string, digest: string, m: EntityManager): Promise<string[]> {
    const rows = await m.query<{ digest: string }[]>(
      `SELECT mf.digest FROM registry_repository r
         JOIN registry_manifest mf ON mf.repository_id = r.id AND mf.accessory_subject = $2
        WHERE r.name = $1 ORDER BY mf.created_at, mf.id`,
      [name, digest],
    );
    return rows.map((r) => r.digest);
  }

  /**
   * Makes a stored manifest of the repository an accessory (a tag of cosign's convention was given to it). False when
   * the repository does not hold it or it is an accessory already, which it stays.
   */
  async attachAccessory(
    name: string,
    digest: string,
    accessory: ManifestAccessory,
    m: EntityManager,
  ): Promise<boolean> {
    const rows = await m.query<[unknown[], number]>(
      `UPDATE registry_manifest mf SET accessory_subject = $3, accessory_type = $4
         FROM registry_repository r
        WHERE mf.repository_id = r.id AND r.name = $1 AND mf.digest = $2 AND mf.accessory_subject IS NULL
        RETURNING mf.id`,
      [name, digest, accessory.subject, accessory.type],
    );
    if ((rows[0]?.length ?? 0) === 0) return false;
    await this.notifyManifestChange(m, name);
    return true;
  }

  /** The digests of the repository's indexes that list the manifest `digest`. */
  async parentDigests(name: string, digest: string, m: EntityManager): Promise<string[]> {
    const rows = await m.query<{ digest: string }[]>(
      `SELECT DISTINCT parent.digest FROM registry_repository r
         JOIN registry_manifest parent ON parent.repository_id = r.id
         JOIN registry_manifest_reference ref ON ref.manifest_id = parent.id AND ref.kind = 'manifest' AND ref.digest = $2
        WHERE r.name = $1`,
      [name, digest],
    );
    return rows.map((r) => r.digest);
  }

  /** The digest a tag of the repository points at, or null when there is no such tag. */
  async tagTarget(name: string, tag: string, m?: EntityManager): Promise<string | null> {
    if (!m) return (await this.getManifest(name, tag, false, false))?.digest ?? null;
    const rows = await m.query<{ digest: string }[]>(
      `SELECT mf.digest FROM registry_repository r
         JOIN registry_tag t ON t.repository_id = r.id AND t.name = $2
         JOIN registry_manifest mf ON mf.id = t.manifest_id
        WHERE r.name = $1
        FOR UPDATE OF t`,
      [name, tag],
    );
    return rows[0]?.digest ?? null;
  }

  /** Every manifest of the repository with its tags. */
  async repositoryManifests(name: string, m: EntityManager): Promise<{ digest: string; tags: string[] }[]> {
    return m.query<{ digest: string; tags: string[] }[]>(
      `SELECT mf.digest, ARRAY(SELECT t.name FROM registry_tag t WHERE t.manifest_id = mf.id ORDER BY t.name) AS tags
         FROM registry_repository r JOIN registry_manifest mf ON mf.repository_id = r.id
        WHERE r.name = $1 ORDER BY mf.id`,
      [name],
    );
  }

  /**
   * Stores a manifest of another repository in `name` as a push would (creating the repository), linking the blobs it
   * references into it: the bytes are already in storage, so nothing is uploaded. A PUSH_ARTIFACT event when the
   * manifest is new to the repository (it then gets `tag`, if given); false when it was there already. The database's
   * usage triggers count what is new to the project, and refuse it past the project's storage limit
   * (StorageLimitExceededError).
   */
  async copyManifest(
    name: string,
    artifact: StoredArtifact,
    tag: string | undefined,
    actor: string | undefined,
    m: EntityManager,
  ): Promise<boolean> {
    try {
      const repositoryId = await this.ensureRepository(m, name);
      const blobs = [...new Set(artifact.references.filter((r) => r.kind !== 'manifest').map((r) => r.digest))];
      if (blobs.length > 0) {
        await m.query(
          `INSERT INTO registry_repository_blob (repository_id, digest)
           SELECT $1, b.digest FROM registry_blob b WHERE b.digest = ANY($2::text[])
           ON CONFLICT (repository_id, digest) DO NOTHING`,
          [repositoryId, blobs],
        );
      }
      const exists = await m.query<unknown[]>(
        `SELECT 1 FROM registry_manifest WHERE repository_id = $1 AND digest = $2`,
        [repositoryId, artifact.digest],
      );
      if (exists.length > 0) return false;
      await this.storeManifestRows(m, repositoryId, {
        repository: name,
        digest: artifact.digest,
        mediaType: artifact.mediaType,
        artifactType: artifact.artifactType,
        payload: artifact.payload,
        subjectDigest: artifact.subjectDigest,
        annotations: artifact.annotations,
        accessory: artifact.accessory,
        references: artifact.references,
        // Held against garbage collection as a push's are: the copy commits only with every blob and child stored.
        requiredBlobs: blobs,
        requiredManifests: artifact.references.filter((r) => r.kind === 'manifest').map((r) => r.digest),
        tag,
        actor,
      });
      return true;
    } catch (error) {
      throw storageLimitErrorOf(error) ?? error;
    }
  }

  /** Points a tag at a manifest of the repository, creating it or moving it, with the tag's push event. */
  async pointTag(
    name: string,
    tag: string,
    digest: string,
    actor: string | undefined,
    m: EntityManager,
  ): Promise<void> {
    const rows = await m.query<{ media_type: string; size: string }[]>(
      `INSERT INTO registry_tag (repository_id, name, manifest_id)
       SELECT r.id, $2, mf.id FROM registry_repository r
         JOIN registry_manifest mf ON mf.repository_id = r.id AND mf.digest = $3
        WHERE r.name = $1
       ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = EXCLUDED.manifest_id, updated_at = now()
       RETURNING (SELECT media_type FROM registry_manifest WHERE id = manifest_id) AS media_type,
                 (SELECT size FROM registry_manifest WHERE id = manifest_id) AS size`,
      [name, tag, digest],
    );
    if (rows.length === 0) throw new Error(`repository ${name} holds no manifest ${digest} to tag`);
    await this.notifyManifestChange(m, name);
    await this.insertEvents(m, [
      {
        type: 'PUSH_ARTIFACT',
        repository: name,
        digest,
        tag,
        mediaType: rows[0].media_type,
        size: Number(rows[0].size),
        actor,
      },
    ]);
  }

  /**
   * Deletes a repository with all its manifests and tags (its blobs stay for garbage collection), recording a
   * DELETE_ARTIFACT event per manifest. False when the repository does not exist.
   */
  async deleteRepository(name: string, actor?: string, manager?: EntityManager): Promise<boolean> {
    return this.inTransaction(manager, async (m) => {
      // The row lock holds off pushes that would add manifests between the two deletes.
      const repository = await m.query<{ id: string }[]>(
        `SELECT id FROM registry_repository WHERE name = $1 FOR UPDATE`,
        [name],
      );
      if (repository.length === 0) return false;
      const repositoryId = repository[0].id;
      // One statement for every manifest's event, so a repository of any size is deleted without a row per
      // manifest passing through here. The payload has the fields insertEvents writes, nulls left out.
      await m.query(
        `WITH deleted AS (
           DELETE FROM registry_manifest WHERE repository_id = $1 RETURNING digest, media_type, size
         )
         INSERT INTO event_outbox (type, payload, occurred_at)
         SELECT 'DELETE_ARTIFACT',
                jsonb_strip_nulls(jsonb_build_object('repository', $2::text, 'digest', digest,
                                                     'mediaType', media_type, 'size', size, 'actor', $3::text)),
                now()
           FROM deleted`,
        [repositoryId, name, actor ?? null],
      );
      await m.query(`DELETE FROM registry_repository WHERE id = $1`, [repositoryId]);
      await this.notifyManifestChange(m, name);
      return true;
    });
  }

  /**
   * One page of tags in lexical order after `last`, at most `limit`, as a JSON array built by PostgreSQL (a
   * repository may hold thousands of tags: the response text is assembled without a row per tag in between),
   * with the page's last tag and whether more follow. Null when the repository does not exist.
   */
  async listTags(name: string, limit: number, last?: string): Promise<TagPage | null> {
    const rows = await this.prepared<{ found: boolean; tags: string; last: string | null; more: boolean }>(
      'registry_list_tags',
      `WITH repo AS (SELECT id FROM registry_repository WHERE name = $1),
       page AS (
         SELECT t.name FROM registry_tag t JOIN repo ON t.repository_id = repo.id
         WHERE $2::text IS NULL OR t.name > $2
         ORDER BY t.name LIMIT $3
       )
       SELECT EXISTS (SELECT 1 FROM repo) AS found,
              (SELECT coalesce(json_agg(name ORDER BY name), '[]')::text FROM page) AS tags,
              (SELECT max(name) FROM page) AS last,
              EXISTS (
                SELECT 1 FROM registry_tag t JOIN repo ON t.repository_id = repo.id
                WHERE t.name > (SELECT max(name) FROM page)
              ) AS more`,
      [name, last ?? null, limit],
    );
    const row = rows[0];
    if (!row?.found) return null;
    return { tagsJson: row.tags, last: row.last, more: row.more };
  }

  async listRepositories(limit: number, last?: string): Promise<string[]> {
    const rows = await this.dataSource.query<{ name: string }[]>(
      `SELECT name FROM registry_repository WHERE ($1::text IS NULL OR name > $1) ORDER BY name LIMIT $2`,
      [last ?? null, limit],
    );
    return rows.map((r) => r.name);
  }

  async listReferrers(name: string, subjectDigest: string): Promise<Referrer[]> {
    const rows = await this.dataSource.query<
      {
        digest: string;
        media_type: string;
        size: string;
        artifact_type: string | null;
        annotations: Record<string, string> | null;
      }[]
    >(
      `SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations
       FROM registry_repository r
       JOIN registry_manifest m ON m.repository_id = r.id AND m.subject_digest = $2
       WHERE r.name = $1 ORDER BY m.created_at, m.id`,
      [name, subjectDigest],
    );
    return rows.map((r) => ({
      digest: r.digest,
      mediaType: r.media_type,
      size: Number(r.size),
      artifactType: r.artifact_type,
      annotations: r.annotations,
    }));
  }

  /**
   * Opens an upload session. No bytes belong to it yet, so losing this commit in a database crash loses nothing but
   * the session: the client's next request for it hears that the upload is unknown, and clients start the upload
   * again then. So it does not wait for its own WAL flush, which takes a disk round trip off every push's POST.
   */
  async createUpload(id: string, name: string, path: string): Promise<UploadSession> {
    const rows = await this.prepared<UploadRow>(
      'registry_create_upload',
      `WITH settings AS (SELECT set_config('synchronous_commit', 'off', true))
       INSERT INTO registry_upload (id, repository_name, path) SELECT $1, $2, $3 FROM settings
       RETURNING ${UPLOAD_COLUMNS}`,
      [id, name, path],
    );
    return toUpload(rows[0]);
  }

  async getUpload(id: string, name: string): Promise<UploadSession | null> {
    const rows = await this.prepared<UploadRow>(
      'registry_get_upload',
      `SELECT ${UPLOAD_COLUMNS} FROM registry_upload WHERE id = $1 AND repository_name = $2`,
      [id, name],
    );
    return rows[0] ? toUpload(rows[0]) : null;
  }

  /**
   * Takes the upload's write lease so that only one request appends at a time, on any process. Null when the
   * session does not exist; UploadBusyError while another request holds the lease: one that has not expired and
   * whose holder (the process that took it, see UploadLeaseHolder) still holds its lock. A lease whose process is
   * gone is taken over at once. `holder` is the key of the hold the lease is taken under.
   */
  async acquireUpload(
    id: string,
    name: string,
    owner: string,
    leaseMs: number,
    holder?: number,
  ): Promise<UploadSession | null> {
    const updated = await this.prepared<UploadRow>(
      'registry_acquire_upload',
      `UPDATE registry_upload SET lease_owner = $3, lease_until = now() + ($4 || ' milliseconds')::interval,
         lease_holder = $5
       WHERE id = $1 AND repository_name = $2 AND (
         lease_until IS NULL OR lease_until < now()
         OR (lease_holder IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM pg_locks l
           WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND l.classid = ${UPLOAD_LEASE_LOCK_SPACE}::oid AND l.objid = lease_holder::oid)))
       RETURNING ${UPLOAD_COLUMNS}`,
      [id, name, owner, String(leaseMs), holder ?? null],
    );
    if (updated.length > 0) return toUpload(updated[0]);
    const existing = await this.getUpload(id, name);
    if (existing) throw new UploadBusyError(id);
    return null;
  }

  async renewUploadLease(id: string, owner: string, leaseMs: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE registry_upload SET lease_until = now() + ($3 || ' milliseconds')::interval
       WHERE id = $1 AND lease_owner = $2`,
      [id, owner, String(leaseMs)],
    );
  }

  /**
   * Records the bytes written so far and gives the lease back. False when the lease was no longer this owner's
   * (taken over after it expired or its holder lost its lock): nothing is recorded then.
   */
  async releaseUpload(id: string, owner: string, size: number): Promise<boolean> {
    const rows = await this.prepared(
      'registry_release_upload',
      `UPDATE registry_upload SET size = $3, lease_owner = NULL, lease_until = NULL, lease_holder = NULL,
         updated_at = now()
       WHERE id = $1 AND lease_owner = $2
       RETURNING id`,
      [id, owner, size],
    );
    return rows.length > 0;
  }

  /** A holder of upload leases for this process, on a connection of its own (see UploadLeaseHolder). */
  uploadLeaseHolder(): UploadLeaseHolder {
    return new UploadLeaseHolder(connectionSettings(this.dataSource));
  }

  async deleteUpload(id: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM registry_upload WHERE id = $1`, [id]);
  }

  /** Upload sessions untouched since `cutoff` and not being written now. */
  async staleUploads(cutoff: Date, limit: number): Promise<UploadSession[]> {
    const rows = await this.dataSource.query<UploadRow[]>(
      `SELECT id, repository_name, path, size, started_at, updated_at FROM registry_upload
       WHERE updated_at < $1 AND (lease_until IS NULL OR lease_until < now())
       ORDER BY updated_at LIMIT $2`,
      [cutoff, limit],
    );
    return rows.map(toUpload);
  }

  /**
   * Removes a stale session only if it is still stale and unleased at this instant, so a purge never races a
   * request that has just started writing to it. True when it was removed.
   */
  async deleteStaleUpload(id: string, cutoff: Date): Promise<boolean> {
    const rows = await this.dataSource.query<[unknown[], number]>(
      `DELETE FROM registry_upload WHERE id = $1 AND updated_at < $2 AND (lease_until IS NULL OR lease_until < now())
       RETURNING id`,
      [id, cutoff],
    );
    return (rows[0]?.length ?? 0) > 0;
  }

  /**
   * Whether Wharf's core has ever started on this database: core creates its admin user at its first start. Until it
   * has, nothing delivers the registry's events.
   */
  async coreHasStarted(): Promise<boolean> {
    const rows = await this.dataSource.query<{ started: boolean }[]>(
      `SELECT EXISTS (SELECT 1 FROM wharf_user) AS started`,
    );
    return rows[0]?.started === true;
  }

  /**
   * Deletes up to `limit` of the oldest events after id `afterId` that occurred more than `ageMs` ago, delivered or
   * not, unless a core has started on the database (checked by the same statement, so a core starting during a long
   * trim loses nothing). Resolves to how many were deleted and the highest id among them, where the next batch
   * starts.
   */
  async discardEventsNoCoreDelivers(
    ageMs: number,
    limit: number,
    afterId: number,
  ): Promise<{ deleted: number; lastId: number | null }> {
    const rows = await this.dataSource.query<{ deleted: number; last_id: string | null }[]>(
      `WITH doomed AS (
         SELECT id FROM event_outbox
          WHERE id > $3 AND occurred_at < now() - $1::double precision * interval '1 millisecond'
            AND NOT EXISTS (SELECT 1 FROM wharf_user)
          ORDER BY id LIMIT $2),
       gone AS (DELETE FROM event_outbox e USING doomed WHERE e.id = doomed.id RETURNING e.id)
       SELECT count(*)::int AS deleted, max(id) AS last_id FROM gone`,
      [ageMs, limit, afterId],
    );
    const lastId = rows[0]?.last_id;
    return { deleted: rows[0]?.deleted ?? 0, lastId: lastId === null || lastId === undefined ? null : Number(lastId) };
  }

  async uploadIds(): Promise<Set<string>> {
    const rows = await this.dataSource.query<{ id: string }[]>(`SELECT id FROM registry_upload`);
    return new Set(rows.map((r) => r.id));
  }
}
