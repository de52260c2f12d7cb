import { Injectable } from '@nestjs/common';
import {
  type FieldSpec,
  type Pagination,
  type QueryTerm,
  type SortTerm,
  buildFilter,
  buildOrderBy,
  escapeLike,
} from '@wharf/db';
import { DataSource, type EntityManager } from 'typeorm';
import { type ProjectRef } from '../auth/principal.js';

interface ProjectRefRow {
  project_id: number;
  name: string;
  owner_id: number | null;
  public: boolean;
}

const PROJECT_REF_SELECT = `
  SELECT p.project_id, p.name, p.owner_id,
         COALESCE((SELECT m.value = 'true' FROM project_metadata m
                    WHERE m.project_id = p.project_id AND m.name = 'public'), false) AS public
    FROM project p`;

function toRef(row: ProjectRefRow): ProjectRef {
  return { projectId: row.project_id, name: row.name, public: row.public, ownerId: row.owner_id };
}

/** A project with what its API representation shows. */
export interface ProjectRecord {
  projectId: number;
  name: string;
  ownerId: number | null;
  /** Undefined when details were not asked for or the owner's account is gone. */
  ownerName: string | undefined;
  creationTime: Date;
  updateTime: Date;
  repoCount: number;
  /** Undefined when details were not asked for. */
  metadata: Record<string, string> | undefined;
  /** The roles the viewing user holds in the project, by direct membership; empty for others. */
  viewerRoles: number[];
}

interface ProjectRow {
  project_id: number;
  name: string;
  owner_id: number | null;
  owner_name: string | null;
  creation_time: Date;
  update_time: Date;
  repo_count: number;
  metadata: Record<string, string> | null;
  roles: number[] | null;
}

function toRecord(row: ProjectRow, detail: boolean): ProjectRecord {
  return {
    projectId: row.project_id,
    name: row.name,
    ownerId: row.owner_id,
    ownerName: detail ? (row.owner_name ?? undefined) : undefined,
    creationTime: row.creation_time,
    updateTime: row.update_time,
    repoCount: row.repo_count,
    metadata: detail ? (row.metadata ?? {}) : undefined,
    viewerRoles: row.roles ?? [],
  };
}

/** Which projects a caller may see in lists. */
export type ProjectVisibility =
  | { kind: 'all' }
  | { kind: 'public' }
  /** Public projects and those the user is a member of. */
  | { kind: 'member-or-public'; userId: number }
  /** Public projects and those named (a robot's permission namespaces). */
  | { kind: 'named-or-public'; names: readonly string[] };

export interface ProjectListRequest {
  visibility: ProjectVisibility;
  terms: readonly QueryTerm[];
  sort: readonly SortTerm[];
  pagination: Pagination;
  /** Part of the name, any case. */
  nameContains?: string;
  /** The owner's user name, in any case (user names are unique regardless of case). */
  owner?: string;
  public?: boolean;
  /** Whose roles `viewerRoles` reports. */
  viewerUserId?: number;
  /** Owner names and metadata too. */
  detail: boolean;
}

export interface NewProject {
  name: string;
  /** Also the project's first project admin; null only when no account exists to own it. */
  ownerId: number | null;
  metadata: Record<string, string>;
  /** Bytes; -1 for unlimited. */
  storageLimit: number;
}

const IS_PUBLIC = `EXISTS (SELECT 1 FROM project_metadata pub
                            WHERE pub.project_id = p.project_id AND pub.name = 'public' AND pub.value = 'true')`;

/** The `q` keys of the project list, as Harbor's project model offers them. */
const PROJECT_FIELDS: Record<string, FieldSpec> = {
  name: { column: 'p.name', type: 'text', fuzzy: true },
  project_id: { column: 'p.project_id', type: 'int', range: true },
  owner_id: { column: 'p.owner_id', type: 'int' },
  owner: { column: 'o.username', type: 'text' },
  public: { column: `(${IS_PUBLIC})`, type: 'bool' },
  creation_time: { column: 'p.creation_time', type: 'time', range: true },
  update_time: { column: 'p.update_time', type: 'time', range: true },
};

const PROJECT_SORTS: Record<string, string> = {
  name: 'p.name',
  project_id: 'p.project_id',
  creation_time: 'p.creation_time',
  update_time: 'p.update_time',
};

/** Harbor lists projects by name unless told otherwise; names are unique, so pages never overlap. */
const DEFAULT_ORDER = 'p.name ASC';

function detailColumns(viewerParam: string, detail: boolean): string {
  return `p.project_id, p.name, p.owner_id, p.creation_time, p.update_time,
          ${detail ? 'o.username' : 'NULL'} AS owner_name,
          (SELECT count(*)::int FROM registry_repository r WHERE r.project_id = p.project_id) AS repo_count,
          ${
            detail
              ? `(SELECT json_object_agg(md.name, md.value) FROM project_metadata md WHERE md.project_id = p.project_id)`
              : 'NULL'
          } AS metadata,
          (SELECT array_agg(pm.role ORDER BY pm.role) FROM project_member pm
            WHERE pm.project_id = p.project_id AND pm.entity_type = 'u' AND pm.entity_id = ${viewerParam}) AS roles`;
}

function visibilitySql(visibility: ProjectVisibility, params: unknown[]): string {
  switch (visibility.kind) {
    case 'all':
      return 'TRUE';
    case 'public':
      return IS_PUBLIC;
    case 'member-or-public':
      params.push(visibility.userId);
      return `(${IS_PUBLIC} OR EXISTS (SELECT 1 FROM project_member vm WHERE vm.project_id = p.project_id
                                          AND vm.entity_type = 'u' AND vm.entity_id = $${params.length}::int))`;
    case 'named-or-public':
      params.push([...visibility.names]);
      return `(${IS_PUBLIC} OR p.name = ANY($${params.length}::text[]))`;
  }
}

interface PgError {
  code?: string;
  constraint?: string;
}

function pgError(error: unknown): PgError {
  if (typeof error !== 'object' || error === null) return {};
  return (error as { driverError?: PgError }).driverError ?? error;
}

/** A delete hit rows that still refer to what it deletes (a repository pushed into a project being deleted). */
export function isForeignKeyViolation(error: unknown): boolean {
  return pgError(error).code === '23503';
}

@Injectable()
export class ProjectRepository {
  constructor(private readonly dataSource: DataSource) {}

  async findRefByName(name: string): Promise<ProjectRef | undefined> {
    const rows = await this.dataSource.query<ProjectRefRow[]>(`${PROJECT_REF_SELECT} WHERE p.name = $1`, [name]);
    return rows[0] ? toRef(rows[0]) : undefined;
  }

  async findRefById(id: number): Promise<ProjectRef | undefined> {
    const rows = await this.dataSource.query<ProjectRefRow[]>(`${PROJECT_REF_SELECT} WHERE p.project_id = $1`, [id]);
    return rows[0] ? toRef(rows[0]) : undefined;
  }

  /** The role of a user in a project (direct membership), or undefined when the user is no member. */
  async memberRole(projectId: number, userId: number): Promise<number | undefined> {
    const rows = await this.dataSource.query<{ role: number }[]>(
      `SELECT role FROM project_member WHERE project_id = $1 AND entity_type = 'u' AND entity_id = $2`,
      [projectId, userId],
    );
    return rows[0]?.role;
  }

  /** One project with details; `viewerUserId` names whose roles to report. */
  async findRecord(projectId: number, viewerUserId: number | undefined): Promise<ProjectRecord | undefined> {
    const rows = await this.dataSource.query<ProjectRow[]>(
      `SELECT ${detailColumns('$2::int', true)}
         FROM project p LEFT JOIN wharf_user o ON o.user_id = p.owner_id
        WHERE p.project_id = $1`,
      [projectId, viewerUserId ?? null],
    );
    return rows[0] ? toRecord(rows[0], true) : undefined;
  }

  /** One page of the projects a request may see, with the total over all pages; two indexed queries. */
  async list(request: ProjectListRequest): Promise<{ items: ProjectRecord[]; total: number }> {
    const params: unknown[] = [];
    const conditions = [visibilitySql(request.visibility, params), buildFilter(request.terms, PROJECT_FIELDS, params)];
    if (request.nameContains !== undefined) {
      params.push(`%${escapeLike(request.nameContains)}%`);
      conditions.push(`p.name ILIKE $${params.length} ESCAPE '\\'`);
    }
    if (request.owner !== undefined) {
      params.push(request.owner);
      conditions.push(`lower(o.username) = lower($${params.length})`);
    }
    if (request.public !== undefined) conditions.push(request.public ? IS_PUBLIC : `NOT ${IS_PUBLIC}`);
    const from = `FROM project p LEFT JOIN wharf_user o ON o.user_id = p.owner_id WHERE ${conditions.join(' AND ')}`;
    const orderBy = buildOrderBy(request.sort, PROJECT_SORTS, DEFAULT_ORDER);
    const { pageSize, offset } = request.pagination;
    const n = params.length;
    const [counted, rows] = await Promise.all([
      this.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n ${from}`, params),
      this.dataSource.query<ProjectRow[]>(
        `SELECT ${detailColumns(`$${n + 1}::int`, request.detail)} ${from}
          ORDER BY ${orderBy} LIMIT $${n + 2} OFFSET $${n + 3}`,
        [...params, request.viewerUserId ?? null, pageSize, offset],
      ),
    ]);
    return { items: rows.map((row) => toRecord(row, request.detail)), total: counted[0]?.n ?? 0 };
  }

  /**
   * Creates a project with its metadata, its owner as project admin and its quota, in one statement. Undefined when
   * the name is taken.
   */
  async create(manager: EntityManager, project: NewProject): Promise<number | undefined> {
    const keys = Object.keys(project.metadata);
    const rows = await manager.query<{ project_id: number }[]>(
      `WITH created AS (
              INSERT INTO project (name, owner_id) VALUES ($1, $2::int) ON CONFLICT (name) DO NOTHING RETURNING project_id),
            metadata AS (
              INSERT INTO project_metadata (project_id, name, value)
              SELECT created.project_id, t.name, t.value FROM created, unnest($3::text[], $4::text[]) AS t(name, value)),
            owner AS (
              INSERT INTO project_member (project_id, entity_id, entity_type, role)
              SELECT created.project_id, $2::int, 'u', 1 FROM created WHERE $2::int IS NOT NULL),
            quota AS (
              INSERT INTO quota (project_id, hard_storage) SELECT created.project_id, $5::bigint FROM created)
       SELECT project_id FROM created`,
      [project.name, project.ownerId, keys, keys.map((key) => project.metadata[key]), String(project.storageLimit)],
    );
    return rows[0]?.project_id;
  }

  /** The account that owns projects created by robots: the longest-standing system administrator. */
  async defaultOwnerId(): Promise<number | undefined> {
    const rows = await this.dataSource.query<{ user_id: number }[]>(
      `SELECT user_id FROM wharf_user WHERE sysadmin_flag ORDER BY user_id LIMIT 1`,
    );
    return rows[0]?.user_id;
  }

  async metadata(projectId: number, manager: EntityManager = this.dataSource.manager): Promise<Record<string, string>> {
    const rows = await manager.query<{ name: string; value: string }[]>(
      `SELECT name, value FROM project_metadata WHERE project_id = $1`,
      [projectId],
    );
    return Object.fromEntries(rows.map((row) => [row.name, row.value]));
  }

  /** Sets metadata values (adding those not yet set) and marks the project updated; false if the project is gone. */
  async updateMetadata(manager: EntityManager, projectId: number, values: Record<string, string>): Promise<boolean> {
    const keys = Object.keys(values);
    const rows = await manager.query<{ n: number }[]>(
      `WITH changed AS (
              INSERT INTO project_metadata (project_id, name, value)
              SELECT $1, t.name, t.value FROM unnest($2::text[], $3::text[]) AS t(name, value)
                WHERE EXISTS (SELECT 1 FROM project WHERE project_id = $1)
              ON CONFLICT (project_id, name) DO UPDATE SET value = EXCLUDED.value),
            touched AS (UPDATE project SET update_time = now() WHERE project_id = $1 RETURNING project_id)
       SELECT count(*)::int AS n FROM touched`,
      [projectId, keys, keys.map((key) => values[key])],
    );
    return (rows[0]?.n ?? 0) > 0;
  }

  /** Locks the project against concurrent changes until the transaction ends; false if it no longer exists. */
  async lock(manager: EntityManager, projectId: number): Promise<boolean> {
    const rows = await manager.query<{ project_id: number }[]>(
      `SELECT project_id FROM project WHERE project_id = $1 FOR UPDATE`,
      [projectId],
    );
    return rows.length > 0;
  }

  async repositoryCount(projectId: number, manager: EntityManager = this.dataSource.manager): Promise<number> {
    const rows = await manager.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM registry_repository WHERE project_id = $1`,
      [projectId],
    );
    return rows[0]?.n ?? 0;
  }

  /**
   * Deletes a project; its metadata, members, quota, robots and blob usage go with it (ON DELETE CASCADE). Throws
   * a foreign key violation (see isForeignKeyViolation) while repositories still belong to it.
   */
  async delete(manager: EntityManager, projectId: number): Promise<boolean> {
    const rows = await manager.query<{ n: number }[]>(
      // System robots name projects in their permissions; a later project of the same name must not inherit them.
      `WITH deleted AS (DELETE FROM project WHERE project_id = $1 RETURNING project_id, name),
            grants AS (DELETE FROM robot_permission rp USING deleted
                        WHERE rp.kind = 'project' AND rp.namespace = deleted.name)
       SELECT count(*)::int AS n FROM deleted`,
      [projectId],
    );
    return (rows[0]?.n ?? 0) > 0;
  }

  /** How many members hold each role in a project. */
  async memberCountsByRole(projectId: number): Promise<Map<number, number>> {
    const rows = await this.dataSource.query<{ role: number; n: number }[]>(
      `SELECT role, count(*)::int AS n FROM project_member WHERE project_id = $1 GROUP BY role`,
      [projectId],
    );
    return new Map(rows.map((row) => [row.role, row.n]));
  }
}
