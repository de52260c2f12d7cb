import { Injectable } from '@nestjs/common';
import { type FieldSpec, type Pagination, type QueryTerm, type SortTerm, buildFilter, buildOrderBy } from '@wharf/db';
import { DataSource, type EntityManager } from 'typeorm';

/** A repository of images (or other artifacts) as the API shows it; the name includes its project. */
export interface ImageRepositoryRecord {
  id: number;
  projectId: number;
  name: string;
  description: string;
  pullCount: number;
  createdAt: Date;
  updatedAt: Date;
}

/** Which repositories a list may show. */
export type RepositoryScope =
  | { kind: 'all' }
  | { kind: 'project'; projectId: number }
  /** Public projects, plus the projects the user is a member of. */
  | { kind: 'visible'; userId?: number }
  | { kind: 'projects'; projectIds: number[] };

interface RepositoryRow {
  id: string;
  project_id: number;
  name: string;
  description: string;
  pull_count: string;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'r.id, r.project_id, r.name, r.description, r.pull_count, r.created_at, r.updated_at';

const FIELDS: Record<string, FieldSpec> = {
  id: { column: 'r.id', type: 'int' },
  name: { column: 'r.name', type: 'text', fuzzy: true },
  project_id: { column: 'r.project_id', type: 'int' },
  pull_count: { column: 'r.pull_count', type: 'int', range: true },
  creation_time: { column: 'r.created_at', type: 'time', range: true },
  update_time: { column: 'r.updated_at', type: 'time', range: true },
};

const SORTABLE: Record<string, string> = {
  id: 'r.id',
  name: 'r.name',
  pull_count: 'r.pull_count',
  creation_time: 'r.created_at',
  update_time: 'r.updated_at',
};

/** Harbor lists repositories newest first. */
const DEFAULT_ORDER = 'r.created_at DESC, r.id DESC';

function toRecord(row: RepositoryRow): ImageRepositoryRecord {
  return {
    id: Number(row.id),
    projectId: row.project_id,
    name: row.name,
    description: row.description,
    pullCount: Number(row.pull_count),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function scopeSql(scope: RepositoryScope, params: unknown[]): string {
  switch (scope.kind) {
    case 'all':
      return 'r.project_id IS NOT NULL';
    case 'project':
      return `r.project_id = $${params.push(scope.projectId)}`;
    case 'projects':
      return `r.project_id = ANY($${params.push(scope.projectIds)}::int[])`;
    case 'visible': {
      const publicProjects = `SELECT pm.project_id FROM project_metadata pm WHERE pm.name = 'public' AND pm.value = 'true'`;
      if (scope.userId === undefined) return `r.project_id IN (${publicProjects})`;
      return `r.project_id IN (${publicProjects}
        UNION SELECT mb.project_id FROM project_member mb WHERE mb.entity_type = 'u' AND mb.entity_id = $${params.push(scope.userId)})`;
    }
  }
}

/** Rows of `registry_repository`, the registry's own table, with the columns core adds to it. */
@Injectable()
export class ImageRepositoryRepository {
  constructor(private readonly dataSource: DataSource) {}

  async findByName(
    name: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<ImageRepositoryRecord | undefined> {
    const rows = await manager.query<RepositoryRow[]>(
      `SELECT ${COLUMNS} FROM registry_repository r WHERE r.name = $1`,
      [name],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** One page of the repositories in `scope` that match `terms`, and how many match in all. */
  async list(
    scope: RepositoryScope,
    terms: readonly QueryTerm[],
    sort: readonly SortTerm[],
    page: Pagination,
  ): Promise<{ items: ImageRepositoryRecord[]; total: number }> {
    const params: unknown[] = [];
    const where = `${scopeSql(scope, params)} AND ${buildFilter(terms, FIELDS, params)}`;
    const order = sort.length === 0 ? DEFAULT_ORDER : buildOrderBy(sort, SORTABLE, 'r.id DESC');
    const [rows, counted] = await Promise.all([
      this.dataSource.query<RepositoryRow[]>(
        `SELECT ${COLUMNS} FROM registry_repository r WHERE ${where} ORDER BY ${order}
         LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, page.pageSize, page.offset],
      ),
      this.dataSource.query<{ total: string }[]>(
        `SELECT count(*) AS total FROM registry_repository r WHERE ${where}`,
        params,
      ),
    ]);
    return { items: rows.map(toRecord), total: Number(counted[0]?.total ?? 0) };
  }
}
