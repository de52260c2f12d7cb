import { Injectable } from '@nestjs/common';
import { type Pagination, type SortTerm, buildOrderBy } from '@wharf/db';
import { DataSource, type EntityManager } from 'typeorm';

/** A project's storage quota. Usage is kept by database triggers as manifests come and go, never computed here. */
export interface QuotaRecord {
  id: number;
  projectId: number;
  projectName: string;
  ownerName: string | undefined;
  /** Bytes; -1 for unlimited. */
  hardStorage: number;
  usedStorage: number;
  creationTime: Date;
  updateTime: Date;
}

interface QuotaRow {
  id: number;
  project_id: number;
  project_name: string;
  owner_name: string | null;
  hard_storage: string;
  used_storage: string;
  creation_time: Date;
  update_time: Date;
}

function toRecord(row: QuotaRow): QuotaRecord {
  return {
    id: row.id,
    projectId: row.project_id,
    projectName: row.project_name,
    ownerName: row.owner_name ?? undefined,
    hardStorage: Number(row.hard_storage),
    usedStorage: Number(row.used_storage),
    creationTime: row.creation_time,
    updateTime: row.update_time,
  };
}

const QUOTA_SELECT = `
  SELECT q.id, q.project_id, p.name AS project_name, o.username AS owner_name,
         q.hard_storage, q.used_storage, q.creation_time, q.update_time
    FROM quota q
    JOIN project p ON p.project_id = q.project_id
    LEFT JOIN wharf_user o ON o.user_id = p.owner_id`;

/** Harbor's sort keys; an unlimited hard limit sorts above every finite one, as in Harbor. */
const QUOTA_SORTS: Record<string, string> = {
  'hard.storage': `(CASE WHEN q.hard_storage = -1 THEN 9223372036854775807 ELSE q.hard_storage END)`,
  'used.storage': 'q.used_storage',
  creation_time: 'q.creation_time',
  update_time: 'q.update_time',
};

/** Newest first, as Harbor lists quotas; ids grow with creation, and the primary key serves the order. */
const DEFAULT_ORDER = 'q.id DESC';

export interface QuotaListRequest {
  /** Only the quota of this project. */
  projectId?: number;
  sort: readonly SortTerm[];
  pagination: Pagination;
}

@Injectable()
export class QuotaRepository {
  constructor(private readonly dataSource: DataSource) {}

  async list(request: QuotaListRequest): Promise<{ items: QuotaRecord[]; total: number }> {
    const params: unknown[] = [];
    let where = 'TRUE';
    if (request.projectId !== undefined) {
      params.push(request.projectId);
      where = `q.project_id = $1`;
    }
    const orderBy = buildOrderBy(request.sort, QUOTA_SORTS, DEFAULT_ORDER);
    const n = params.length;
    const [counted, rows] = await Promise.all([
      this.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM quota q WHERE ${where}`, params),
      this.dataSource.query<QuotaRow[]>(
        `${QUOTA_SELECT} WHERE ${where} ORDER BY ${orderBy} LIMIT $${n + 1} OFFSET $${n + 2}`,
        [...params, request.pagination.pageSize, request.pagination.offset],
      ),
    ]);
    return { items: rows.map(toRecord), total: counted[0]?.n ?? 0 };
  }

  async findById(id: number): Promise<QuotaRecord | undefined> {
    const rows = await this.dataSource.query<QuotaRow[]>(`${QUOTA_SELECT} WHERE q.id = $1`, [id]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async findByProject(projectId: number): Promise<QuotaRecord | undefined> {
    const rows = await this.dataSource.query<QuotaRow[]>(`${QUOTA_SELECT} WHERE q.project_id = $1`, [projectId]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** Sets the hard storage limit; undefined when there is no such quota. */
  async setHardStorage(manager: EntityManager, id: number, bytes: number): Promise<QuotaRecord | undefined> {
    return this.setHard(manager, 'q.id = $1', id, bytes);
  }

  /** Sets the hard storage limit of a project's quota; undefined when the project has none. */
  async setHardStorageOfProject(
    manager: EntityManager,
    projectId: number,
    bytes: number,
  ): Promise<QuotaRecord | undefined> {
    return this.setHard(manager, 'q.project_id = $1', projectId, bytes);
  }

  private async setHard(
    manager: EntityManager,
    where: string,
    key: number,
    bytes: number,
  ): Promise<QuotaRecord | undefined> {
    const rows = await manager.query<QuotaRow[]>(
      `WITH updated AS (
              UPDATE quota q SET hard_storage = $2::bigint, update_time = now() WHERE ${where} RETURNING q.*)
       SELECT q.id, q.project_id, p.name AS project_name, o.username AS owner_name,
              q.hard_storage, q.used_storage, q.creation_time, q.update_time
         FROM updated q
         JOIN project p ON p.project_id = q.project_id
         LEFT JOIN wharf_user o ON o.user_id = p.owner_id`,
      [key, String(bytes)],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }
}
