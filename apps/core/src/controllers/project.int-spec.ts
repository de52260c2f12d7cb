import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ProjectRole } from '@wharf/auth';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type Credentials, type TestCore, type TestResponse, startTestCore } from '../testing/test-core.js';
import { type ProjectFixtures, type TestUser, projectFixtures } from '../testing/project-fixtures.js';

interface Project {
  project_id: number;
  owner_id?: number;
  name: string;
  owner_name?: string;
  creation_time: string;
  update_time: string;
  current_user_role_id?: number;
  current_user_role_ids?: number[];
  repo_count: number;
  metadata?: Record<string, string>;
}

interface Summary {
  repo_count: number;
  project_admin_count?: number;
  maintainer_count?: number;
  developer_count?: number;
  guest_count?: number;
  limited_guest_count?: number;
  quota?: { hard: { storage: number }; used: { storage: number } };
}

interface ErrorBody {
  errors: { code: string; message: string }[];
}

const NOT_EMPTY = 'the project still holds repositories; delete them first';

// A real server, PostgreSQL and password hashing on every request: slower than a unit test.
jest.setTimeout(60_000);

describe('projects API', () => {
  let core: TestCore;
  let fx: ProjectFixtures;
  let contract: HarborContract;
  let alice: TestUser;
  let bob: TestUser;
  let maintainer: TestUser;
  let developer: TestUser;
  let guest: TestUser;
  let limited: TestUser;

  function api<T = unknown>(
    method: string,
    path: string,
    auth?: Credentials,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<TestResponse<T>> {
    return core.request<T>(method, `/api/v2.0${path}`, { auth, body, headers });
  }

  async function create(auth: Credentials, body: Record<string, unknown>): Promise<number> {
    const response = await api('POST', '/projects', auth, body);
    expect(response.status).toBe(201);
    const id = /^\/api\/v2\.0\/projects\/(\d+)$/.exec(response.headers.get('location') ?? '')?.[1];
    expect(id).toBeDefined();
    return Number(id);
  }

  function names(response: TestResponse<Project[]>): string[] {
    return response.body.map((p) => p.name);
  }

  function message(response: TestResponse): string {
    return (response.body as ErrorBody).errors[0]?.message ?? '';
  }

  beforeAll(async () => {
    core = await startTestCore();
    fx = projectFixtures(core);
    contract = await harborContract();
    [alice, bob, maintainer, developer, guest, limited] = await Promise.all(
      ['alice', 'bob', 'mia', 'dave', 'gus', 'lim'].map((name) => fx.user(name)),
    );
  });

  afterAll(async () => {
    await core.close();
  });

  describe('creating', () => {
    it('creates a private project owned by the caller, who becomes its project admin', async () => {
      const id = await create(alice, { project_name: 'alpha' });
      const response = await api<Project>('GET', `/projects/${id}`, alice);
      expect(response.status).toBe(200);
      contract.assertValid('Project', response.body);
      expect(response.body).toMatchObject({
        project_id: id,
        name: 'alpha',
        owner_id: alice.userId,
        owner_name: 'alice',
        current_user_role_id: ProjectRole.ProjectAdmin,
        current_user_role_ids: [ProjectRole.ProjectAdmin],
        repo_count: 0,
        metadata: { public: 'false' },
      });
      const summary = await api<Summary>('GET', `/projects/${id}/summary`, alice);
      expect(summary.body).toMatchObject({ project_admin_count: 1, quota: { hard: { storage: -1 } } });
    });

    it('names the project in Location when X-Resource-Name-In-Location is true', async () => {
      const response = await api(
        'POST',
        '/projects',
        alice,
        { project_name: 'beta' },
        {
          'X-Resource-Name-In-Location': 'true',
        },
      );
      expect(response.status).toBe(201);
      expect(response.headers.get('location')).toBe('/api/v2.0/projects/beta');
    });

    it.each(['Alpha', '-lead', 'trail-', 'a..b', 'a b', 'a/b', '', 'x'.repeat(256)])(
      'refuses the name %p, naming project_name',
      async (name) => {
        const response = await api('POST', '/projects', alice, { project_name: name });
        expect(response.status).toBe(400);
        expect(message(response)).toContain('project_name');
      },
    );

    it('refuses a request without a name', async () => {
      const response = await api('POST', '/projects', alice, { metadata: { public: 'true' } });
      expect(response.status).toBe(400);
      expect(message(response)).toContain('project_name');
    });

    it('answers 409 for a name already taken', async () => {
      const response = await api('POST', '/projects', bob, { project_name: 'alpha' });
      expect(response.status).toBe(409);
      expect((response.body as ErrorBody).errors[0]).toEqual({ code: 'CONFLICT', message: expect.any(String) });
    });

    it('refuses anonymous callers', async () => {
      const response = await api('POST', '/projects', undefined, { project_name: 'nobody' });
      expect(response.status).toBe(401);
    });

    it('takes the deprecated top-level public flag, and metadata flags as JSON booleans', async () => {
      const legacy = await create(alice, { project_name: 'legacy', public: true });
      const flags = await create(alice, { project_name: 'flags', metadata: { public: true, auto_scan: 'true' } });
      expect((await api<Project>('GET', `/projects/${legacy}`, alice)).body.metadata).toEqual({ public: 'true' });
      expect((await api<Project>('GET', `/projects/${flags}`, alice)).body.metadata).toEqual({
        public: 'true',
        auto_scan: 'true',
      });
    });

    it.each([
      [{ metadata: { public: 'yes' } }, 'metadata.public'],
      [{ metadata: { severity: 'extreme' } }, 'metadata.severity'],
      [{ metadata: { retention_id: '7' } }, 'metadata.retention_id'],
      [{ storage_limit: -2 }, 'storage_limit'],
      [{ storage_limit: 1.5 }, 'storage_limit'],
      [{ registry_id: 1 }, 'registry_id'],
    ])('refuses %p, naming %s', async (fields, field) => {
      const response = await api('POST', '/projects', alice, { project_name: 'refused', ...fields });
      expect(response.status).toBe(400);
      expect(message(response)).toContain(field);
    });

    it('finds a project whose name is all digits by name when X-Is-Resource-Name says so', async () => {
      const id = await create(alice, { project_name: '2024' });
      const byName = await api<Project>('GET', '/projects/2024', alice, undefined, { 'X-Is-Resource-Name': 'true' });
      expect(byName.status).toBe(200);
      expect(byName.body.project_id).toBe(id);
      const byId = await api<Project>('GET', `/projects/${id}`, alice);
      expect(byId.body.name).toBe('2024');
    });
  });

  describe('system settings', () => {
    it('shows administrators the settings in Harbor shape, and no one else', async () => {
      const response = await api('GET', '/configurations', core.admin);
      expect(response.status).toBe(200);
      contract.assertValid('ConfigurationsResponse', response.body);
      expect(response.body).toEqual({
        auth_mode: { value: 'db_auth', editable: false },
        project_creation_restriction: { value: 'everyone', editable: true },
        token_expiration: { value: 30, editable: true },
        robot_token_duration: { value: 30, editable: true },
        storage_per_project: { value: -1, editable: true },
      });
      expect((await api('GET', '/configurations', alice)).status).toBe(403);
      expect((await api('GET', '/configurations')).status).toBe(401);
      expect((await api('PUT', '/configurations', alice, { token_expiration: 60 })).status).toBe(403);
    });

    it.each([
      [{ auth_mode: 'ldap_auth' }, 'auth_mode'],
      [{ email_host: 'smtp.example.com' }, 'email_host'],
      [{ token_expiration: 0 }, 'token_expiration'],
      [{ project_creation_restriction: 'nobody' }, 'project_creation_restriction'],
      [{ storage_per_project: 'lots' }, 'storage_per_project'],
      [{}, 'setting'],
    ])('refuses the change %p, naming %s', async (body, named) => {
      const response = await api('PUT', '/configurations', core.admin, body);
      expect(response.status).toBe(400);
      expect(message(response)).toContain(named);
    });

    it('gives new projects the default storage limit; only administrators choose another', async () => {
      expect((await api('PUT', '/configurations', core.admin, { storage_per_project: 1048576 })).status).toBe(200);
      const byUser = await create(alice, { project_name: 'sized-by-user', storage_limit: 5 });
      const byAdmin = await create(core.admin, { project_name: 'sized-by-admin', storage_limit: 2048 });
      const zero = await create(core.admin, { project_name: 'sized-zero', storage_limit: 0 });
      const unlimited = await create(core.admin, { project_name: 'sized-unlimited', storage_limit: -1 });
      const hard = async (id: number): Promise<number | undefined> =>
        (await api<Summary>('GET', `/projects/${id}/summary`, core.admin)).body.quota?.hard.storage;
      expect(await hard(byUser)).toBe(1048576);
      expect(await hard(byAdmin)).toBe(2048);
      expect(await hard(zero)).toBe(1048576);
      expect(await hard(unlimited)).toBe(-1);
    });

    it('lets only administrators create projects under adminonly, and leaves other settings alone', async () => {
      expect(
        (await api('PUT', '/configurations', core.admin, { project_creation_restriction: 'adminonly' })).status,
      ).toBe(200);
      try {
        const refused = await api('POST', '/projects', alice, { project_name: 'restricted' });
        expect(refused.status).toBe(403);
        await create(core.admin, { project_name: 'restricted' });
        const settings = await api<Record<string, { value: unknown }>>('GET', '/configurations', core.admin);
        expect(settings.body.project_creation_restriction.value).toBe('adminonly');
        expect(settings.body.storage_per_project.value).toBe(1048576);
        expect(settings.body.token_expiration.value).toBe(30);
      } finally {
        await api('PUT', '/configurations', core.admin, { project_creation_restriction: 'everyone' });
      }
      const rows = await fx.dataSource.query<{ resource: string; username: string }[]>(
        `SELECT resource, username FROM audit_log WHERE resource_type = 'configuration' ORDER BY id`,
      );
      expect(rows).toContainEqual({ resource: 'project_creation_restriction', username: 'admin' });
    });
  });

  describe('robots creating projects', () => {
    it('lets a system robot granted project creation create one, owned by an administrator', async () => {
      const robot = await fx.robot('creator', [['system', '/', 'project', 'create']]);
      const id = await create(robot, { project_name: 'robot-made' });
      const project = await api<Project>('GET', `/projects/${id}`, core.admin);
      expect(project.body.owner_name).toBe('admin');
      const [audit] = await fx.dataSource.query<{ username: string }[]>(
        `SELECT username FROM audit_log WHERE resource_type = 'project' AND resource = 'robot-made'`,
      );
      expect(audit.username).toBe('robot$creator');
    });

    it('refuses robots without that permission', async () => {
      const system = await fx.robot('lister', [['system', '/', 'project', 'list']]);
      expect((await api('POST', '/projects', system, { project_name: 'robot-refused' })).status).toBe(403);
      const project = await fx.robot('ci', [['project', 'alpha', 'repository', 'push']], {
        projectId: (await api<Project>('GET', '/projects/alpha', alice)).body.project_id,
        name: 'alpha',
      });
      expect((await api('POST', '/projects', project, { project_name: 'robot-refused' })).status).toBe(403);
    });
  });

  describe('HEAD /projects', () => {
    it('answers 200 for a project the caller may see and 404 for a missing one', async () => {
      expect((await api('HEAD', '/projects?project_name=alpha', alice)).status).toBe(200);
      expect((await api('HEAD', '/projects?project_name=legacy')).status).toBe(200);
      expect((await api('HEAD', '/projects?project_name=missing', alice)).status).toBe(404);
    });

    it('answers as Harbor for private projects and a missing parameter', async () => {
      expect((await api('HEAD', '/projects?project_name=alpha', bob)).status).toBe(403);
      expect((await api('HEAD', '/projects?project_name=alpha')).status).toBe(401);
      expect((await api('HEAD', '/projects', alice)).status).toBe(400);
    });
  });

  describe('listing', () => {
    beforeAll(async () => {
      await create(alice, { project_name: 'list-a' });
      await create(alice, { project_name: 'list-b', metadata: { public: 'true' } });
      const c = await create(core.admin, { project_name: 'list-c' });
      await create(core.admin, { project_name: 'list-d', metadata: { public: 'true' } });
      await fx.member(c, bob.userId, ProjectRole.Guest);
    });

    async function list(query: string, auth?: Credentials): Promise<TestResponse<Project[]>> {
      const response = await api<Project[]>('GET', `/projects?${query}`, auth);
      expect(response.status).toBe(200);
      for (const project of response.body) contract.assertValid('Project', project);
      return response;
    }

    it('shows administrators every project, by name', async () => {
      const response = await list('name=list-', core.admin);
      expect(names(response)).toEqual(['list-a', 'list-b', 'list-c', 'list-d']);
      expect(response.headers.get('x-total-count')).toBe('4');
    });

    it('shows a user public projects and their own, with their role', async () => {
      const response = await list('name=list-', alice);
      expect(names(response)).toEqual(['list-a', 'list-b', 'list-d']);
      expect(response.body.map((p) => p.current_user_role_id)).toEqual([1, 1, undefined]);
      const forBob = await list('name=list-', bob);
      expect(names(forBob)).toEqual(['list-b', 'list-c', 'list-d']);
      expect(forBob.body[1]).toMatchObject({ current_user_role_id: 3, current_user_role_ids: [3] });
    });

    it('shows anonymous callers public projects only', async () => {
      expect(names(await list('name=list-'))).toEqual(['list-b', 'list-d']);
      const privateOnes = await list('name=list-&public=false');
      expect(privateOnes.body).toEqual([]);
      expect(privateOnes.headers.get('x-total-count')).toBe('0');
    });

    it('filters by public, owner and q', async () => {
      expect(names(await list('name=list-&public=false', alice))).toEqual(['list-a']);
      expect(names(await list('name=list-&public=true', alice))).toEqual(['list-b', 'list-d']);
      expect(names(await list('name=list-&owner=Alice', core.admin))).toEqual(['list-a', 'list-b']);
      expect(names(await list('q=name%3D~list-,public%3Dtrue', core.admin))).toEqual(['list-b', 'list-d']);
    });

    it('sorts and pages with Harbor headers', async () => {
      expect(names(await list('name=list-&sort=-name', core.admin))).toEqual(['list-d', 'list-c', 'list-b', 'list-a']);
      const page = await list('name=list-&page=2&page_size=1', core.admin);
      expect(names(page)).toEqual(['list-b']);
      expect(page.headers.get('x-total-count')).toBe('4');
      const link = page.headers.get('link') ?? '';
      expect(link).toContain('rel="prev"');
      expect(link).toContain('rel="next"');
      expect(link).toContain('page=3');
    });

    it('leaves owner names and metadata out without details', async () => {
      const response = await list('name=list-a&with_detail=false', alice);
      expect(response.body).toHaveLength(1);
      expect(response.body[0].metadata).toBeUndefined();
      expect(response.body[0].owner_name).toBeUndefined();
      expect(response.body[0].repo_count).toBe(0);
    });

    it.each(['sort=size', 'q=color%3Dred', 'page_size=0', 'page=abc', 'public=maybe'])(
      'refuses %s with 400',
      async (query) => {
        expect((await api('GET', `/projects?${query}`, alice)).status).toBe(400);
      },
    );

    it('shows robots the projects their permissions name, plus public ones', async () => {
      const lister = await fx.robot('all-projects', [['system', '/', 'project', 'list']]);
      expect(names(await list('name=list-', lister))).toEqual(['list-a', 'list-b', 'list-c', 'list-d']);
      const listA = (await api<Project>('GET', '/projects/list-a', alice)).body.project_id;
      const scoped = await fx.robot('scoped', [['project', 'list-a', 'repository', 'pull']], {
        projectId: listA,
        name: 'list-a',
      });
      expect(names(await list('name=list-', scoped))).toEqual(['list-a', 'list-b', 'list-d']);
    });
  });

  describe('one project', () => {
    let id: number;
    let robot: Credentials;

    beforeAll(async () => {
      id = await create(alice, { project_name: 'one' });
      await fx.member(id, maintainer.userId, ProjectRole.Maintainer);
      await fx.member(id, developer.userId, ProjectRole.Developer);
      await fx.member(id, guest.userId, ProjectRole.Guest);
      await fx.member(id, limited.userId, ProjectRole.LimitedGuest);
      robot = await fx.robot('reader', [['project', 'one', 'project', 'read']], { projectId: id, name: 'one' });
    });

    // [who, GET, PUT, summary, _deletable, DELETE]; DELETE is only tried where it is refused.
    const matrix: [string, number, number, number, number, number | undefined][] = [
      ['system admin', 200, 200, 200, 200, undefined],
      ['project admin', 200, 200, 200, 200, undefined],
      ['maintainer', 200, 403, 200, 403, 403],
      ['developer', 200, 403, 200, 403, 403],
      ['guest', 200, 403, 200, 403, 403],
      ['limited guest', 200, 403, 200, 403, 403],
      ['non-member', 403, 403, 403, 403, 403],
      ['anonymous', 401, 401, 401, 401, 401],
      ['project robot', 200, 403, 200, 403, 403],
    ];

    function who(name: string): Credentials | undefined {
      const byName: Record<string, Credentials | undefined> = {
        'system admin': core.admin,
        'project admin': alice,
        maintainer,
        developer,
        guest,
        'limited guest': limited,
        'non-member': bob,
        anonymous: undefined,
        'project robot': robot,
      };
      return byName[name];
    }

    it.each(matrix)(
      '%s: GET %i, PUT %i, summary %i, _deletable %i, DELETE %p',
      async (name, get, put, sum, del, rm) => {
        const auth = who(name);
        expect((await api('GET', `/projects/${id}`, auth)).status).toBe(get);
        expect((await api('PUT', `/projects/${id}`, auth, { metadata: { auto_scan: 'false' } })).status).toBe(put);
        expect((await api('GET', `/projects/${id}/summary`, auth)).status).toBe(sum);
        expect((await api('GET', `/projects/${id}/_deletable`, auth)).status).toBe(del);
        if (rm !== undefined) expect((await api('DELETE', `/projects/${id}`, auth)).status).toBe(rm);
      },
    );

    it('answers 404 for a project that does not exist', async () => {
      expect((await api('GET', '/projects/999999', core.admin)).status).toBe(404);
      expect((await api('GET', '/projects/no-such-project', core.admin)).status).toBe(404);
    });

    it('updates metadata, keeping what the request leaves out', async () => {
      const update = { metadata: { public: 'true', severity: 'high', prevent_vul: true } };
      expect((await api('PUT', `/projects/${id}`, alice, update)).status).toBe(200);
      expect((await api('PUT', `/projects/${id}`, alice, { metadata: { auto_scan: 'true' } })).status).toBe(200);
      const project = await api<Project>('GET', `/projects/${id}`, alice);
      expect(project.body.metadata).toEqual({
        public: 'true',
        severity: 'high',
        prevent_vul: 'true',
        auto_scan: 'true',
      });
      expect(Date.parse(project.body.update_time)).toBeGreaterThan(Date.parse(project.body.creation_time));
      // Now public: anyone may read it, and its lists show it to everyone.
      expect((await api('GET', `/projects/${id}`)).status).toBe(200);
      expect((await api('PUT', `/projects/${id}`, alice, { metadata: { public: 'false' } })).status).toBe(200);
      expect((await api('GET', `/projects/${id}`)).status).toBe(401);
    });

    it('lets only system administrators change the storage limit', async () => {
      const refused = await api('PUT', `/projects/${id}`, alice, { storage_limit: 1000 });
      expect(refused.status).toBe(403);
      expect((await api('PUT', `/projects/${id}`, core.admin, { storage_limit: 4096 })).status).toBe(200);
      const summary = await api<Summary>('GET', `/projects/${id}/summary`, alice);
      expect(summary.body.quota?.hard.storage).toBe(4096);
    });

    it('accepts the retention id only as it is stored', async () => {
      const refused = await api('PUT', `/projects/${id}`, alice, { metadata: { retention_id: '12' } });
      expect(refused.status).toBe(400);
      expect(message(refused)).toContain('retention_id');
      expect((await api('PUT', `/projects/${id}`, alice, { metadata: { retention_id: '' } })).status).toBe(200);
    });

    it('summarises repositories, members per role and the quota', async () => {
      const repository = await fx.repository('one/app');
      try {
        const response = await api<Summary>('GET', `/projects/${id}/summary`, alice);
        contract.assertValid('ProjectSummary', response.body);
        expect(response.body).toEqual({
          repo_count: 1,
          project_admin_count: 1,
          maintainer_count: 1,
          developer_count: 1,
          guest_count: 1,
          limited_guest_count: 1,
          quota: { hard: { storage: 4096 }, used: { storage: 0 } },
        });
        expect((await api<Project>('GET', `/projects/${id}`, alice)).body.repo_count).toBe(1);
      } finally {
        await fx.deleteRepository(repository);
      }
    });

    it('leaves out what the caller may not see', async () => {
      const forLimited = await api<Summary>('GET', `/projects/${id}/summary`, limited);
      expect(forLimited.body).toEqual({ repo_count: 0, quota: { hard: { storage: 4096 }, used: { storage: 0 } } });
      const forRobot = await api<Summary>('GET', `/projects/${id}/summary`, robot);
      expect(forRobot.body).toEqual({ repo_count: 0 });
    });

    it('records every change in the audit log', async () => {
      const rows = await fx.dataSource.query<{ operation: string; username: string }[]>(
        `SELECT operation, username FROM audit_log WHERE project_id = $1 AND resource_type = 'project' ORDER BY id`,
        [id],
      );
      expect(rows[0]).toEqual({ operation: 'create', username: 'alice' });
      expect(rows.filter((r) => r.operation === 'update').map((r) => r.username)).toEqual(
        expect.arrayContaining(['alice', 'admin']),
      );
    });
  });

  describe('deleting', () => {
    it('refuses while the project holds repositories, with Harbor message', async () => {
      const id = await create(alice, { project_name: 'doomed' });
      const repository = await fx.repository('doomed/app');
      const deletable = await api('GET', `/projects/${id}/_deletable`, alice);
      contract.assertValid('ProjectDeletable', deletable.body);
      expect(deletable.body).toEqual({ deletable: false, message: NOT_EMPTY });
      const refused = await api('DELETE', `/projects/${id}`, alice);
      expect(refused.status).toBe(412);
      expect(refused.body).toEqual({ errors: [{ code: 'PRECONDITION', message: NOT_EMPTY }] });
      expect((await api('GET', `/projects/${id}`, alice)).status).toBe(200);

      await fx.deleteRepository(repository);
      expect((await api('GET', `/projects/${id}/_deletable`, alice)).body).toEqual({ deletable: true });
    });

    it('deletes an empty project with its members, robots, quota and metadata', async () => {
      const id = await create(alice, { project_name: 'gone', metadata: { public: 'true' } });
      await fx.member(id, bob.userId, ProjectRole.Developer);
      await fx.robot('ci', [['project', 'gone', 'repository', 'push']], { projectId: id, name: 'gone' });
      expect((await api('DELETE', `/projects/gone`, alice)).status).toBe(200);
      expect((await api('GET', `/projects/${id}`, alice)).status).toBe(404);
      expect((await api('DELETE', `/projects/${id}`, core.admin)).status).toBe(404);
      for (const table of ['project_member', 'project_metadata', 'quota', 'robot']) {
        const [row] = await fx.dataSource.query<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM ${table} WHERE project_id = $1`,
          [id],
        );
        expect({ table, rows: row.n }).toEqual({ table, rows: 0 });
      }
      const audit = await fx.dataSource.query<{ operation: string }[]>(
        `SELECT operation FROM audit_log WHERE project_id = $1 AND resource = 'gone' ORDER BY id`,
        [id],
      );
      expect(audit.map((r) => r.operation)).toEqual(['create', 'delete']);
      // The name is free again.
      await create(bob, { project_name: 'gone' });
    });
  });
});
