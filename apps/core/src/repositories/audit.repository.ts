import { Injectable } from '@nestjs/common';
import { type FieldSpec, type Pagination, type QueryTerm, type SortTerm, buildFilter, buildOrderBy } from '@wharf/db';
import { DataSource, type EntityManager } from 'typeorm';

export interface NewAuditRecord {
  projectId?: number | null;
  operation: string;
  resourceType: string;
  resource: string;
  username: string;
  opTime?: Date;
}

export interface AuditRecord {
  id: number;
  projectId: number | null;
  operation: string;
  resourceType: string;
  resource: string;
  username: string;
  opTime: Date;
}

/**
 * Whose records a list may show: all of them, those of every project, or those of the listed projects (none when
 * the list is empty). Records of no project (system operations) appear only under `all`.
 */
export type AuditScope =
  { kind: 'all' } | { kind: 'projects'; projectIds: readonly number[] } | { kind: 'any-project' };

export interface AuditListRequest {
  scope: AuditScope;
  terms: readonly QueryTerm[];
  sort: readonly SortTerm[];
  pagination: Pagination;
}

interface AuditRow {
  id: string;
  project_id: number | null;
  operation: string;
  resource_type: string;
  resource: string;
  username: string;
  op_time: Date;
}

/** The `q` keys of audit log lists, as Harbor's. */
const AUDIT_FIELDS: Record<string, FieldSpec> = {
  operation: { column: 'al.operation', type: 'text', fuzzy: true },
  resource: { column: 'al.resource', type: 'text', fuzzy: true },
  resource_type: { column: 'al.resource_type', type: 'text', fuzzy: true },
  username: { column: 'al.username', type: 'text', fuzzy: true },
  op_time: { column: 'al.op_time', type: 'time', range: true },
};

function toRecord(row: AuditRow): AuditRecord {
  return {
    id: Number(row.id),
    projectId: row.project_id,
    operation: row.operation,
    resourceType: row.resource_type,
    resource: row.resource,
    username: row.username,
    opTime: row.op_time,
  };
}

function scopeCondition(scope: AuditScope, params: unknown[]): string {
  switch (scope.kind) {
    case 'all':
      return 'TRUE';
    case 'any-project':
      return 'al.project_id IS NOT NULL';
    case 'projects':
      return `al.project_id = ANY($${params.push(scope.projectIds)}::int[])`;
  }
}

/**
 * Newest first unless asked otherwise; the id breaks ties in the same direction as the time, so both the default
 * and the ascending order walk audit_log_time_idx (or audit_log_project_idx) without a sort.
 */
function orderBy(sort: readonly SortTerm[]): string {
  const first = sort[0];
  const fallback = first === undefined ? 'al.op_time DESC, al.id DESC' : `al.id ${first.descending ? 'DESC' : 'ASC'}`;
  return buildOrderBy(sort, { op_time: 'al.op_time' }, fallback);
}

@Injectable()
export class AuditRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insert(records: NewAuditRecord[], manager: EntityManager = this.dataSource.manager): Promise<void> {
    if (records.length === 0) return;
    const values: string[] = [];
    const params: unknown[] = [];
    for (const r of records) {
      params.push(r.projectId ?? null, r.operation, r.resourceType, r.resource, r.username, r.opTime ?? new Date());
      const n = params.length;
      values.push(`($${n - 5}, $${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`);
    }
    await manager.query(
      `INSERT INTO audit_log (project_id, operation, resource_type, resource, username, op_time) VALUES ${values.join(', ')}`,
      params,
    );
  }

  /** One page of records and how many match in all. Throws QuerySyntaxError on a bad `q` or `sort`. */
  async list(request: AuditListRequest): Promise<{ items: AuditRecord[]; total: number }> {
    const params: unknown[] = [];
    const where = `${scopeCondition(request.scope, params)} AND ${buildFilter(request.terms, AUDIT_FIELDS, params)}`;
    const order = orderBy(request.sort);
    const { pageSize, offset } = request.pagination;
    const [rows, counted] = await Promise.all([
      this.dataSource.query<AuditRow[]>(
        `SELECT al.id, al.project_id, al.operation, al.resource_type, al.resource, al.username, al.op_time
           FROM audit_log al
          WHERE ${where}
          ORDER BY ${order}
          LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, pageSize, offset],
      ),
      this.dataSource.query<{ total: string }[]>(`SELECT count(*) AS total FROM audit_log al WHERE ${where}`, params),
    ]);
    return { items: rows.map(toRecord), total: Number(counted[0]?.total ?? 0) };
  }

  /**
   * Deletes (or, in a dry run, counts) up to `limit` records written before `before` whose operation is one of
   * `operations` or whose event type (`<operation>_<resource type>`) is one of `eventTypes`. The oldest go first.
   */
  async purgeBatch(
    before: Date,
    filter: { operations: readonly string[]; eventTypes: readonly string[] },
    limit: number,
    dryRun: boolean,
  ): Promise<number> {
    const where = `op_time < $1 AND (lower(operation) = ANY($2::text[])
                     OR lower(operation) || '_' || lower(resource_type) = ANY($3::text[]))`;
    const params = [before, filter.operations, filter.eventTypes];
    if (dryRun) {
      const rows = await this.dataSource.query<{ n: string }[]>(
        `SELECT count(*) AS n FROM audit_log WHERE ${where}`,
        params,
      );
      return Number(rows[0]?.n ?? 0);
    }
    const [, deleted] = await this.dataSource.query<[unknown[], number]>(
      `DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE ${where} ORDER BY op_time, id LIMIT $4)`,
      [...params, limit],
    );
    return deleted;
  }

  /** Projects in which the user holds one of `roles` by direct membership. */
  async projectIdsOfMember(userId: number, roles: readonly number[]): Promise<number[]> {
    const rows = await this.dataSource.query<{ project_id: number }[]>(
      `SELECT project_id FROM project_member WHERE entity_type = 'u' AND entity_id = $1 AND role = ANY($2::int[])`,
      [userId, roles],
    );
    return rows.map((r) => r.project_id);
  }

  /** The ids of the named projects that exist, with their names. */
  async projectsByName(names: readonly string[]): Promise<{ projectId: number; name: string }[]> {
    if (names.length === 0) return [];
    const rows = await this.dataSource.query<{ project_id: number; name: string }[]>(
      `SELECT project_id, name FROM project WHERE name = ANY($1::text[])`,
      [names],
    );
    return rows.map((r) => ({ projectId: r.project_id, name: r.name }));
  }
}
