import { Injectable } from '@nestjs/common';
import { type RobotGrant, type RobotLevel } from '@wharf/auth';
import { type FieldSpec, type Pagination, type QueryTerm, type SortTerm, buildFilter, buildOrderBy } from '@wharf/db';
import { DataSource, type EntityManager } from 'typeorm';

/** What authentication needs of a robot account. */
export interface RobotCredentials {
  id: number;
  name: string;
  level: 'system' | 'project';
  projectId: number | null;
  projectName: string | null;
  secretHash: string;
  salt: string;
  /** Unix seconds; -1 never expires. */
  expiresAt: number;
  disabled: boolean;
  grants: RobotGrant[];
}

interface CredentialsRow {
  id: number;
  name: string;
  level: 'system' | 'project';
  project_id: number | null;
  project_name: string | null;
  secret_hash: string;
  salt: string;
  expires_at: string;
  disabled: boolean;
  grants: GrantRow[];
}

/** A robot account as the API shows it: everything but its secret. */
export interface RobotRecord {
  id: number;
  /** The name without Harbor's `robot$` prefix and project part. */
  name: string;
  description: string;
  level: RobotLevel;
  projectId: number | null;
  projectName: string | null;
  /** Days; -1 never expires. */
  duration: number;
  /** Unix seconds; -1 never expires. */
  expiresAt: number;
  disabled: boolean;
  editable: boolean;
  creatorType: string;
  creatorRef: number | null;
  creationTime: Date;
  updateTime: Date;
  grants: RobotGrant[];
}

export interface NewRobot {
  name: string;
  description: string;
  level: RobotLevel;
  projectId: number | null;
  secretHash: string;
  salt: string;
  duration: number;
  expiresAt: number;
  disabled: boolean;
  creatorType: string;
  creatorRef: number | null;
  creationTime: Date;
}

export interface RobotChanges {
  description: string;
  duration: number;
  expiresAt: number;
  disabled: boolean;
}

/** Which robots a list covers: the system robots (projectId null) or those of one project. */
export interface RobotListScope {
  projectId: number | null;
}

interface GrantRow {
  kind: 'system' | 'project';
  namespace: string;
  resource: string;
  action: string;
  effect: 'allow' | 'deny';
}

interface RobotRow {
  id: number;
  name: string;
  description: string;
  level: RobotLevel;
  project_id: number | null;
  project_name: string | null;
  duration: number;
  expires_at: string;
  disabled: boolean;
  editable: boolean;
  creator_type: string;
  creator_ref: number | null;
  creation_time: Date;
  update_time: Date;
  grants: GrantRow[];
}

// System permissions first, then by namespace, resource and action: one stable order for every reader.
const ROBOT_SELECT = `
  SELECT r.id, r.name, r.description, r.level, r.project_id, p.name AS project_name, r.duration, r.expires_at,
         r.disabled, r.editable, r.creator_type, r.creator_ref, r.creation_time, r.update_time,
         COALESCE((SELECT json_agg(json_build_object('kind', rp.kind, 'namespace', rp.namespace,
                                                     'resource', rp.resource, 'action', rp.action,
                                                     'effect', rp.effect)
                                   ORDER BY rp.kind = 'project', rp.namespace, rp.resource, rp.action)
                     FROM robot_permission rp WHERE rp.robot_id = r.id), '[]') AS grants
    FROM robot r
    LEFT JOIN project p ON p.project_id = r.project_id`;

/** The `q` keys a robot list filters by, besides the scope (Level, ProjectID) the service resolves. */
export const ROBOT_LIST_FIELDS: Record<string, FieldSpec> = {
  name: { column: 'r.name', type: 'text', fuzzy: true },
  description: { column: 'r.description', type: 'text', fuzzy: true },
  disabled: { column: 'r.disabled', type: 'bool' },
};

const ROBOT_SORTS: Record<string, string> = {
  name: 'r.name',
  creation_time: 'r.creation_time',
  update_time: 'r.update_time',
  expires_at: 'r.expires_at',
  id: 'r.id',
};

const CREDENTIALS_SELECT = `
  SELECT r.id, r.name, r.level, r.project_id, p.name AS project_name, r.secret_hash, r.salt, r.expires_at, r.disabled,
         COALESCE((SELECT json_agg(json_build_object('kind', rp.kind, 'namespace', rp.namespace,
                                                     'resource', rp.resource, 'action', rp.action,
                                                     'effect', rp.effect))
                     FROM robot_permission rp WHERE rp.robot_id = r.id), '[]') AS grants
    FROM robot r
    LEFT JOIN project p ON p.project_id = r.project_id`;

function toGrant(row: GrantRow): RobotGrant {
  const { kind, namespace, resource, action } = row;
  return row.effect === 'deny'
    ? { kind, namespace, resource, action, effect: 'deny' }
    : { kind, namespace, resource, action };
}

function toCredentials(row: CredentialsRow): RobotCredentials {
  return {
    id: row.id,
    name: row.name,
    level: row.level,
    projectId: row.project_id,
    projectName: row.project_name,
    secretHash: row.secret_hash,
    salt: row.salt,
    expiresAt: Number(row.expires_at),
    disabled: row.disabled,
    // Denies travel with the allows: a deny on one project must hold against an allow on every project.
    grants: row.grants.map(toGrant),
  };
}

function toRecord(row: RobotRow): RobotRecord {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    level: row.level,
    projectId: row.project_id,
    projectName: row.project_name,
    duration: row.duration,
    expiresAt: Number(row.expires_at),
    disabled: row.disabled,
    editable: row.editable,
    creatorType: row.creator_type,
    creatorRef: row.creator_ref,
    creationTime: row.creation_time,
    updateTime: row.update_time,
    grants: row.grants.map(toGrant),
  };
}

function scopeCondition(scope: RobotListScope, params: unknown[]): string {
  if (scope.projectId === null) return 'r.project_id IS NULL';
  params.push(scope.projectId);
  return `r.project_id = $${params.length}`;
}

@Injectable()
export class RobotRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * A robot by its login name's parts: `robot$<name>` is a system robot, `robot$<project>+<name>` a robot of
   * that project.
   */
  async findCredentials(projectName: string | undefined, name: string): Promise<RobotCredentials | undefined> {
    const rows = await this.dataSource.query<CredentialsRow[]>(
      `${CREDENTIALS_SELECT} WHERE r.name = $1 AND ${projectName === undefined ? 'r.project_id IS NULL' : 'p.name = $2'}`,
      projectName === undefined ? [name] : [name, projectName],
    );
    return rows[0] ? toCredentials(rows[0]) : undefined;
  }

  /** A robot by id, as authentication sees it: what a token issued to it may still be honoured for. */
  async findCredentialsById(id: number): Promise<RobotCredentials | undefined> {
    const rows = await this.dataSource.query<CredentialsRow[]>(`${CREDENTIALS_SELECT} WHERE r.id = $1`, [id]);
    return rows[0] ? toCredentials(rows[0]) : undefined;
  }

  async findById(id: number, manager: EntityManager = this.dataSource.manager): Promise<RobotRecord | undefined> {
    const rows = await manager.query<RobotRow[]>(`${ROBOT_SELECT} WHERE r.id = $1`, [id]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** One page of the robots in `scope` that match `terms`, and how many match in all. */
  async list(
    scope: RobotListScope,
    terms: readonly QueryTerm[],
    sort: readonly SortTerm[],
    page: Pagination,
  ): Promise<{ items: RobotRecord[]; total: number }> {
    const params: unknown[] = [];
    const where = `${scopeCondition(scope, params)} AND ${buildFilter(terms, ROBOT_LIST_FIELDS, params)}`;
    // Ids grow with creation, so the newest come first as in Harbor, in the order of the (project_id, id) index.
    const orderBy = buildOrderBy(sort, ROBOT_SORTS, 'r.id DESC');
    const [counted, rows] = await Promise.all([
      this.dataSource.query<{ total: string }[]>(`SELECT count(*) AS total FROM robot r WHERE ${where}`, params),
      this.dataSource.query<RobotRow[]>(
        `${ROBOT_SELECT} WHERE ${where} ORDER BY ${orderBy} LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, page.pageSize, page.offset],
      ),
    ]);
    return { items: rows.map(toRecord), total: Number(counted[0]?.total ?? 0) };
  }

  /**
   * Inserts a robot and its grants; answers its id, or undefined when the name is already taken in the same scope
   * (the system, or the project). The conflict is settled by the unique index, so two concurrent creations of one
   * name cannot both succeed.
   */
  async insert(manager: EntityManager, robot: NewRobot, grants: readonly RobotGrant[]): Promise<number | undefined> {
    const rows = await manager.query<{ id: number }[]>(
      `INSERT INTO robot (name, description, level, project_id, secret_hash, salt, duration, expires_at, disabled,
                          creator_type, creator_ref, creation_time, update_time)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
       ON CONFLICT ((COALESCE(project_id, 0)), name) DO NOTHING
       RETURNING id`,
      [
        robot.name,
        robot.description,
        robot.level,
        robot.projectId,
        robot.secretHash,
        robot.salt,
        robot.duration,
        robot.expiresAt,
        robot.disabled,
        robot.creatorType,
        robot.creatorRef,
        robot.creationTime,
      ],
    );
    const id = rows[0]?.id;
    if (id !== undefined) await this.insertGrants(manager, id, grants);
    return id;
  }

  async update(
    manager: EntityManager,
    id: number,
    changes: RobotChanges,
    grants: readonly RobotGrant[],
  ): Promise<void> {
    await manager.query(
      `UPDATE robot SET description = $2, duration = $3, expires_at = $4, disabled = $5, update_time = now()
        WHERE id = $1`,
      [id, changes.description, changes.duration, changes.expiresAt, changes.disabled],
    );
    await manager.query(`DELETE FROM robot_permission WHERE robot_id = $1`, [id]);
    await this.insertGrants(manager, id, grants);
  }

  async updateSecret(manager: EntityManager, id: number, secretHash: string, salt: string): Promise<void> {
    await manager.query(`UPDATE robot SET secret_hash = $2, salt = $3, update_time = now() WHERE id = $1`, [
      id,
      secretHash,
      salt,
    ]);
  }

  /** Deletes a robot (its permissions go with it); false when it was already gone. */
  async delete(manager: EntityManager, id: number): Promise<boolean> {
    const rows = await manager.query<{ id: number }[]>(`DELETE FROM robot WHERE id = $1 RETURNING id`, [id]);
    return rows.length > 0;
  }

  /** The names among `names` that no project has. */
  async missingProjects(names: readonly string[]): Promise<string[]> {
    if (names.length === 0) return [];
    const rows = await this.dataSource.query<{ name: string }[]>(
      `SELECT n.name FROM unnest($1::text[]) AS n(name)
        WHERE NOT EXISTS (SELECT 1 FROM project p WHERE p.name = n.name)`,
      [names],
    );
    return rows.map((row) => row.name);
  }

  /** Whether a user administers at least one project through direct membership (Harbor's project admin). */
  async userAdministersAnyProject(userId: number): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>(
      `SELECT 1 FROM project_member WHERE entity_type = 'u' AND entity_id = $1 AND role = 1 LIMIT 1`,
      [userId],
    );
    return rows.length > 0;
  }

  private async insertGrants(manager: EntityManager, robotId: number, grants: readonly RobotGrant[]): Promise<void> {
    if (grants.length === 0) return;
    await manager.query(
      `INSERT INTO robot_permission (robot_id, kind, namespace, resource, action, effect)
       SELECT $1, g.kind, g.namespace, g.resource, g.action, g.effect
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
              AS g(kind, namespace, resource, action, effect)`,
      [
        robotId,
        grants.map((g) => g.kind),
        grants.map((g) => g.namespace),
        grants.map((g) => g.resource),
        grants.map((g) => g.action),
        grants.map((g) => g.effect ?? 'allow'),
      ],
    );
  }
}
