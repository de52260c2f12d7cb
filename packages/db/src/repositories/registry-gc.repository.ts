import pg from 'pg';
import { type DataSource } from 'typeorm';
import { connectionSettings } from '../prepared-query.js';
import { type RegistryRepository } from './registry.repository.js';

/** The first key of the advisory lock one garbage collection at a time holds (the second is 0). */
const GC_LOCK_SPACE = 0x57524643;

/** An untagged manifest garbage collection may delete. */
export interface GcManifest {
  id: string;
  repository: string;
  digest: string;
}

/** A blob garbage collection may delete: its digest and size. */
export interface GcBlob {
  digest: string;
  size: number;
}

export class GcBusyError extends Error {
  constructor() {
    super('another garbage collection is running');
    this.name = 'GcBusyError';
  }
}

/**
 * The mark's working state for one collection: a connection of its own holding the collection's advisory lock and
 * its temporary tables. PostgreSQL drops both when the connection ends, also when the process is killed.
 */
export class GcSession {
  private constructor(private readonly client: pg.Client) {}

  static async open(dataSource: DataSource): Promise<GcSession> {
    const client = new pg.Client(connectionSettings(dataSource));
    // A connection lost mid-run fails the next query; unlistened, its error event would end the process.
    client.on('error', () => undefined);
    await client.connect();
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        `SELECT pg_try_advisory_lock(${GC_LOCK_SPACE}, 0) AS locked`,
      );
      if (!rows[0]?.locked) throw new GcBusyError();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return new GcSession(client);
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }

  /** The database's time, `hours` ago: the time window's start, by the clock the rows' times are written with. */
  async cutoff(hours: number): Promise<Date> {
    const { rows } = await this.client.query<{ cutoff: Date }>(
      `SELECT now() - $1::double precision * interval '1 hour' AS cutoff`,
      [hours],
    );
    return rows[0].cutoff;
  }

  /**
   * The untagged manifests to delete, as Harbor's collection chooses them, into the temporary table gc_manifest.
   * A manifest is kept when it is tagged or younger than the time window (a push by digest may be in progress: an
   * index's children are pushed before it), and so is everything a kept manifest needs: the children of a kept index
   * and the referrers (accessories: signatures, SBOMs) of a kept subject. Every other manifest is deleted.
   */
  async markManifests(cutoff: Date): Promise<{ count: number }> {
    await this.client.query(`DROP TABLE IF EXISTS gc_manifest`);
    await this.client.query(
      `CREATE TEMPORARY TABLE gc_manifest AS
       WITH RECURSIVE kept (id, repository_id, digest) AS (
         SELECT m.id, m.repository_id, m.digest FROM registry_manifest m
          WHERE m.created_at >= $1 OR EXISTS (SELECT 1 FROM registry_tag t WHERE t.manifest_id = m.id)
         UNION
         SELECT n.id, n.repository_id, n.digest
           FROM kept k
           CROSS JOIN LATERAL (
             SELECT c.id, c.repository_id, c.digest
               FROM registry_manifest_reference r
               JOIN registry_manifest c ON c.repository_id = k.repository_id AND c.digest = r.digest
              WHERE r.manifest_id = k.id AND r.kind = 'manifest'
             UNION ALL
             SELECT a.id, a.repository_id, a.digest FROM registry_manifest a
              WHERE a.repository_id = k.repository_id AND a.accessory_subject = k.digest
           ) n
       )
       SELECT m.id FROM registry_manifest m WHERE NOT EXISTS (SELECT 1 FROM kept WHERE kept.id = m.id)`,
      [cutoff],
    );
    await this.client.query(`CREATE UNIQUE INDEX ON gc_manifest (id)`);
    await this.client.query(`ANALYZE gc_manifest`);
    const { rows } = await this.client.query<{ count: number }>(`SELECT count(*)::int AS count FROM gc_manifest`);
    return { count: rows[0].count };
  }

  /** The marked manifests, a page at a time after `afterId`. */
  async markedManifests(afterId: string, limit: number): Promise<GcManifest[]> {
    const { rows } = await this.client.query<{ id: string; repository: string; digest: string }>(
      `SELECT m.id, r.name AS repository, m.digest FROM gc_manifest g
         JOIN registry_manifest m ON m.id = g.id
         JOIN registry_repository r ON r.id = m.repository_id
        WHERE g.id > $1 ORDER BY g.id LIMIT $2`,
      [afterId, limit],
    );
    return rows;
  }

  /**
   * The blobs to delete, into the temporary table gc_blob: those no manifest references (a config, a layer, or a
   * manifest stored with the blob's digest), unless a manifest to be deleted (in gc_manifest, when
   * `withoutMarkedManifests`) is all that references them, touched before the cutoff; and those a collection was
   * deleting when it stopped. Set-based: one anti-join over the whole table.
   */
  async markBlobs(cutoff: Date, withoutMarkedManifests: boolean): Promise<{ count: number; bytes: number }> {
    const excluded = (alias: string) =>
      withoutMarkedManifests ? `AND NOT EXISTS (SELECT 1 FROM gc_manifest g WHERE g.id = ${alias})` : '';
    await this.client.query(`DROP TABLE IF EXISTS gc_blob`);
    await this.client.query(
      `CREATE TEMPORARY TABLE gc_blob AS
       SELECT b.digest, b.size FROM registry_blob b
        WHERE b.gc_state = 'deleting'
           OR (b.touched_at < $1
               AND NOT EXISTS (SELECT 1 FROM registry_manifest_reference r
                                WHERE r.digest = b.digest ${excluded('r.manifest_id')})
               AND NOT EXISTS (SELECT 1 FROM registry_manifest m WHERE m.digest = b.digest ${excluded('m.id')}))`,
      [cutoff],
    );
    await this.client.query(`CREATE UNIQUE INDEX ON gc_blob (digest)`);
    const { rows } = await this.client.query<{ count: number; bytes: string }>(
      `SELECT count(*)::int AS count, coalesce(sum(size), 0)::bigint AS bytes FROM gc_blob`,
    );
    return { count: rows[0].count, bytes: Number(rows[0].bytes) };
  }

  /** The marked blobs, a page at a time in digest order after `after`. */
  async markedBlobs(after: string, limit: number): Promise<GcBlob[]> {
    const { rows } = await this.client.query<{ digest: string; size: string }>(
      `SELECT digest, size FROM gc_blob WHERE digest > $1 ORDER BY digest LIMIT $2`,
      [after, limit],
    );
    return rows.map((r) => ({ digest: r.digest, size: Number(r.size) }));
  }
}

/**
 * The rows garbage collection changes, and the protocol that keeps it safe while pushes go on (see the registry's
 * GarbageCollector for the whole of it). A blob's bytes are deleted only by a transaction that holds its row's lock
 * while the row's committed state is 'deleting', and the row goes in that same transaction; the data path takes the
 * same lock before it relies on a blob (RegistryRepository's LINK_BLOB and holdReferences).
 */
export class RegistryGcRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly registry: RegistryRepository,
  ) {}

  /** Marks left by a collection that stopped half-way are taken back: its candidates are chosen again. */
  async clearStaleMarks(): Promise<number> {
    const rows = await this.dataSource.query<[unknown[], number]>(
      `UPDATE registry_blob SET gc_state = 'none' WHERE gc_state = 'delete'`,
    );
    return rows[1] ?? 0;
  }

  /**
   * Deletes one marked manifest if it is still to be deleted now that its row is locked (a tag or an index that
   * names it takes a lock that conflicts): still untagged, listed by no index still stored in its repository, and
   * either no referrer or one whose subject is gone or is itself marked untagged. Deleted through the registry's
   * deleteManifest, with its DELETE_ARTIFACT event and the quota triggers. False when it is kept, or was already
   * gone, or is listed by a marked index still stored (deleted in a later round, after that index).
   */
  async deleteMarkedManifest(manifest: GcManifest, markedIds: string[], actor: string): Promise<boolean> {
    return this.dataSource.transaction(async (m) => {
      // Locked first, checked after by a statement of its own: its snapshot then sees what the lock waited for.
      const locked = await m.query<unknown[]>(`SELECT 1 FROM registry_manifest WHERE id = $1 FOR UPDATE`, [
        manifest.id,
      ]);
      if (locked.length === 0) return false;
      const rows = await m.query<{ deletable: boolean }[]>(
        `SELECT NOT EXISTS (SELECT 1 FROM registry_tag t WHERE t.manifest_id = mf.id)
            AND NOT EXISTS (SELECT 1 FROM registry_manifest_reference r
                              JOIN registry_manifest p ON p.id = r.manifest_id AND p.repository_id = mf.repository_id
                             WHERE r.kind = 'manifest' AND r.digest = mf.digest)
            AND (mf.accessory_subject IS NULL OR NOT EXISTS (
                   SELECT 1 FROM registry_manifest s
                    WHERE s.repository_id = mf.repository_id AND s.digest = mf.accessory_subject
                      AND (s.id <> ALL($2::bigint[]) OR EXISTS (SELECT 1 FROM registry_tag t WHERE t.manifest_id = s.id))))
            AS deletable
           FROM registry_manifest mf WHERE mf.id = $1`,
        [manifest.id, markedIds],
      );
      if (!rows[0]?.deletable) return false;
      return this.registry.deleteManifest(manifest.repository, manifest.digest, actor, m);
    });
  }

  /**
   * First step of deleting blobs: marks those of `digests` still unmarked, untouched since the cutoff, as 'delete',
   * committing at once. A row a push holds locked is skipped (the collection never waits for a push, so a push never
   * queues behind rows the collection has locked meanwhile): it stays 'none' and is not deleted by this run. Every row
   * marked was unlocked when marked, so a push that uses it later locks it after this commit and takes it back (state
   * 'none'), which the next step's locked update sees. Resolves to how many rows were marked.
   */
  async markForDeletion(digests: string[], cutoff: Date): Promise<number> {
    // Its commit need not wait for the WAL flush: the next step's (synchronous) commit flushes it, and a database
    // crash before that stops the collection and the pushes alike. The update finds the rows by the versions the
    // subquery locked (ctid), with no second index probe per row; a row another transaction changed after this
    // statement's snapshot is locked but not seen, and so left as it is, which only ever means kept.
    const [, count] = await this.dataSource.query<[unknown[], number]>(
      `WITH settings AS (SELECT set_config('synchronous_commit', 'off', true))
       UPDATE registry_blob b SET gc_state = 'delete'
         FROM (SELECT ctid FROM registry_blob
                WHERE digest = ANY($1::text[]) AND gc_state = 'none' AND touched_at < $2
                  FOR NO KEY UPDATE SKIP LOCKED) c
        WHERE b.ctid = c.ctid AND b.touched_at < $2 AND EXISTS (SELECT 1 FROM settings)`,
      [digests, cutoff],
    );
    return count ?? 0;
  }

  /**
   * Second step, one statement: the blobs of `digests` still marked become 'deleting' when no manifest references
   * them in this statement's snapshot, taken after the marks committed, and go back to 'none' when one does; it
   * commits at once, and from then on the data path treats the 'deleting' ones as absent (a crash leaves them to the
   * next collection to finish). A marked row a push holds locked is skipped: the push takes it back, and if the push
   * fails it stays 'delete' until the end of the sweep (`clearStaleMarks`). Resolves to the digests now 'deleting'.
   */
  async beginDeletion(digests: string[]): Promise<string[]> {
    // As in the first step, the rows are found by the versions locked (ctid); one changed since the snapshot is left.
    const rows = await this.dataSource.query<{ digest: string; gc_state: string }[]>(
      `UPDATE registry_blob b
          SET gc_state = CASE WHEN EXISTS (SELECT 1 FROM registry_manifest_reference r WHERE r.digest = b.digest)
                                OR EXISTS (SELECT 1 FROM registry_manifest m WHERE m.digest = b.digest)
                              THEN 'none' ELSE 'deleting' END
         FROM (SELECT ctid FROM registry_blob WHERE digest = ANY($1::text[]) AND gc_state = 'delete'
                  FOR NO KEY UPDATE SKIP LOCKED) c
        WHERE b.ctid = c.ctid
       RETURNING b.digest, b.gc_state`,
      [digests],
    );
    return rows.filter((r) => r.gc_state === 'deleting').map((r) => r.digest);
  }

  /**
   * Whether the data path (core's or a registry's connections, `applications` with any suffix) used the database
   * within the last `withinMs`: a query running or a transaction open now, or a state change since. The collection
   * yields to it.
   */
  async dataPathBusy(applications: readonly string[], withinMs: number): Promise<boolean> {
    const rows = await this.dataSource.query<{ busy: boolean }[]>(
      `SELECT EXISTS (
         SELECT 1 FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
            AND (application_name = ANY($1::text[]) OR application_name LIKE ANY($2::text[]))
            AND (state <> 'idle' OR state_change > now() - $3 * interval '1 millisecond')
       ) AS busy`,
      [applications, applications.map((name) => `${name}-%`), withinMs],
    );
    return rows[0]?.busy ?? false;
  }

  /**
   * Records storage bytes that no row knows of (an upload that crashed between moving its bytes and linking them) as
   * rows being deleted, so that they are deleted under the same lock as any other blob. A digest that has a row
   * meanwhile (a link in progress) is left alone. Resolves to the digests recorded.
   */
  async adoptOrphans(orphans: GcBlob[]): Promise<string[]> {
    if (orphans.length === 0) return [];
    const rows = await this.dataSource.query<{ digest: string }[]>(
      `INSERT INTO registry_blob (digest, size, gc_state)
       SELECT digest, size, 'deleting' FROM unnest($1::text[], $2::bigint[]) AS o (digest, size)
       ON CONFLICT (digest) DO NOTHING RETURNING digest`,
      [orphans.map((o) => o.digest), orphans.map((o) => o.size)],
    );
    return rows.map((r) => r.digest);
  }

  /** Which of `digests` have a row. */
  async existingBlobs(digests: string[]): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    const rows = await this.dataSource.query<{ digest: string }[]>(
      `SELECT digest FROM registry_blob WHERE digest = ANY($1::text[])`,
      [digests],
    );
    return new Set(rows.map((r) => r.digest));
  }

  /** Which of the upload ids have a session. */
  async existingUploads(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.dataSource.query<{ id: string }[]>(
      `SELECT id::text FROM registry_upload WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Last step: locks the rows of `digests` that are 'deleting' (skipping one a link holds: the link takes it back),
   * runs `deleteBytes` on them with the locks held, then deletes the links and rows of those whose bytes went, and
   * commits. `deleteBytes` resolves to the digests whose bytes it could not delete: their rows stay 'deleting', for a
   * later run. A link of one of them waits for the commit and then finds no row (see LINK_BLOB). A failure (or a
   * crash) rolls back: the rows stay 'deleting' for the next try. Resolves to the blobs deleted.
   */
  async finishDeletion(digests: string[], deleteBytes: (blobs: GcBlob[]) => Promise<Set<string>>): Promise<GcBlob[]> {
    return this.dataSource.transaction(async (m) => {
      // Losing this commit in a database crash leaves the rows 'deleting', which the next collection finishes: it
      // need not wait for the WAL flush. The 'deleting' before it must, and does: it is committed before any byte goes.
      const rows = await m.query<{ digest: string; size: string; ctid: string }[]>(
        `SELECT b.digest, b.size, b.ctid::text FROM registry_blob b,
                (SELECT set_config('synchronous_commit', 'off', true)) s
          WHERE b.digest = ANY($1::text[]) AND b.gc_state = 'deleting'
          ORDER BY b.digest FOR UPDATE OF b SKIP LOCKED`,
        [digests],
      );
      const locked = rows.map((r) => ({ digest: r.digest, size: Number(r.size) }));
      if (locked.length === 0) return locked;
      const kept = await deleteBytes(locked);
      const gone = kept.size === 0 ? rows : rows.filter((r) => !kept.has(r.digest));
      if (gone.length === 0) return [];
      // One statement: the links go with the rows (the foreign key is checked at the statement's end). The rows are
      // found by the versions locked above, which no other transaction can replace while the lock is held; the links
      // by the digest index, one probe per digest.
      await m.query(
        `WITH links AS (DELETE FROM registry_repository_blob l USING unnest($1::text[]) AS g (digest)
                         WHERE l.digest = g.digest)
         DELETE FROM registry_blob WHERE ctid = ANY($2::tid[])`,
        [gone.map((r) => r.digest), gone.map((r) => r.ctid)],
      );
      return gone.map((r) => ({ digest: r.digest, size: Number(r.size) }));
    });
  }
}
