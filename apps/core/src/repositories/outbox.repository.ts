import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

/** One row of the event outbox, its payload as stored (checked by whoever consumes it). */
export interface OutboxEvent {
  id: number;
  type: string;
  payload: unknown;
  occurredAt: Date;
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
}
