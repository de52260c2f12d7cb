import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

/** One row of the event outbox, its payload as stored (checked by whoever consumes it). */
export interface OutboxEvent {
  id: number;
  type: string;
  payload: unknown;
  occurredAt: Date;
}

/** The latest pull of one manifest among a batch of events. */
export interface ManifestPull {
  repository: string;
  digest: string;
  pulledAt: Date;
}

/** The latest pull by one tag among a batch of events, and the manifest that pull got. */
export interface TagPull {
  repository: string;
  tag: string;
  digest: string;
  pulledAt: Date;
}

/** How many pulls of a repository a batch of events holds. */
export interface RepositoryPulls {
  repository: string;
  count: number;
}

interface OutboxRow {
  id: string;
  type: string;
  payload: unknown;
  occurred_at: Date;
}

@Injectable()
export class OutboxRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The id of the newest event, undelivered or not; 0 when there is none. */
  async lastEventId(): Promise<number> {
    const rows = await this.dataSource.query<{ id: string | null }[]>(`SELECT max(id) AS id FROM event_outbox`);
    return Number(rows[0]?.id ?? 0);
  }

  /**
   * Locks and returns the oldest undelivered events, at most `limit`, up to `upToId`. Rows another process has
   * locked are skipped, so several processes deliver side by side without waiting for each other.
   */
  async claimPending(manager: EntityManager, limit: number, upToId?: number): Promise<OutboxEvent[]> {
    const rows = await manager.query<OutboxRow[]>(
      `SELECT id, type, payload, occurred_at FROM event_outbox
        WHERE delivered_at IS NULL AND ($2::bigint IS NULL OR id <= $2::bigint)
        ORDER BY id
        LIMIT $1
        FOR UPDATE SKIP LOCKED`,
      [limit, upToId ?? null],
    );
    return rows.map((row) => ({
      id: Number(row.id),
      type: row.type,
      payload: row.payload,
      occurredAt: row.occurred_at,
    }));
  }

  /**
   * Deletes up to `limit` events delivered more than `retentionMs` ago, oldest first (the audit log and the pull
   * statistics hold what they said). Resolves to how many were deleted.
   */
  async purgeDelivered(retentionMs: number, limit: number): Promise<number> {
    const [, deleted] = await this.dataSource.query<[unknown[], number]>(
      `DELETE FROM event_outbox WHERE id IN (
         SELECT id FROM event_outbox
          WHERE delivered_at IS NOT NULL AND delivered_at < now() - $1::double precision * interval '1 millisecond'
          ORDER BY id LIMIT $2)`,
      [retentionMs, limit],
    );
    return deleted;
  }

  async markDelivered(manager: EntityManager, ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await manager.query(`UPDATE event_outbox SET delivered_at = now() WHERE id = ANY($1::bigint[])`, [ids]);
  }

  /** Project ids by project name, for the names that exist. */
  async projectIds(manager: EntityManager, names: readonly string[]): Promise<Map<string, number>> {
    if (names.length === 0) return new Map();
    const rows = await manager.query<{ project_id: number; name: string }[]>(
      `SELECT project_id, name FROM project WHERE name = ANY($1::text[])`,
      [names],
    );
    return new Map(rows.map((r) => [r.name, r.project_id]));
  }

  /**
   * Adds pulls to the repositories' pull counts and moves the last pull times of the manifests, and of the tags
   * pulled by name, forward (never back: a late batch does not undo a newer time). A tag's time moves only while it
   * still points at the manifest that pull got. Rows are locked in id order first, so two processes delivering
   * batches that touch the same repositories wait for each other instead of deadlocking.
   */
  async recordPulls(
    manager: EntityManager,
    repositories: readonly RepositoryPulls[],
    manifests: readonly ManifestPull[],
    tags: readonly TagPull[] = [],
  ): Promise<void> {
    if (repositories.length > 0) {
      const names = repositories.map((r) => r.repository);
      const counts = repositories.map((r) => r.count);
      await manager.query(
        `SELECT id FROM registry_repository WHERE name = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE`,
        [names],
      );
      await manager.query(
        `UPDATE registry_repository r SET pull_count = r.pull_count + u.count
           FROM unnest($1::text[], $2::bigint[]) AS u(name, count)
          WHERE r.name = u.name`,
        [names, counts],
      );
    }
    if (manifests.length > 0) {
      const names = manifests.map((m) => m.repository);
      const digests = manifests.map((m) => m.digest);
      const times = manifests.map((m) => m.pulledAt);
      const target = `FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(name, digest, pulled_at)
        JOIN registry_repository r ON r.name = u.name`;
      await manager.query(
        `SELECT m.id FROM registry_manifest m, (SELECT r.id AS repository_id, u.digest ${target}) t
          WHERE m.repository_id = t.repository_id AND m.digest = t.digest
          ORDER BY m.id FOR NO KEY UPDATE OF m`,
        [names, digests, times],
      );
      await manager.query(
        `UPDATE registry_manifest m SET pull_time = GREATEST(m.pull_time, t.pulled_at)
           FROM (SELECT r.id AS repository_id, u.digest, u.pulled_at ${target}) t
          WHERE m.repository_id = t.repository_id AND m.digest = t.digest`,
        [names, digests, times],
      );
    }
    if (tags.length > 0) {
      const params = [
        tags.map((t) => t.repository),
        tags.map((t) => t.tag),
        tags.map((t) => t.digest),
        tags.map((t) => t.pulledAt),
      ];
      const pulled = `SELECT t.id, u.pulled_at
          FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS u(name, tag, digest, pulled_at)
          JOIN registry_repository r ON r.name = u.name
          JOIN registry_tag t ON t.repository_id = r.id AND t.name = u.tag
          JOIN registry_manifest m ON m.id = t.manifest_id AND m.digest = u.digest`;
      await manager.query(
        `SELECT t.id FROM registry_tag t WHERE t.id IN (SELECT id FROM (${pulled}) p) ORDER BY t.id FOR NO KEY UPDATE`,
        params,
      );
      await manager.query(
        `UPDATE registry_tag t SET pull_time = GREATEST(t.pull_time, p.pulled_at) FROM (${pulled}) p WHERE t.id = p.id`,
        params,
      );
    }
  }
}
