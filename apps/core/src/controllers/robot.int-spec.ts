import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { ProjectRole, ROBOT_PERMISSION_CATALOG, hashPassword } from '@wharf/auth';
import { DataSource } from 'typeorm';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type Credentials, type TestCore, startTestCore } from '../testing/test-core.js';

interface RobotCreated {
  id: number;
  name: string;
  secret: string;
  creation_time: string;
  expires_at: number;
}

interface Robot {
  id: number;
  name: string;
  description: string;
  level: string;
  duration: number | null;
  editable: boolean;
  disable: boolean;
  expires_at: number;
  permissions: { kind: string; namespace: string; access: { resource: string; action: string; effect?: string }[] }[];
  creator_type: string;
  creator_ref?: number;
  creation_time: string;
  update_time: string;
}

interface ErrorBody {
  errors: { code: string; message: string }[];
}

type Access = [resource: string, action: string, effect?: 'deny'];

function permission(kind: 'system' | 'project', namespace: string, ...access: Access[]) {
  return {
    kind,
    namespace,
    access: access.map(([resource, action, effect]) => (effect ? { resource, action, effect } : { resource, action })),
  };
}

const DAY = 86_400;

describe('robot accounts', () => {
  let core: TestCore;
  let db: DataSource;
  let contract: HarborContract;
  let admin: Credentials;
  /** Project admin of alpha. */
  let alice: Credentials;
  /** Developer in alpha. */
  let bob: Credentials;
  /** Member of nothing. */
  let carol: Credentials;
  let alpha: number;
  let beta: number;

  async function addUser(username: string, sysadmin = false): Promise<{ id: number; credentials: Credentials }> {
    const password = `Pw1-${randomBytes(9).toString('base64url')}`;
    const rows = await db.query<{ user_id: number }[]>(
      `INSERT INTO wharf_user (username, email, password_hash, sysadmin_flag) VALUES ($1, $2, $3, $4) RETURNING user_id`,
      [username, `${username}@example.com`, await hashPassword(password), sysadmin],
    );
    return { id: rows[0].user_id, credentials: { username, password } };
  }

  async function addProject(name: string, members: [userId: number, role: ProjectRole][]): Promise<number> {
    const rows = await db.query<{ project_id: number }[]>(
      `INSERT INTO project (name, owner_id) VALUES ($1, $2) RETURNING project_id`,
      [name, members[0]?.[0] ?? null],
    );
    const id = rows[0].project_id;
    for (const [userId, role] of members) {
      await db.query(`INSERT INTO project_member (project_id, entity_id, entity_type, role) VALUES ($1, $2, 'u', $3)`, [
        id,
        userId,
        role,
      ]);
    }
    return id;
  }

  function robotLogin(created: { name: string; secret: string }): Credentials {
    return { username: created.name, password: created.secret };
  }

  async function createRobot(auth: Credentials, body: Record<string, unknown>): Promise<RobotCreated> {
    const response = await core.request<RobotCreated>('POST', '/api/v2.0/robots', { auth, body });
    expect(response.status).toBe(201);
    return response.body;
  }

  function projectRobot(project: string, name: string, ...access: Access[]) {
    return { name, level: 'project', duration: -1, permissions: [permission('project', project, ...access)] };
  }

  async function auditOf(resource: string): Promise<{ operation: string; username: string; project_id: number }[]> {
    return db.query(
      `SELECT operation, username, project_id FROM audit_log WHERE resource_type = 'robot' AND resource = $1 ORDER BY id`,
      [resource],
    );
  }

  beforeAll(async () => {
    core = await startTestCore();
    db = core.server.app.get(DataSource);
    contract = await harborContract();
    const existing = await db.query<unknown[]>(`SELECT 1 FROM wharf_user WHERE lower(username) = 'admin'`);
    if (existing.length === 0) {
      await db.query(`INSERT INTO wharf_user (username, password_hash, sysadmin_flag) VALUES ('admin', $1, true)`, [
        await hashPassword(core.admin.password),
      ]);
    }
    admin = core.admin;
    const [a, b, c] = await Promise.all([addUser('alice'), addUser('bob'), addUser('carol')]);
    alice = a.credentials;
    bob = b.credentials;
    carol = c.credentials;
    alpha = await addProject('alpha', [
      [a.id, ProjectRole.ProjectAdmin],
      [b.id, ProjectRole.Developer],
    ]);
    beta = await addProject('beta', []);
  }, 60_000);

  afterAll(async () => {
    await core?.close();
  }, 60_000);

  describe('GET /permissions', () => {
    it('shows a system administrator the whole catalog', async () => {
      const response = await core.request<{ system: unknown[]; project: unknown[] }>('GET', '/api/v2.0/permissions', {
        auth: admin,
      });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        system: ROBOT_PERMISSION_CATALOG.system,
        project: ROBOT_PERMISSION_CATALOG.project,
      });
      contract.assertValid('Permissions', response.body);
    });

    it('shows a project administrator the project permissions only', async () => {
      const response = await core.request('GET', '/api/v2.0/permissions', { auth: alice });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ project: ROBOT_PERMISSION_CATALOG.project });
    });

    it('refuses other users and anonymous callers', async () => {
      expect((await core.request('GET', '/api/v2.0/permissions', { auth: bob })).status).toBe(403);
      expect((await core.request('GET', '/api/v2.0/permissions', { auth: carol })).status).toBe(403);
      expect((await core.request('GET', '/api/v2.0/permissions')).status).toBe(401);
    });
  });

  describe('system robots', () => {
    let ci: RobotCreated;

    it('are created by an administrator, with the secret answered once and the default duration', async () => {
      const before = Math.floor(Date.now() / 1000);
      const response = await core.request<RobotCreated>('POST', '/api/v2.0/robots', {
        auth: admin,
        body: {
          name: 'ci',
          description: 'builds',
          level: 'system',
          permissions: [
            permission('system', '/', ['project', 'create'], ['robot', 'list']),
            permission('project', 'alpha', ['repository', 'pull'], ['robot', 'read']),
          ],
        },
      });
      expect(response.status).toBe(201);
      ci = response.body;
      contract.assertValid('RobotCreated', ci);
      expect(response.headers.get('location')).toBe(`/api/v2.0/robots/${ci.id}`);
      expect(ci.name).toBe('robot$ci');
      expect(ci.secret).toMatch(/^[A-Za-z0-9]{32}$/);
      // robot_token_duration defaults to 30 days.
      expect(ci.expires_at).toBeGreaterThanOrEqual(before + 30 * DAY);
      expect(ci.expires_at).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 30 * DAY);

      const stored = await db.query<{ secret_hash: string }[]>(`SELECT secret_hash FROM robot WHERE id = $1`, [ci.id]);
      expect(stored[0].secret_hash).not.toContain(ci.secret);
      expect(await auditOf('robot$ci')).toEqual([{ operation: 'create', username: 'admin', project_id: null }]);
    });

    it('are read back with their permissions and without a secret', async () => {
      const response = await core.request<Robot>('GET', `/api/v2.0/robots/${ci.id}`, { auth: admin });
      expect(response.status).toBe(200);
      contract.assertValid('Robot', response.body);
      expect(response.body).not.toHaveProperty('secret');
      expect(response.text).not.toContain(ci.secret);
      expect(response.body).toMatchObject({
        id: ci.id,
        name: 'robot$ci',
        description: 'builds',
        level: 'system',
        duration: 30,
        editable: true,
        disable: false,
        expires_at: ci.expires_at,
        creator_type: 'local',
        creation_time: ci.creation_time,
      });
      expect(response.body.permissions).toEqual([
        permission('system', '/', ['project', 'create'], ['robot', 'list']),
        permission('project', 'alpha', ['repository', 'pull'], ['robot', 'read']),
      ]);
    });

    it('log in with basic credentials and act within their grants only', async () => {
      const login = robotLogin(ci);
      const own = await core.request<Robot>('GET', `/api/v2.0/robots/${ci.id}`, { auth: login });
      expect(own.status).toBe(403); // robot:read is granted in project alpha, not for system robots
      const list = await core.request<Robot[]>('GET', '/api/v2.0/robots', { auth: login });
      expect(list.status).toBe(200);
      expect(list.body.map((r) => r.name)).toContain('robot$ci');
      const wrong = await core.request('GET', '/api/v2.0/robots', { auth: { ...login, password: 'Wrong-secret-1' } });
      expect(wrong.status).toBe(401);
    });

    it('may be created by no one but administrators and robots granted robot:create', async () => {
      const body = { name: 'nope', level: 'system', permissions: [permission('system', '/', ['project', 'create'])] };
      for (const auth of [alice, bob, carol]) {
        expect((await core.request('POST', '/api/v2.0/robots', { auth, body })).status).toBe(403);
      }
      expect((await core.request('POST', '/api/v2.0/robots', { body })).status).toBe(401);
      expect((await core.request('POST', '/api/v2.0/robots', { auth: robotLogin(ci), body })).status).toBe(403);
    });

    it('name projects that exist', async () => {
      const response = await core.request<ErrorBody>('POST', '/api/v2.0/robots', {
        auth: admin,
        body: {
          name: 'ghost',
          level: 'system',
          permissions: [permission('project', 'nowhere', ['repository', 'pull'])],
        },
      });
      expect(response.status).toBe(404);
      expect(response.body.errors[0].message).toContain('nowhere');
    });
  });

  describe('project robots', () => {
    let pusher: RobotCreated;

    it('are created by the project administrator and named after the project', async () => {
      pusher = await createRobot(
        alice,
        projectRobot('alpha', 'pusher', ['repository', 'pull'], ['repository', 'push'], ['robot', 'list']),
      );
      contract.assertValid('RobotCreated', pusher);
      expect(pusher.name).toBe('robot$alpha+pusher');
      expect(pusher.expires_at).toBe(-1);
      const robot = await core.request<Robot>('GET', `/api/v2.0/robots/${pusher.id}`, { auth: alice });
      expect(robot.body).toMatchObject({ level: 'project', duration: -1, expires_at: -1, creator_type: 'local' });
      expect(await auditOf('robot$alpha+pusher')).toEqual([
        { operation: 'create', username: 'alice', project_id: alpha },
      ]);
    });

    it('act in their project by their grants and nowhere else', async () => {
      const login = robotLogin(pusher);
      const own = await core.request<Robot[]>('GET', `/api/v2.0/robots?q=Level=project,ProjectID=${alpha}`, {
        auth: login,
      });
      expect(own.status).toBe(200);
      expect(own.body.map((r) => r.name)).toEqual(['robot$alpha+pusher']);
      const other = await core.request('GET', `/api/v2.0/robots?q=Level=project,ProjectID=${beta}`, { auth: login });
      expect(other.status).toBe(403);
      const read = await core.request('GET', `/api/v2.0/robots/${pusher.id}`, { auth: login });
      expect(read.status).toBe(403); // holds robot:list, not robot:read
      expect((await core.request('GET', '/api/v2.0/robots', { auth: login })).status).toBe(403);
    });

    it('may not be created by members without robot:create, nor outside the caller’s projects', async () => {
      expect(
        (
          await core.request('POST', '/api/v2.0/robots', {
            auth: bob,
            body: projectRobot('alpha', 'b', ['repository', 'pull']),
          })
        ).status,
      ).toBe(403);
      expect(
        (
          await core.request('POST', '/api/v2.0/robots', {
            auth: carol,
            body: projectRobot('alpha', 'c', ['repository', 'pull']),
          })
        ).status,
      ).toBe(403);
      expect(
        (
          await core.request('POST', '/api/v2.0/robots', {
            auth: alice,
            body: projectRobot('beta', 'a', ['repository', 'pull']),
          })
        ).status,
      ).toBe(403);
      expect(
        (
          await core.request('POST', '/api/v2.0/robots', {
            auth: alice,
            body: projectRobot('nowhere', 'a', ['repository', 'pull']),
          })
        ).status,
      ).toBe(404);
    });

    it('have names unique within their project only', async () => {
      const again = await core.request<ErrorBody>('POST', '/api/v2.0/robots', {
        auth: alice,
        body: projectRobot('alpha', 'pusher', ['repository', 'pull']),
      });
      expect(again.status).toBe(409);
      expect(again.body.errors[0]).toEqual({
        code: 'CONFLICT',
        message: expect.stringContaining('robot$alpha+pusher'),
      });
      const elsewhere = await createRobot(admin, projectRobot('beta', 'pusher', ['repository', 'pull']));
      expect(elsewhere.name).toBe('robot$beta+pusher');
      const system = await createRobot(admin, {
        ...projectRobot('alpha', 'pusher', ['repository', 'pull']),
        level: 'system',
      });
      expect(system.name).toBe('robot$pusher');
    });
  });

  describe('validation', () => {
    async function rejected(body: Record<string, unknown>): Promise<string> {
      const response = await core.request<ErrorBody>('POST', '/api/v2.0/robots', { auth: admin, body });
      expect(response.status).toBe(400);
      expect(response.body.errors[0].code).toBe('BAD_REQUEST');
      return response.body.errors[0].message;
    }

    it('refuses names outside Harbor’s grammar', async () => {
      expect(await rejected(projectRobot('alpha', 'Bad+Name', ['repository', 'pull']))).toContain('body.name');
      expect(await rejected(projectRobot('alpha', 'a'.repeat(256), ['repository', 'pull']))).toContain('body.name');
      expect(await rejected(projectRobot('alpha', '-lead', ['repository', 'pull']))).toContain('body.name');
    });

    it('lists every problem with the permissions', async () => {
      const message = await rejected({
        name: 'bad',
        level: 'project',
        permissions: [
          permission('project', 'alpha', ['repository', 'fly'], ['spaceship', 'pull']),
          permission('system', '/', ['project', 'create']),
        ],
      });
      expect(message).toContain('exactly one permission');
      expect(message).toContain('action "fly" is not valid for resource "repository"');
      expect(message).toContain('resource "spaceship"');
      expect(message).toContain('permissions[1].kind');
    });

    it('refuses empty permissions, bad levels, durations and weak secrets', async () => {
      expect(await rejected({ name: 'x', level: 'system', permissions: [] })).toContain('at least one permission');
      expect(await rejected({ name: 'x', level: 'global', permissions: [] })).toContain('body.level');
      expect(await rejected({ name: 'x', level: 'system' })).toContain('body.permissions');
      expect(await rejected({ ...projectRobot('alpha', 'x', ['repository', 'pull']), duration: -2 })).toContain(
        'body.duration',
      );
      expect(await rejected({ ...projectRobot('alpha', 'x', ['repository', 'pull']), duration: 1.5 })).toContain(
        'body.duration',
      );
      expect(
        await rejected({ ...projectRobot('alpha', 'x', ['repository', 'pull']), secret: 'alllowercase1' }),
      ).toContain('upper-case');
    });

    it('refuses malformed robot ids and answers 404 for unknown ones', async () => {
      expect((await core.request('GET', '/api/v2.0/robots/abc', { auth: admin })).status).toBe(400);
      expect((await core.request('GET', '/api/v2.0/robots/0', { auth: admin })).status).toBe(400);
      expect((await core.request('GET', '/api/v2.0/robots/99999999999', { auth: admin })).status).toBe(400);
      expect((await core.request('GET', '/api/v2.0/robots/999999', { auth: admin })).status).toBe(404);
    });

    it('accepts a chosen secret that passes the policy, and logs in with it', async () => {
      const secret = `Chosen-${randomBytes(6).toString('hex')}A1`;
      const created = await createRobot(admin, {
        ...projectRobot('alpha', 'chosen', ['robot', 'list']),
        secret,
      });
      expect(created.secret).toBe(secret);
      const list = await core.request('GET', `/api/v2.0/robots?q=Level=project,ProjectID=${alpha}`, {
        auth: { username: created.name, password: secret },
      });
      expect(list.status).toBe(200);
    });
  });

  describe('listing', () => {
    it('shows system robots by default, and a project’s robots with Level=project,ProjectID', async () => {
      const system = await core.request<Robot[]>('GET', '/api/v2.0/robots', { auth: admin });
      expect(system.status).toBe(200);
      expect(system.body.every((r) => r.level === 'system')).toBe(true);
      expect(system.body.map((r) => r.name)).toEqual(expect.arrayContaining(['robot$ci', 'robot$pusher']));
      expect(Number(system.headers.get('x-total-count'))).toBe(system.body.length);
      for (const robot of system.body) contract.assertValid('Robot', robot);

      const project = await core.request<Robot[]>('GET', `/api/v2.0/robots?q=Level=project,ProjectID=${alpha}`, {
        auth: admin,
      });
      expect(project.body.map((r) => r.name).sort()).toEqual(['robot$alpha+chosen', 'robot$alpha+pusher']);
      expect(project.text).not.toContain('secret');
    });

    it('pages with X-Total-Count and Link, newest first, and filters by name', async () => {
      const page = await core.request<Robot[]>(
        'GET',
        `/api/v2.0/robots?q=Level=project,ProjectID=${alpha}&page=1&page_size=1`,
        { auth: admin },
      );
      expect(page.body.map((r) => r.name)).toEqual(['robot$alpha+chosen']);
      expect(page.headers.get('x-total-count')).toBe('2');
      expect(page.headers.get('link')).toContain('rel="next"');
      const fuzzy = await core.request<Robot[]>(
        'GET',
        `/api/v2.0/robots?q=${encodeURIComponent(`Level=project,ProjectID=${alpha},name=~push`)}`,
        { auth: admin },
      );
      expect(fuzzy.body.map((r) => r.name)).toEqual(['robot$alpha+pusher']);
      for (const name of ['pusher', 'alpha+pusher', 'robot$alpha+pusher']) {
        const exact = await core.request<Robot[]>(
          'GET',
          `/api/v2.0/robots?q=${encodeURIComponent(`ProjectID=${alpha},name=${name}`)}`,
          { auth: admin },
        );
        expect(exact.body.map((r) => r.name)).toEqual(['robot$alpha+pusher']);
      }
      const sorted = await core.request<Robot[]>('GET', `/api/v2.0/robots?q=ProjectID=${alpha}&sort=name`, {
        auth: admin,
      });
      expect(sorted.body.map((r) => r.name)).toEqual(['robot$alpha+chosen', 'robot$alpha+pusher']);
    });

    it('lets project members with robot:list see their project’s robots, and nobody else', async () => {
      const q = `/api/v2.0/robots?q=Level=project,ProjectID=${alpha}`;
      expect((await core.request('GET', q, { auth: bob })).status).toBe(200);
      expect((await core.request('GET', q, { auth: carol })).status).toBe(403);
      expect((await core.request('GET', q)).status).toBe(401);
      expect((await core.request('GET', '/api/v2.0/robots', { auth: alice })).status).toBe(403);
    });

    it('refuses queries it cannot answer', async () => {
      const bad = async (q: string) =>
        (await core.request('GET', `/api/v2.0/robots?q=${encodeURIComponent(q)}`, { auth: admin })).status;
      expect(await bad('Level=galaxy')).toBe(400);
      expect(await bad('Level=project')).toBe(400);
      expect(await bad(`Level=system,ProjectID=${alpha}`)).toBe(400);
      expect(await bad('ProjectID=abc')).toBe(400);
      expect(await bad('colour=red')).toBe(400);
      expect(await bad('ProjectID=424242')).toBe(404);
      expect((await core.request('GET', '/api/v2.0/robots?sort=secret', { auth: admin })).status).toBe(400);
    });
  });

  describe('escalation', () => {
    let maker: RobotCreated;

    beforeAll(async () => {
      maker = await createRobot(admin, {
        name: 'maker',
        level: 'system',
        duration: 30,
        permissions: [
          permission('system', '/', ['robot', 'create'], ['robot', 'list']),
          permission('project', '*', ['robot', 'create'], ['robot', 'list'], ['repository', 'pull']),
          permission('project', 'beta', ['robot', 'list', 'deny']),
        ],
      });
    });

    it('lets a robot create robots within its own grants, recorded as their creator', async () => {
      const child = await createRobot(robotLogin(maker), {
        name: 'child',
        level: 'system',
        duration: 7,
        permissions: [
          permission('system', '/', ['robot', 'list']),
          permission('project', 'alpha', ['repository', 'pull']),
        ],
      });
      const robot = await core.request<Robot>('GET', `/api/v2.0/robots/${child.id}`, { auth: admin });
      expect(robot.body).toMatchObject({ creator_type: 'robot', creator_ref: maker.id });
      const inProject = await createRobot(robotLogin(maker), {
        ...projectRobot('alpha', 'made', ['repository', 'pull']),
        duration: 5,
      });
      expect(inProject.name).toBe('robot$alpha+made');
      expect(await auditOf('robot$alpha+made')).toEqual([
        { operation: 'create', username: 'robot$maker', project_id: alpha },
      ]);
    });

    it('refuses a robot granting what it does not hold, naming what is missing', async () => {
      const push = await core.request<ErrorBody>('POST', '/api/v2.0/robots', {
        auth: robotLogin(maker),
        body: { ...projectRobot('alpha', 'pushy', ['repository', 'push']), duration: 5 },
      });
      expect(push.status).toBe(403);
      expect(push.body.errors[0].message).toContain('repository:push (project alpha)');
      const users = await core.request<ErrorBody>('POST', '/api/v2.0/robots', {
        auth: robotLogin(maker),
        body: {
          name: 'usr',
          level: 'system',
          duration: 5,
          permissions: [permission('system', '/', ['user', 'create'])],
        },
      });
      expect(users.status).toBe(403);
      expect(users.body.errors[0].message).toContain('user:create (system)');
    });

    it('refuses a robot making a robot that outlives it', async () => {
      const forever = await core.request<ErrorBody>('POST', '/api/v2.0/robots', {
        auth: robotLogin(maker),
        body: { ...projectRobot('alpha', 'forever', ['repository', 'pull']), duration: -1 },
      });
      expect(forever.status).toBe(403);
      expect(forever.body.errors[0].message).toContain('outlives');
    });

    it('holds a deny against an allow on every project', async () => {
      const login = robotLogin(maker);
      expect((await core.request('GET', `/api/v2.0/robots?q=ProjectID=${alpha}`, { auth: login })).status).toBe(200);
      expect((await core.request('GET', `/api/v2.0/robots?q=ProjectID=${beta}`, { auth: login })).status).toBe(403);
    });

    it('refuses a robot taking over a stronger robot by refreshing its secret', async () => {
      const manager = await createRobot(
        alice,
        projectRobot('alpha', 'manager', ['robot', 'update'], ['robot', 'read']),
      );
      const strong = await createRobot(
        alice,
        projectRobot('alpha', 'strong', ['repository', 'push'], ['robot', 'read']),
      );
      const takeover = await core.request<ErrorBody>('PATCH', `/api/v2.0/robots/${strong.id}`, {
        auth: robotLogin(manager),
        body: {},
      });
      expect(takeover.status).toBe(403);
      expect(takeover.body.errors[0].message).toContain('repository:push');
      // The stronger robot's secret still works.
      const read = await core.request('GET', `/api/v2.0/robots/${strong.id}`, { auth: robotLogin(strong) });
      expect(read.status).toBe(200);
      const grow = await core.request<ErrorBody>('PUT', `/api/v2.0/robots/${manager.id}`, {
        auth: robotLogin(manager),
        body: { permissions: [permission('project', 'alpha', ['robot', 'update'], ['robot', 'delete'])] },
      });
      expect(grow.status).toBe(403);
      expect(grow.body.errors[0].message).toContain('robot:delete (project alpha)');
    });
  });

  describe('update, refresh and delete', () => {
    let target: RobotCreated;
    let record: Robot;

    beforeAll(async () => {
      target = await createRobot(alice, projectRobot('alpha', 'target', ['robot', 'list'], ['robot', 'read']));
      record = (await core.request<Robot>('GET', `/api/v2.0/robots/${target.id}`, { auth: alice })).body;
    });

    async function put(auth: Credentials, changes: Partial<Robot>) {
      return core.request<ErrorBody>('PUT', `/api/v2.0/robots/${target.id}`, { auth, body: { ...record, ...changes } });
    }

    async function canList(secret: string): Promise<number> {
      return (
        await core.request('GET', `/api/v2.0/robots?q=ProjectID=${alpha}`, {
          auth: { username: target.name, password: secret },
        })
      ).status;
    }

    it('replaces description, duration and permissions as the portal sends them back', async () => {
      const response = await put(alice, {
        description: 'now with pull',
        duration: 5,
        permissions: [permission('project', 'alpha', ['robot', 'list'], ['robot', 'read'], ['repository', 'pull'])],
      });
      expect(response.status).toBe(200);
      const robot = await core.request<Robot>('GET', `/api/v2.0/robots/${target.id}`, { auth: alice });
      const created = Math.floor(Date.parse(robot.body.creation_time) / 1000);
      expect(robot.body).toMatchObject({ description: 'now with pull', duration: 5, expires_at: created + 5 * DAY });
      expect(robot.body.permissions[0].access).toContainEqual({ resource: 'repository', action: 'pull' });
      record = robot.body;
      expect((await auditOf(target.name)).map((a) => a.operation)).toEqual(['create', 'update']);
    });

    it('keeps name, level and project as they are', async () => {
      expect((await put(alice, { name: 'robot$alpha+renamed' })).status).toBe(400);
      expect((await put(alice, { level: 'system' })).status).toBe(400);
      const moved = await put(alice, { permissions: [permission('project', 'beta', ['robot', 'list'])] });
      expect(moved.status).toBe(400);
      expect(moved.body.errors[0].message).toContain('"alpha"');
    });

    it('refuses members without robot:update', async () => {
      expect((await put(bob, { description: 'x' })).status).toBe(403);
      expect((await put(carol, { description: 'x' })).status).toBe(403);
      expect((await core.request('PUT', `/api/v2.0/robots/${target.id}`, { body: record })).status).toBe(401);
    });

    it('locks a disabled robot out until it is enabled again', async () => {
      expect(await canList(target.secret)).toBe(200);
      expect((await put(alice, { disable: true })).status).toBe(200);
      expect(await canList(target.secret)).toBe(401);
      expect((await put(alice, { disable: false })).status).toBe(200);
      expect(await canList(target.secret)).toBe(200);
    });

    it('locks an expired robot out', async () => {
      const expiring = await createRobot(alice, projectRobot('alpha', 'expiring', ['robot', 'list']));
      const login = robotLogin(expiring);
      expect((await core.request('GET', `/api/v2.0/robots?q=ProjectID=${alpha}`, { auth: login })).status).toBe(200);
      await db.query(`UPDATE robot SET expires_at = $2 WHERE id = $1`, [
        expiring.id,
        Math.floor(Date.now() / 1000) - 1,
      ]);
      expect((await core.request('GET', `/api/v2.0/robots?q=ProjectID=${alpha}`, { auth: login })).status).toBe(401);
    });

    it('refreshes to a generated secret, which replaces the old one', async () => {
      const response = await core.request<{ secret: string }>('PATCH', `/api/v2.0/robots/${target.id}`, {
        auth: alice,
        body: {},
      });
      expect(response.status).toBe(200);
      contract.assertValid('RobotSec', response.body);
      expect(response.body.secret).toMatch(/^[A-Za-z0-9]{32}$/);
      expect(await canList(target.secret)).toBe(401);
      expect(await canList(response.body.secret)).toBe(200);
      target = { ...target, secret: response.body.secret };
    });

    it('refreshes to a chosen secret without echoing it, and refuses weak ones', async () => {
      const chosen = `Mine-${randomBytes(6).toString('hex')}Z9`;
      const response = await core.request('PATCH', `/api/v2.0/robots/${target.id}`, {
        auth: alice,
        body: { secret: chosen },
      });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({});
      expect(await canList(chosen)).toBe(200);
      target = { ...target, secret: chosen };
      const weak = await core.request<ErrorBody>('PATCH', `/api/v2.0/robots/${target.id}`, {
        auth: alice,
        body: { secret: 'short1A' },
      });
      expect(weak.status).toBe(400);
      expect(weak.body.errors[0].message).toContain('body.secret');
      expect(weak.text).not.toContain('short1A');
      expect((await core.request('PATCH', `/api/v2.0/robots/${target.id}`, { auth: bob, body: {} })).status).toBe(403);
    });

    it('deletes for those with robot:delete, after which the robot cannot log in', async () => {
      expect((await core.request('DELETE', `/api/v2.0/robots/${target.id}`, { auth: bob })).status).toBe(403);
      const response = await core.request('DELETE', `/api/v2.0/robots/${target.id}`, { auth: alice });
      expect(response.status).toBe(200);
      expect((await core.request('GET', `/api/v2.0/robots/${target.id}`, { auth: alice })).status).toBe(404);
      expect((await core.request('DELETE', `/api/v2.0/robots/${target.id}`, { auth: alice })).status).toBe(404);
      expect(await canList(target.secret)).toBe(401);
      expect((await auditOf(target.name)).at(-1)).toEqual({
        operation: 'delete',
        username: 'alice',
        project_id: alpha,
      });
    });
  });
});
