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

/** What authentication needs of a user. */
export interface UserCredentials {
  userId: number;
  username: string;
  passwordHash: string;
  sysadmin: boolean;
}

/** A user as the API shows it; the password hash never leaves the repository except through credential lookups. */
export interface User {
  userId: number;
  username: string;
  email: string | null;
  realname: string;
  comment: string;
  sysadmin: boolean;
  creationTime: Date;
  updateTime: Date;
}

export interface NewUser {
  username: string;
  email: string;
  realname: string;
  comment: string;
  passwordHash: string;
  sysadmin: boolean;
}

export interface UserProfileChange {
  email: string;
  realname: string;
  comment: string;
}

/** Which unique rule a write broke. */
export type UserConflict = 'username' | 'email';

export type UserWrite<T> = { ok: true; value: T } | { ok: false; conflict: UserConflict };

export interface UserPage<T> {
  items: T[];
  total: number;
}

/** The account Wharf creates at first start; Harbor gives it id 1 and keeps it out of user lists. */
export const BOOTSTRAP_ADMIN_ID = 1;
export const BOOTSTRAP_ADMIN_NAME = 'admin';

interface CredentialsRow {
  user_id: number;
  username: string;
  password_hash: string;
  sysadmin_flag: boolean;
}

interface UserRow {
  user_id: number;
  username: string;
  email: string | null;
  realname: string;
  comment: string;
  sysadmin_flag: boolean;
  creation_time: Date;
  update_time: Date;
}

function toCredentials(row: CredentialsRow): UserCredentials {
  return { userId: row.user_id, username: row.username, passwordHash: row.password_hash, sysadmin: row.sysadmin_flag };
}

function toUser(row: UserRow): User {
  return {
    userId: row.user_id,
    username: row.username,
    email: row.email,
    realname: row.realname,
    comment: row.comment,
    sysadmin: row.sysadmin_flag,
    creationTime: row.creation_time,
    updateTime: row.update_time,
  };
}

const USER_COLUMNS =
  'u.user_id, u.username, u.email, u.realname, u.comment, u.sysadmin_flag, u.creation_time, u.update_time';

/**
 * Filters of the user list. Names and addresses compare without regard to case, as their unique indexes do, so the
 * list's values are lower-cased before they reach these expressions (see {@link lowerCaseTerms}).
 */
const LIST_FIELDS: Record<string, FieldSpec> = {
  username: { column: 'lower(u.username)', type: 'text', fuzzy: true },
  email: { column: 'lower(u.email)', type: 'text', fuzzy: true },
  user_id: { column: 'u.user_id', type: 'int', range: true },
};

const LIST_SORTS: Record<string, string> = {
  username: 'lower(u.username)',
  email: 'lower(u.email)',
  user_id: 'u.user_id',
  creation_time: 'u.creation_time',
};

/** Newest first, as Harbor lists users when no order is asked for. */
const LIST_FALLBACK_ORDER = 'u.user_id DESC';

const CASE_INSENSITIVE_KEYS = new Set(['username', 'email']);

function lowerCaseTerms(terms: readonly QueryTerm[]): QueryTerm[] {
  return terms.map((term) => {
    if (!CASE_INSENSITIVE_KEYS.has(term.key)) return term;
    switch (term.match) {
      case 'exact':
      case 'fuzzy':
        return { ...term, value: term.value.toLowerCase() };
      case 'any':
      case 'all':
        return { ...term, values: term.values.map((v) => v.toLowerCase()) };
      case 'range':
        return term;
    }
  });
}

/** What TypeORM's PostgreSQL driver answers for UPDATE and DELETE: the returned rows and the number of rows hit. */
type Modified<T> = [T[], number];

interface PgError {
  code?: string;
  constraint?: string;
}

/** A write refused because a name or address is taken, found without a failed statement. */
class UserConflictError extends Error {
  constructor(readonly conflict: UserConflict) {
    super(`${conflict} taken`);
  }
}

/** The unique rule a failed write broke, or undefined when it failed for another reason. */
function uniqueConflict(error: unknown): UserConflict | undefined {
  if (error instanceof UserConflictError) return error.conflict;
  const pg = ((error as { driverError?: PgError }).driverError ?? error) as PgError;
  if (pg.code !== '23505') return undefined;
  if (pg.constraint === 'wharf_user_email_idx') return 'email';
  if (pg.constraint === 'wharf_user_username_idx') return 'username';
  return undefined;
}

async function guarded<T>(write: () => Promise<T>): Promise<UserWrite<T>> {
  try {
    return { ok: true, value: await write() };
  } catch (error) {
    const conflict = uniqueConflict(error);
    if (conflict === undefined) throw error;
    return { ok: false, conflict };
  }
}

@Injectable()
export class UserRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** User names are unique regardless of case, as the login form treats them. */
  async findCredentialsByUsername(username: string): Promise<UserCredentials | undefined> {
    const rows = await this.dataSource.query<CredentialsRow[]>(
      `SELECT user_id, username, password_hash, sysadmin_flag FROM wharf_user WHERE lower(username) = lower($1)`,
      [username],
    );
    return rows[0] ? toCredentials(rows[0]) : undefined;
  }

  async findCredentialsById(userId: number): Promise<UserCredentials | undefined> {
    const rows = await this.dataSource.query<CredentialsRow[]>(
      `SELECT user_id, username, password_hash, sysadmin_flag FROM wharf_user WHERE user_id = $1`,
      [userId],
    );
    return rows[0] ? toCredentials(rows[0]) : undefined;
  }

  async findById(userId: number, manager: EntityManager = this.dataSource.manager): Promise<User | undefined> {
    const rows = await manager.query<UserRow[]>(`SELECT ${USER_COLUMNS} FROM wharf_user u WHERE u.user_id = $1`, [
      userId,
    ]);
    return rows[0] ? toUser(rows[0]) : undefined;
  }

  /**
   * One page of users matching `terms`, in `sort` order. Like Harbor, the bootstrap administrator is left out unless
   * the query asks for users by id.
   */
  async list(terms: readonly QueryTerm[], sort: readonly SortTerm[], page: Pagination): Promise<UserPage<User>> {
    const params: unknown[] = [];
    const filter = buildFilter(lowerCaseTerms(terms), LIST_FIELDS, params);
    const orderBy = buildOrderBy(sort, LIST_SORTS, LIST_FALLBACK_ORDER);
    const byId = terms.some((term) => term.key === 'user_id');
    const where = byId ? filter : `${filter} AND u.user_id <> ${BOOTSTRAP_ADMIN_ID}`;
    const [rows, counted] = await Promise.all([
      this.dataSource.query<UserRow[]>(
        `SELECT ${USER_COLUMNS} FROM wharf_user u WHERE ${where} ORDER BY ${orderBy}
          LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, page.pageSize, page.offset],
      ),
      this.dataSource.query<{ total: number }[]>(
        `SELECT count(*)::int AS total FROM wharf_user u WHERE ${where}`,
        params,
      ),
    ]);
    return { items: rows.map(toUser), total: counted[0]?.total ?? 0 };
  }

  /** Users whose name contains `fragment` (any case), by name; the bootstrap administrator is left out as in Harbor. */
  async searchByName(fragment: string, page: Pagination): Promise<UserPage<{ userId: number; username: string }>> {
    const pattern = `%${escapeLike(fragment.toLowerCase())}%`;
    const where = `lower(u.username) LIKE $1 ESCAPE '\\' AND u.user_id <> ${BOOTSTRAP_ADMIN_ID}`;
    const [rows, counted] = await Promise.all([
      this.dataSource.query<{ user_id: number; username: string }[]>(
        `SELECT u.user_id, u.username FROM wharf_user u WHERE ${where}
          ORDER BY lower(u.username), u.user_id LIMIT $2 OFFSET $3`,
        [pattern, page.pageSize, page.offset],
      ),
      this.dataSource.query<{ total: number }[]>(`SELECT count(*)::int AS total FROM wharf_user u WHERE ${where}`, [
        pattern,
      ]),
    ]);
    return {
      items: rows.map((row) => ({ userId: row.user_id, username: row.username })),
      total: counted[0]?.total ?? 0,
    };
  }

  /**
   * Inserts a user. A name or address already taken (in any case) answers a conflict rather than failing the
   * statement, so the failure never reaches the database log with the new user's password hash in its parameters.
   */
  async create(manager: EntityManager, user: NewUser): Promise<UserWrite<User>> {
    return guarded(async () => {
      const rows = await manager.query<UserRow[]>(
        `INSERT INTO wharf_user AS u (username, email, realname, comment, password_hash, sysadmin_flag)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING ${USER_COLUMNS}`,
        [user.username, user.email, user.realname, user.comment, user.passwordHash, user.sysadmin],
      );
      if (rows[0]) return toUser(rows[0]);
      const taken = await manager.query<{ username_taken: boolean }[]>(
        `SELECT EXISTS (SELECT 1 FROM wharf_user WHERE lower(username) = lower($1)) AS username_taken`,
        [user.username],
      );
      throw new UserConflictError(taken[0]?.username_taken ? 'username' : 'email');
    });
  }

  /**
   * Creates the bootstrap administrator unless a user of that name exists. Safe when several servers start at once:
   * the unique indexes let one insert win and the others do nothing. It takes id 1 when that is free, as in Harbor.
   * Answers whether this call created it.
   */
  async createBootstrapAdmin(passwordHash: string): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const inserted = await manager.query<{ user_id: number }[]>(
        `INSERT INTO wharf_user (user_id, username, email, realname, comment, password_hash, sysadmin_flag)
         SELECT CASE WHEN EXISTS (SELECT 1 FROM wharf_user WHERE user_id = $1)
                     THEN nextval(pg_get_serial_sequence('wharf_user', 'user_id')::regclass) ELSE $1 END,
                $2,
                -- Harbor's address for the admin, unless a user already took it.
                CASE WHEN EXISTS (SELECT 1 FROM wharf_user WHERE lower(email) = 'admin@example.com')
                     THEN NULL ELSE 'admin@example.com' END,
                'system admin', 'admin user', $3, true
          WHERE NOT EXISTS (SELECT 1 FROM wharf_user WHERE lower(username) = lower($2))
         ON CONFLICT DO NOTHING
         RETURNING user_id`,
        [BOOTSTRAP_ADMIN_ID, BOOTSTRAP_ADMIN_NAME, passwordHash],
      );
      if (inserted[0]?.user_id === BOOTSTRAP_ADMIN_ID) {
        // An explicit id leaves the sequence where it was; move it past 1 unless it already handed ids out.
        await manager.query(
          `SELECT setval(pg_get_serial_sequence('wharf_user', 'user_id'), $1)
            WHERE NOT (SELECT is_called FROM wharf_user_user_id_seq)`,
          [BOOTSTRAP_ADMIN_ID],
        );
      }
      return inserted.length > 0;
    });
  }

  /** The updated user, or undefined when there is no such user. */
  async updateProfile(
    manager: EntityManager,
    userId: number,
    profile: UserProfileChange,
  ): Promise<UserWrite<User | undefined>> {
    return guarded(async () => {
      // Checking the address first keeps the common conflict from failing a statement; the unique index still
      // decides between two updates racing for one address.
      const [rows] = await manager.query<Modified<UserRow>>(
        `UPDATE wharf_user AS u SET email = $2, realname = $3, comment = $4, update_time = now()
          WHERE u.user_id = $1
            AND NOT EXISTS (SELECT 1 FROM wharf_user o WHERE lower(o.email) = lower($2) AND o.user_id <> $1)
          RETURNING ${USER_COLUMNS}`,
        [userId, profile.email, profile.realname, profile.comment],
      );
      if (rows[0]) return toUser(rows[0]);
      if (!(await this.findById(userId, manager))) return undefined;
      throw new UserConflictError('email');
    });
  }

  /** Answers whether the user exists. */
  async updatePasswordHash(manager: EntityManager, userId: number, passwordHash: string): Promise<boolean> {
    const [, count] = await manager.query<Modified<never>>(
      `UPDATE wharf_user SET password_hash = $2, password_changed_at = now(), update_time = now() WHERE user_id = $1`,
      [userId, passwordHash],
    );
    return count > 0;
  }

  /** Answers whether the user exists. */
  async setSysadmin(manager: EntityManager, userId: number, sysadmin: boolean): Promise<boolean> {
    const [, count] = await manager.query<Modified<never>>(
      `UPDATE wharf_user SET sysadmin_flag = $2, update_time = now() WHERE user_id = $1`,
      [userId, sysadmin],
    );
    return count > 0;
  }

  /** Deletes the user and their project memberships; answers whether the user existed. */
  async delete(manager: EntityManager, userId: number): Promise<boolean> {
    await manager.query(`DELETE FROM project_member WHERE entity_type = 'u' AND entity_id = $1`, [userId]);
    const [, count] = await manager.query<Modified<never>>(`DELETE FROM wharf_user WHERE user_id = $1`, [userId]);
    return count > 0;
  }
}
