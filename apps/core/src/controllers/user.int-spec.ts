import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { hashRobotSecret, newSalt } from '@wharf/auth';
import { createDataSource, runMigrations } from '@wharf/db';
import { createTestDatabase } from '@wharf/testkit';
import { DataSource } from 'typeorm';
import { startCoreServer } from '../core.server.js';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type Credentials, type TestCore, type TestResponse, basicAuth, startTestCore } from '../testing/test-core.js';

/** Starting and stopping a server (database, migrations, admin hash) takes seconds on a busy machine. */
const SERVER_TIMEOUT_MS = 60_000;
// Every request authenticates with a deliberately slow password hash; several test files share two cores.
jest.setTimeout(30_000);

interface UserResp {
  user_id: number;
  username: string;
  email: string;
  realname: string;
  comment: string;
  sysadmin_flag: boolean;
  admin_role_in_auth: boolean;
  creation_time: string;
  update_time: string;
}

interface ErrorBody {
  errors: { code: string; message: string }[];
}

interface Permission {
  resource: string;
  action: string;
}

describe('users', () => {
  let core: TestCore;
  let db: DataSource;
  let contract: HarborContract;
  let serial = 0;

  /** Creates a user as admin and answers its id and credentials. */
  async function createUser(prefix: string): Promise<{ id: number; credentials: Credentials }> {
    serial += 1;
    const username = `${prefix}${serial}`;
    const password = `Passw0rd-${serial}`;
    const response = await core.request('POST', '/api/v2.0/users', {
      auth: core.admin,
      body: { username, email: `${username}@example.com`, realname: `Real ${username}`, password },
    });
    expect(response.status).toBe(201);
    const location = response.headers.get('location') ?? '';
    const id = Number(/^\/api\/v2\.0\/users\/(\d+)$/.exec(location)?.[1]);
    expect(id).toBeGreaterThan(1);
    return { id, credentials: { username, password } };
  }

  async function createProject(name: string, isPublic: boolean): Promise<number> {
    const rows = await db.query<{ project_id: number }[]>(
      `INSERT INTO project (name) VALUES ($1) RETURNING project_id`,
      [name],
    );
    const projectId = rows[0].project_id;
    await db.query(`INSERT INTO project_metadata (project_id, name, value) VALUES ($1, 'public', $2)`, [
      projectId,
      String(isPublic),
    ]);
    return projectId;
  }

  async function addMember(projectId: number, userId: number, role: number): Promise<void> {
    await db.query(`INSERT INTO project_member (project_id, entity_id, entity_type, role) VALUES ($1, $2, 'u', $3)`, [
      projectId,
      userId,
      role,
    ]);
  }

  /** A system robot holding `access` on `/`; answers its login. */
  async function createSystemRobot(name: string, access: Permission[]): Promise<Credentials> {
    const secret = `Robot-Secret-${name}-1`;
    const salt = newSalt();
    const rows = await db.query<{ id: number }[]>(
      `INSERT INTO robot (name, level, secret_hash, salt, duration, expires_at)
       VALUES ($1, 'system', $2, $3, -1, -1) RETURNING id`,
      [name, hashRobotSecret(secret, salt), salt],
    );
    for (const { resource, action } of access) {
      await db.query(
        `INSERT INTO robot_permission (robot_id, kind, namespace, resource, action) VALUES ($1, 'system', '/', $2, $3)`,
        [rows[0].id, resource, action],
      );
    }
    return { username: `robot$${name}`, password: secret };
  }

  function expectError(response: TestResponse, status: number, code: string, message?: RegExp): void {
    expect(response.status).toBe(status);
    const body = response.body as ErrorBody;
    expect(body.errors[0].code).toBe(code);
    if (message) expect(body.errors[0].message).toMatch(message);
  }

  beforeAll(async () => {
    core = await startTestCore();
    db = core.server.app.get(DataSource);
    contract = await harborContract();
  }, SERVER_TIMEOUT_MS);

  afterAll(async () => {
    await core.close();
  }, SERVER_TIMEOUT_MS);

  describe('the admin account', () => {
    it('exists from the first start as user 1, a system administrator with harbor_admin_password', async () => {
      const response = await core.request<UserResp>('GET', '/api/v2.0/users/current', { auth: core.admin });
      expect(response.status).toBe(200);
      contract.assertValid('UserResp', response.body);
      expect(response.body).toMatchObject({ user_id: 1, username: 'admin', sysadmin_flag: true });
      const admins = await db.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM wharf_user WHERE lower(username) = 'admin'`,
      );
      expect(admins[0].n).toBe(1);
    });

    it(
      'keeps its password when a server starts again with another harbor_admin_password',
      async () => {
        const again = await startCoreServer(
          { ...core.config, adminPassword: 'Another-Passw0rd' },
          { port: 0, redisPrefix: `wharf:test:restart:${process.pid}:` },
        );
        try {
          const basic = (credentials: Credentials) => ({ authorization: basicAuth(credentials) });
          const withOld = await fetch(`${again.url}/api/v2.0/users/current`, { headers: basic(core.admin) });
          expect(withOld.status).toBe(200);
          const withNew = await fetch(`${again.url}/api/v2.0/users/current`, {
            headers: basic({ username: 'admin', password: 'Another-Passw0rd' }),
          });
          expect(withNew.status).toBe(401);
        } finally {
          await again.close();
        }
        const admins = await db.query<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM wharf_user WHERE lower(username) = 'admin'`,
        );
        expect(admins[0].n).toBe(1);
      },
      SERVER_TIMEOUT_MS,
    );

    it(
      'is created exactly once, as user 1, when several servers start on a new database at once',
      async () => {
        const database = await createTestDatabase('wharf_core_boot');
        try {
          const config = {
            ...core.config,
            database: { ...core.config.database, database: database.database },
          };
          const migrate = createDataSource({ ...config.database, applicationName: 'wharf-test-migrate' });
          await migrate.initialize();
          await runMigrations(migrate);
          const servers = await Promise.all(
            [1, 2, 3].map((n) =>
              startCoreServer(config, { port: 0, redisPrefix: `wharf:test:boot${n}:${process.pid}:` }),
            ),
          );
          await Promise.all(servers.map((server) => server.close()));
          const rows = await migrate.query<{ user_id: number; sysadmin_flag: boolean }[]>(
            `SELECT user_id, sysadmin_flag FROM wharf_user`,
          );
          expect(rows).toEqual([{ user_id: 1, sysadmin_flag: true }]);
          // The id sequence moved past the admin: the next user gets a fresh id.
          const next = await migrate.query<{ user_id: number }[]>(
            `INSERT INTO wharf_user (username, password_hash) VALUES ('next', 'x') RETURNING user_id`,
          );
          expect(next[0].user_id).toBe(2);
          await migrate.destroy();
        } finally {
          await database.drop();
        }
      },
      SERVER_TIMEOUT_MS,
    );

    it('cannot be deleted', async () => {
      const { id, credentials } = await createUser('deladmin');
      await core.request('PUT', `/api/v2.0/users/${id}/sysadmin`, {
        auth: core.admin,
        body: { sysadmin_flag: true },
      });
      const response = await core.request('DELETE', '/api/v2.0/users/1', { auth: credentials });
      expectError(response, 403, 'FORBIDDEN', /cannot be deleted/);
    });
  });

  describe('creating', () => {
    it('answers 201 with the Location of the new user, whose password is never shown', async () => {
      const response = await core.request('POST', '/api/v2.0/users', {
        auth: core.admin,
        body: {
          username: 'alice',
          email: 'alice@example.com',
          realname: 'Alice Liddell',
          comment: 'first user',
          password: 'Wonder1and',
        },
      });
      expect(response.status).toBe(201);
      expect(response.text).toBe('');
      const location = response.headers.get('location');
      expect(location).toMatch(/^\/api\/v2\.0\/users\/\d+$/);

      const read = await core.request<UserResp>('GET', location ?? '', { auth: core.admin });
      expect(read.status).toBe(200);
      contract.assertValid('UserResp', read.body);
      expect(read.body).toMatchObject({
        username: 'alice',
        email: 'alice@example.com',
        realname: 'Alice Liddell',
        comment: 'first user',
        sysadmin_flag: false,
        admin_role_in_auth: false,
      });
      expect(read.text).not.toMatch(/password|scrypt|Wonder1and/);

      const stored = await db.query<{ password_hash: string }[]>(
        `SELECT password_hash FROM wharf_user WHERE username = 'alice'`,
      );
      expect(stored[0].password_hash).toMatch(/^scrypt\$/);

      const login = await core.request('GET', '/api/v2.0/users/current', {
        auth: { username: 'alice', password: 'Wonder1and' },
      });
      expect(login.status).toBe(200);

      const audit = await db.query<{ operation: string; resource: string; username: string }[]>(
        `SELECT operation, resource, username FROM audit_log WHERE resource_type = 'user' AND resource = 'alice'`,
      );
      expect(audit).toEqual([{ operation: 'create', resource: 'alice', username: 'admin' }]);
    });

    it('refuses a name taken in any case, and an email address taken in any case, with 409', async () => {
      const { credentials } = await createUser('dup');
      const byName = await core.request('POST', '/api/v2.0/users', {
        auth: core.admin,
        body: {
          username: credentials.username.toUpperCase(),
          email: 'other-address@example.com',
          realname: 'Other',
          password: 'Passw0rd-x',
        },
      });
      expectError(byName, 409, 'CONFLICT', /user name .* is already taken/);

      const byEmail = await core.request('POST', '/api/v2.0/users', {
        auth: core.admin,
        body: {
          username: 'another-name',
          email: `${credentials.username.toUpperCase()}@EXAMPLE.com`,
          realname: 'Other',
          password: 'Passw0rd-x',
        },
      });
      expectError(byEmail, 409, 'CONFLICT', /email address .* is already used/);
    });

    it.each([
      ['a weak password', { password: 'short' }, /body\.password: The password must be at least 8 characters/],
      ['a password without digits', { password: 'NoDigitsHere' }, /password must contain at least one digit/],
      ['a name with a forbidden character', { username: 'bad#name' }, /body\.username: .*must not contain "#"/],
      ['an empty name', { username: '' }, /body\.username: the user name must be 1 to 255 characters long/],
      ['a name of 256 characters', { username: 'n'.repeat(256) }, /user name must be 1 to 255 characters/],
      ['a malformed email address', { email: 'not-an-address' }, /body\.email: "not-an-address" is not a valid email/],
      ['no email address', { email: '' }, /body\.email: the email address is required/],
      ['no full name', { realname: '' }, /body\.realname: the full name must be 1 to 255/],
      ['a comment over 30 characters', { comment: 'c'.repeat(31) }, /body\.comment: .*at most 30 characters/],
    ])('refuses %s with 400 naming the field', async (_what, change, message) => {
      const response = await core.request('POST', '/api/v2.0/users', {
        auth: core.admin,
        body: {
          username: 'valid-name',
          email: 'valid-name@example.com',
          realname: 'Valid',
          password: 'Passw0rd-1',
          ...change,
        },
      });
      expectError(response, 400, 'BAD_REQUEST', message);
    });

    it('ignores sysadmin_flag in the request, as Harbor does', async () => {
      const response = await core.request('POST', '/api/v2.0/users', {
        auth: core.admin,
        body: {
          username: 'sneaky',
          email: 'sneaky@example.com',
          realname: 'Sneaky',
          password: 'Passw0rd-1',
          sysadmin_flag: true,
        },
      });
      expect(response.status).toBe(201);
      const read = await core.request<UserResp>('GET', response.headers.get('location') ?? '', { auth: core.admin });
      expect(read.body.sysadmin_flag).toBe(false);
    });

    it('is for administrators only', async () => {
      const { credentials } = await createUser('creator');
      const body = { username: 'x1', email: 'x1@example.com', realname: 'X', password: 'Passw0rd-1' };
      expectError(await core.request('POST', '/api/v2.0/users', { body }), 401, 'UNAUTHORIZED');
      expectError(await core.request('POST', '/api/v2.0/users', { auth: credentials, body }), 403, 'FORBIDDEN');
    });
  });

  describe('listing', () => {
    it('pages through users with X-Total-Count and Link, leaving out the admin', async () => {
      for (let i = 0; i < 3; i++) await createUser('pager');
      const all = await core.request<UserResp[]>('GET', '/api/v2.0/users?page_size=100', { auth: core.admin });
      expect(all.status).toBe(200);
      for (const user of all.body) contract.assertValid('UserResp', user);
      expect(all.body.map((u) => u.username)).not.toContain('admin');
      const total = Number(all.headers.get('x-total-count'));
      expect(total).toBe(all.body.length);
      const stored = await db.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM wharf_user WHERE user_id <> 1`);
      expect(total).toBe(stored[0].n);

      const first = await core.request<UserResp[]>('GET', '/api/v2.0/users?page=1&page_size=2', { auth: core.admin });
      expect(first.body).toHaveLength(2);
      expect(first.headers.get('link')).toBe('</api/v2.0/users?page=2&page_size=2>; rel="next"');
      // Newest first when no order is asked for.
      expect(first.body[0].user_id).toBeGreaterThan(first.body[1].user_id);
    });

    it('filters by q (exact in any case, or fuzzy) and by the username parameter, and sorts', async () => {
      await createUser('zeta-filter');
      await createUser('alpha-filter');
      const fuzzy = await core.request<UserResp[]>('GET', '/api/v2.0/users?q=username%3D~FILTER&sort=username', {
        auth: core.admin,
      });
      expect(fuzzy.status).toBe(200);
      const names = fuzzy.body.map((u) => u.username);
      expect(names).toHaveLength(2);
      expect(names[0]).toMatch(/^alpha-filter/);
      expect(names[1]).toMatch(/^zeta-filter/);

      const exact = await core.request<UserResp[]>(
        'GET',
        `/api/v2.0/users?q=username%3D${encodeURIComponent(names[1].toUpperCase())}`,
        { auth: core.admin },
      );
      expect(exact.body.map((u) => u.username)).toEqual([names[1]]);

      const byParameter = await core.request<UserResp[]>('GET', '/api/v2.0/users?username=alpha-fil', {
        auth: core.admin,
      });
      expect(byParameter.body.map((u) => u.username)).toEqual([names[0]]);

      const byEmail = await core.request<UserResp[]>('GET', `/api/v2.0/users?q=email%3D~${names[0]}%40`, {
        auth: core.admin,
      });
      expect(byEmail.body.map((u) => u.username)).toEqual([names[0]]);

      const descending = await core.request<UserResp[]>('GET', '/api/v2.0/users?q=username%3D~filter&sort=-username', {
        auth: core.admin,
      });
      expect(descending.body.map((u) => u.username)).toEqual([names[1], names[0]]);
    });

    it('shows the admin when asked for by user_id, as Harbor does', async () => {
      const response = await core.request<UserResp[]>('GET', '/api/v2.0/users?q=user_id%3D1', { auth: core.admin });
      expect(response.body.map((u) => u.username)).toEqual(['admin']);
    });

    it('answers 400 for unknown q keys, sort keys and bad pages', async () => {
      const auth = core.admin;
      expectError(await core.request('GET', '/api/v2.0/users?q=password%3Dx', { auth }), 400, 'BAD_REQUEST', /q:/);
      expectError(await core.request('GET', '/api/v2.0/users?sort=password', { auth }), 400, 'BAD_REQUEST', /sort:/);
      expectError(await core.request('GET', '/api/v2.0/users?page_size=101', { auth }), 400, 'BAD_REQUEST');
    });

    it('is refused to anonymous callers (401) and to users who are not administrators (403)', async () => {
      const { credentials } = await createUser('lister');
      expectError(await core.request('GET', '/api/v2.0/users'), 401, 'UNAUTHORIZED');
      expectError(await core.request('GET', '/api/v2.0/users', { auth: credentials }), 403, 'FORBIDDEN');
    });

    it('is open to a system robot granted user list, as in Harbor', async () => {
      const allowed = await createSystemRobot('user-lister', [{ resource: 'user', action: 'list' }]);
      const other = await createSystemRobot('project-lister', [{ resource: 'project', action: 'list' }]);
      expect((await core.request('GET', '/api/v2.0/users', { auth: allowed })).status).toBe(200);
      expectError(await core.request('GET', '/api/v2.0/users', { auth: other }), 403, 'FORBIDDEN');
    });
  });

  describe('reading and updating a profile', () => {
    it('lets users read and update their own profile but not that of others', async () => {
      const me = await createUser('self');
      const other = await createUser('other');

      const mine = await core.request<UserResp>('GET', `/api/v2.0/users/${me.id}`, { auth: me.credentials });
      expect(mine.status).toBe(200);
      expect(mine.body.username).toBe(me.credentials.username);

      expectError(await core.request('GET', `/api/v2.0/users/${other.id}`, { auth: me.credentials }), 403, 'FORBIDDEN');
      // Not even whether a user exists leaks to a non-administrator.
      expectError(await core.request('GET', '/api/v2.0/users/999999', { auth: me.credentials }), 403, 'FORBIDDEN');

      const update = await core.request('PUT', `/api/v2.0/users/${me.id}`, {
        auth: me.credentials,
        body: { email: `new-${me.credentials.username}@example.org`, realname: 'New Name', comment: 'updated' },
      });
      expect(update.status).toBe(200);
      const read = await core.request<UserResp>('GET', '/api/v2.0/users/current', { auth: me.credentials });
      expect(read.body).toMatchObject({
        email: `new-${me.credentials.username}@example.org`,
        realname: 'New Name',
        comment: 'updated',
      });
      contract.assertValid('UserResp', read.body);

      expectError(
        await core.request('PUT', `/api/v2.0/users/${other.id}`, {
          auth: me.credentials,
          body: { email: 'x@example.com', realname: 'X' },
        }),
        403,
        'FORBIDDEN',
      );
    });

    it('lets administrators update anyone, clearing an absent comment, and refuses a taken email with 409', async () => {
      const target = await createUser('edited');
      const other = await createUser('holder');
      const update = await core.request('PUT', `/api/v2.0/users/${target.id}`, {
        auth: core.admin,
        body: { email: `${target.credentials.username}@example.net`, realname: 'Edited' },
      });
      expect(update.status).toBe(200);
      const read = await core.request<UserResp>('GET', `/api/v2.0/users/${target.id}`, { auth: core.admin });
      expect(read.body).toMatchObject({ realname: 'Edited', comment: '' });

      const taken = await core.request('PUT', `/api/v2.0/users/${target.id}`, {
        auth: core.admin,
        body: { email: `${other.credentials.username}@EXAMPLE.COM`, realname: 'Edited' },
      });
      expectError(taken, 409, 'CONFLICT', /already used/);

      const missing = await core.request('PUT', '/api/v2.0/users/999999', {
        auth: core.admin,
        body: { email: 'nobody@example.com', realname: 'Nobody' },
      });
      expectError(missing, 404, 'NOT_FOUND', /user 999999 not found/);
      expectError(await core.request('GET', '/api/v2.0/users/999999', { auth: core.admin }), 404, 'NOT_FOUND');
    });

    it('validates the profile and the user id', async () => {
      const bad = await core.request('PUT', '/api/v2.0/users/1', {
        auth: core.admin,
        body: { email: 'admin@example.com', realname: 'bad,name' },
      });
      expectError(bad, 400, 'BAD_REQUEST', /body\.realname: the full name must not contain ","/);
      expectError(
        await core.request('GET', '/api/v2.0/users/abc', { auth: core.admin }),
        400,
        'BAD_REQUEST',
        /path\.user_id/,
      );
      expectError(await core.request('GET', '/api/v2.0/users/0', { auth: core.admin }), 400, 'BAD_REQUEST');
    });

    it('answers /users/current with 401 to anonymous callers and 412 to robots', async () => {
      expectError(await core.request('GET', '/api/v2.0/users/current'), 401, 'UNAUTHORIZED');
      const robot = await createSystemRobot('current-robot', [{ resource: 'user', action: 'read' }]);
      expectError(await core.request('GET', '/api/v2.0/users/current', { auth: robot }), 412, 'PRECONDITION');
    });
  });

  describe('changing a password', () => {
    it('requires the current password from users changing their own', async () => {
      const { id, credentials } = await createUser('pw');
      const path = `/api/v2.0/users/${id}/password`;
      expectError(
        await core.request('PUT', path, {
          auth: credentials,
          body: { old_password: 'Wrong-Passw0rd', new_password: 'Brand-New-1' },
        }),
        403,
        'FORBIDDEN',
        /current password is incorrect/,
      );
      expectError(
        await core.request('PUT', path, { auth: credentials, body: { new_password: 'Brand-New-1' } }),
        400,
        'BAD_REQUEST',
        /old_password is required/,
      );
      expectError(
        await core.request('PUT', path, {
          auth: credentials,
          body: { old_password: credentials.password, new_password: 'weak' },
        }),
        400,
        'BAD_REQUEST',
        /body\.new_password: The password must be at least 8 characters/,
      );
      expectError(
        await core.request('PUT', path, {
          auth: credentials,
          body: { old_password: credentials.password, new_password: credentials.password },
        }),
        400,
        'BAD_REQUEST',
        /must differ from the current one/,
      );

      const changed = await core.request('PUT', path, {
        auth: credentials,
        body: { old_password: credentials.password, new_password: 'Brand-New-1' },
      });
      expect(changed.status).toBe(200);
      expect((await core.request('GET', '/api/v2.0/users/current', { auth: credentials })).status).toBe(401);
      const renewed = { username: credentials.username, password: 'Brand-New-1' };
      expect((await core.request('GET', '/api/v2.0/users/current', { auth: renewed })).status).toBe(200);
    });

    it("lets administrators reset another user's password without the current one", async () => {
      const { id, credentials } = await createUser('reset');
      const response = await core.request('PUT', `/api/v2.0/users/${id}/password`, {
        auth: core.admin,
        body: { new_password: 'Reset-Passw0rd' },
      });
      expect(response.status).toBe(200);
      const renewed = { username: credentials.username, password: 'Reset-Passw0rd' };
      expect((await core.request('GET', '/api/v2.0/users/current', { auth: renewed })).status).toBe(200);
      const audit = await db.query<{ operation: string }[]>(
        `SELECT operation FROM audit_log WHERE resource_type = 'user' AND resource = $1 ORDER BY id`,
        [credentials.username],
      );
      expect(audit.map((a) => a.operation)).toEqual(['create', 'update']);
    });

    it("refuses to change another user's password to users who are not administrators", async () => {
      const me = await createUser('pwself');
      const other = await createUser('pwother');
      const response = await core.request('PUT', `/api/v2.0/users/${other.id}/password`, {
        auth: me.credentials,
        body: { old_password: other.credentials.password, new_password: 'Taken-0ver' },
      });
      expectError(response, 403, 'FORBIDDEN');
      expect((await core.request('GET', '/api/v2.0/users/current', { auth: other.credentials })).status).toBe(200);
    });
  });

  describe('the system administrator flag', () => {
    it('is set and cleared by administrators, and takes effect at once', async () => {
      const { id, credentials } = await createUser('promoted');
      expectError(await core.request('GET', '/api/v2.0/users', { auth: credentials }), 403, 'FORBIDDEN');

      const promote = await core.request('PUT', `/api/v2.0/users/${id}/sysadmin`, {
        auth: core.admin,
        body: { sysadmin_flag: true },
      });
      expect(promote.status).toBe(200);
      expect((await core.request('GET', '/api/v2.0/users', { auth: credentials })).status).toBe(200);

      const demote = await core.request('PUT', `/api/v2.0/users/${id}/sysadmin`, {
        auth: core.admin,
        body: { sysadmin_flag: false },
      });
      expect(demote.status).toBe(200);
      expectError(await core.request('GET', '/api/v2.0/users', { auth: credentials }), 403, 'FORBIDDEN');
    });

    it('cannot be set by users who are not administrators, nor by administrators on themselves', async () => {
      const { id, credentials } = await createUser('climber');
      expectError(
        await core.request('PUT', `/api/v2.0/users/${id}/sysadmin`, {
          auth: credentials,
          body: { sysadmin_flag: true },
        }),
        403,
        'FORBIDDEN',
      );
      expectError(
        await core.request('PUT', '/api/v2.0/users/1/sysadmin', { auth: core.admin, body: { sysadmin_flag: false } }),
        403,
        'FORBIDDEN',
        /your own administrator flag/,
      );
      expectError(
        await core.request('PUT', `/api/v2.0/users/${id}/sysadmin`, { auth: core.admin, body: {} }),
        400,
        'BAD_REQUEST',
        /body\.sysadmin_flag/,
      );
      expectError(
        await core.request('PUT', '/api/v2.0/users/999999/sysadmin', {
          auth: core.admin,
          body: { sysadmin_flag: true },
        }),
        404,
        'NOT_FOUND',
      );
    });
  });

  describe('deleting', () => {
    it('removes the user and their memberships, and the user can no longer log in', async () => {
      const { id, credentials } = await createUser('leaver');
      const projectId = await createProject(`leaver-project-${serial}`, false);
      await addMember(projectId, id, 2);

      const response = await core.request('DELETE', `/api/v2.0/users/${id}`, { auth: core.admin });
      expect(response.status).toBe(200);
      expectError(await core.request('GET', `/api/v2.0/users/${id}`, { auth: core.admin }), 404, 'NOT_FOUND');
      expect((await core.request('GET', '/api/v2.0/users/current', { auth: credentials })).status).toBe(401);
      const memberships = await db.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM project_member WHERE entity_type = 'u' AND entity_id = $1`,
        [id],
      );
      expect(memberships[0].n).toBe(0);
      const audit = await db.query<{ operation: string; username: string }[]>(
        `SELECT operation, username FROM audit_log WHERE resource_type = 'user' AND resource = $1 ORDER BY id`,
        [credentials.username],
      );
      expect(audit).toEqual([
        { operation: 'create', username: 'admin' },
        { operation: 'delete', username: 'admin' },
      ]);
      expectError(await core.request('DELETE', `/api/v2.0/users/${id}`, { auth: core.admin }), 404, 'NOT_FOUND');
    });

    it('is refused to users who are not administrators and to administrators deleting themselves', async () => {
      const me = await createUser('deleter');
      const other = await createUser('victim');
      expectError(await core.request('DELETE', `/api/v2.0/users/${other.id}`), 401, 'UNAUTHORIZED');
      expectError(
        await core.request('DELETE', `/api/v2.0/users/${other.id}`, { auth: me.credentials }),
        403,
        'FORBIDDEN',
      );
      await core.request('PUT', `/api/v2.0/users/${me.id}/sysadmin`, {
        auth: core.admin,
        body: { sysadmin_flag: true },
      });
      expectError(
        await core.request('DELETE', `/api/v2.0/users/${me.id}`, { auth: me.credentials }),
        403,
        'FORBIDDEN',
        /your own account/,
      );
      expect((await core.request('DELETE', `/api/v2.0/users/${other.id}`, { auth: me.credentials })).status).toBe(200);
    });
  });

  describe('searching', () => {
    it('finds users by part of their name for any authenticated caller, without the admin', async () => {
      const searcher = await createUser('searcher');
      const found = await createUser('findme-');
      const response = await core.request<{ user_id: number; username: string }[]>(
        'GET',
        '/api/v2.0/users/search?username=FINDME',
        { auth: searcher.credentials },
      );
      expect(response.status).toBe(200);
      for (const item of response.body) contract.assertValid('UserSearchRespItem', item);
      expect(response.body).toEqual([{ user_id: found.id, username: found.credentials.username }]);
      expect(response.headers.get('x-total-count')).toBe('1');

      const admin = await core.request<{ username: string }[]>('GET', '/api/v2.0/users/search?username=admin', {
        auth: searcher.credentials,
      });
      expect(admin.body.map((u) => u.username)).not.toContain('admin');

      // LIKE wildcards in the text match literally.
      const wildcard = await core.request<unknown[]>('GET', '/api/v2.0/users/search?username=%25', {
        auth: searcher.credentials,
      });
      expect(wildcard.body).toEqual([]);

      expectError(await core.request('GET', '/api/v2.0/users/search?username=findme'), 401, 'UNAUTHORIZED');
      expectError(
        await core.request('GET', '/api/v2.0/users/search', { auth: searcher.credentials }),
        400,
        'BAD_REQUEST',
        /query\.username/,
      );
    });
  });

  describe('current permissions', () => {
    async function permissions(credentials: Credentials, query: string): Promise<Permission[]> {
      const response = await core.request<Permission[]>('GET', `/api/v2.0/users/current/permissions${query}`, {
        auth: credentials,
      });
      expect(response.status).toBe(200);
      for (const item of response.body) contract.assertValid('Permission', item);
      return response.body;
    }

    it('lists every system permission for an administrator, absolute or relative to the scope', async () => {
      const absolute = await permissions(core.admin, '?scope=/system');
      expect(absolute).toContainEqual({ resource: '/system/user', action: 'create' });
      expect(absolute).toContainEqual({ resource: '/system/configuration', action: 'update' });
      const relative = await permissions(core.admin, '?scope=/system&relative=true');
      expect(relative).toContainEqual({ resource: 'user', action: 'create' });
      expect(relative).toHaveLength(absolute.length);
    });

    it('gives a plain user nothing in /system, and what their role allows in a project', async () => {
      const { id, credentials } = await createUser('perm');
      expect(await permissions(credentials, '?scope=/system')).toEqual([]);

      const projectId = await createProject(`perm-private-${serial}`, false);
      expect(await permissions(credentials, `?scope=/project/${projectId}`)).toEqual([]);

      await addMember(projectId, id, 2);
      const relative = await permissions(credentials, `?scope=/project/${projectId}&relative=true`);
      expect(relative).toContainEqual({ resource: 'repository', action: 'push' });
      expect(relative).toContainEqual({ resource: '.', action: 'read' });
      expect(relative).not.toContainEqual({ resource: 'member', action: 'create' });
      expect(relative).not.toContainEqual({ resource: '.', action: 'delete' });

      const absolute = await permissions(credentials, `?scope=/project/${projectId}`);
      expect(absolute).toContainEqual({ resource: `/project/${projectId}/repository`, action: 'push' });
      expect(absolute).toContainEqual({ resource: `/project/${projectId}`, action: 'read' });
    });

    it("gives anyone a public project's read permissions", async () => {
      const { credentials } = await createUser('visitor');
      const projectId = await createProject(`perm-public-${serial}`, true);
      const relative = await permissions(credentials, `?scope=/project/${projectId}&relative=true`);
      expect(relative).toContainEqual({ resource: 'repository', action: 'pull' });
      expect(relative).not.toContainEqual({ resource: 'repository', action: 'push' });
    });

    it('answers an empty list for scopes that name no namespace, and 401 to anonymous callers', async () => {
      expect(await permissions(core.admin, '')).toEqual([]);
      expect(await permissions(core.admin, '?scope=/project/abc')).toEqual([]);
      expect(await permissions(core.admin, '?scope=/nothing')).toEqual([]);
      const { credentials } = await createUser('noscope');
      expect(await permissions(credentials, '?scope=/project/99999')).toEqual([]);
      expectError(await core.request('GET', '/api/v2.0/users/current/permissions?scope=/system'), 401, 'UNAUTHORIZED');
    });

    it("lists a robot's system grants", async () => {
      const robot = await createSystemRobot('perm-robot', [{ resource: 'user', action: 'read' }]);
      expect(await permissions(robot, '?scope=/system&relative=true')).toEqual([{ resource: 'user', action: 'read' }]);
    });
  });
});
