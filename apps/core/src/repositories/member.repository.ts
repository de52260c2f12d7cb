import { Injectable } from '@nestjs/common';
import { type Pagination, escapeLike } from '@wharf/db';
import { DataSource, type EntityManager } from 'typeorm';

/** A user's membership in a project. */
export interface MemberRecord {
  id: number;
  projectId: number;
  entityId: number;
  entityType: 'u';
  entityName: string;
  role: number;
}

interface MemberRow {
  id: number;
  project_id: number;
  entity_id: number;
  entity_type: 'u';
  entity_name: string;
  role: number;
}

function toRecord(row: MemberRow): MemberRecord {
  return {
    id: row.id,
    projectId: row.project_id,
    entityId: row.entity_id,
    entityType: row.entity_type,
    entityName: row.entity_name,
    role: row.role,
  };
}

export interface MemberUser {
  userId: number;
  username: string;
}

const MEMBER_SELECT = `
  SELECT pm.id, pm.project_id, pm.entity_id, pm.entity_type, pm.role, u.username AS entity_name
    FROM project_member pm JOIN wharf_user u ON u.user_id = pm.entity_id`;

/** Memberships of users; a project's rows are found through the (project_id, entity_type, entity_id) index. */
@Injectable()
export class MemberRepository {
  constructor(private readonly dataSource: DataSource) {}

  async list(
    projectId: number,
    nameContains: string | undefined,
    pagination: Pagination,
  ): Promise<{ items: MemberRecord[]; total: number }> {
    const params: unknown[] = [projectId];
    let where = `pm.project_id = $1 AND pm.entity_type = 'u'`;
    if (nameContains !== undefined && nameContains !== '') {
      params.push(`%${escapeLike(nameContains)}%`);
      where += ` AND u.username ILIKE $2 ESCAPE '\\'`;
    }
    const n = params.length;
    const [counted, rows] = await Promise.all([
      this.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM project_member pm JOIN wharf_user u ON u.user_id = pm.entity_id WHERE ${where}`,
        params,
      ),
      this.dataSource.query<MemberRow[]>(
        `${MEMBER_SELECT} WHERE ${where} ORDER BY u.username, pm.id LIMIT $${n + 1} OFFSET $${n + 2}`,
        [...params, pagination.pageSize, pagination.offset],
      ),
    ]);
    return { items: rows.map(toRecord), total: counted[0]?.n ?? 0 };
  }

  async find(projectId: number, memberId: number): Promise<MemberRecord | undefined> {
    const rows = await this.dataSource.query<MemberRow[]>(
      `${MEMBER_SELECT} WHERE pm.project_id = $1 AND pm.id = $2 AND pm.entity_type = 'u'`,
      [projectId, memberId],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async findUserById(userId: number): Promise<MemberUser | undefined> {
    const rows = await this.dataSource.query<{ user_id: number; username: string }[]>(
      `SELECT user_id, username FROM wharf_user WHERE user_id = $1`,
      [userId],
    );
    return rows[0] ? { userId: rows[0].user_id, username: rows[0].username } : undefined;
  }

  /** User names are matched regardless of case, as logins are. */
  async findUserByName(username: string): Promise<MemberUser | undefined> {
    const rows = await this.dataSource.query<{ user_id: number; username: string }[]>(
      `SELECT user_id, username FROM wharf_user WHERE lower(username) = lower($1)`,
      [username],
    );
    return rows[0] ? { userId: rows[0].user_id, username: rows[0].username } : undefined;
  }

  /** Adds a user to a project; undefined when the user already is a member. */
  async insert(manager: EntityManager, projectId: number, userId: number, role: number): Promise<number | undefined> {
    const rows = await manager.query<{ id: number }[]>(
      `INSERT INTO project_member (project_id, entity_id, entity_type, role) VALUES ($1, $2, 'u', $3)
       ON CONFLICT (project_id, entity_type, entity_id) DO NOTHING RETURNING id`,
      [projectId, userId, role],
    );
    return rows[0]?.id;
  }

  /** The membership with its new role, or undefined when the project has no such member. */
  async updateRole(
    manager: EntityManager,
    projectId: number,
    memberId: number,
    role: number,
  ): Promise<MemberRecord | undefined> {
    const rows = await manager.query<MemberRow[]>(
      `WITH updated AS (
              UPDATE project_member SET role = $3, update_time = now()
               WHERE project_id = $1 AND id = $2 AND entity_type = 'u'
              RETURNING id, project_id, entity_id, entity_type, role)
       SELECT updated.*, COALESCE(u.username, '#' || updated.entity_id) AS entity_name
         FROM updated LEFT JOIN wharf_user u ON u.user_id = updated.entity_id`,
      [projectId, memberId, role],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** The removed membership, or undefined when the project has no such member. */
  async delete(manager: EntityManager, projectId: number, memberId: number): Promise<MemberRecord | undefined> {
    const rows = await manager.query<MemberRow[]>(
      `WITH deleted AS (
              DELETE FROM project_member WHERE project_id = $1 AND id = $2 AND entity_type = 'u'
              RETURNING id, project_id, entity_id, entity_type, role)
       SELECT deleted.*, COALESCE(u.username, '#' || deleted.entity_id) AS entity_name
         FROM deleted LEFT JOIN wharf_user u ON u.user_id = deleted.entity_id`,
      [projectId, memberId],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }
}
