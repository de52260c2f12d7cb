import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ProjectRole } from '@wharf/auth';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type Credentials, type TestCore, type TestResponse, startTestCore } from '../testing/test-core.js';
import { type ProjectFixtures, type TestUser, projectFixtures } from '../testing/project-fixtures.js';

interface Member {
  id: number;
  project_id: number;
  entity_name: string;
  role_name: string;
  role_id: number;
  entity_id: number;
  entity_type: string;
}

interface ErrorBody {
  errors: { code: string; message: string }[];
}

// A real server, PostgreSQL and password hashing on every request: slower than a unit test.
jest.setTimeout(60_000);

describe('project members API', () => {
  let core: TestCore;
  let fx: ProjectFixtures;
  let contract: HarborContract;
  let owner: TestUser;
  let maintainer: TestUser;
  let developer: TestUser;
  let guest: TestUser;
  let limited: TestUser;
  let outsider: TestUser;
  let projectId: number;
  let otherProjectId: number;

  function api<T = unknown>(
    method: string,
    path: string,
    auth?: Credentials,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<TestResponse<T>> {
    return core.request<T>(method, `/api/v2.0${path}`, { auth, body, headers });
  }

  function message(response: TestResponse): string {
    return (response.body as ErrorBody).errors[0]?.message ?? '';
  }

  async function createProject(auth: Credentials, name: string): Promise<number> {
    const response = await api('POST', '/projects', auth, { project_name: name });
    expect(response.status).toBe(201);
    return Number(/(\d+)$/.exec(response.headers.get('location') ?? '')?.[1]);
  }

  async function memberIdOf(username: string): Promise<number> {
    const response = await api<Member[]>('GET', `/projects/${projectId}/members?entityname=${username}`, owner);
    const member = response.body.find((m) => m.entity_name === username);
    if (!member) throw new Error(`${username} is no member`);
    return member.id;
  }

  beforeAll(async () => {
    core = await startTestCore();
    fx = projectFixtures(core);
    contract = await harborContract();
    [owner, maintainer, developer, guest, limited, outsider] = await Promise.all(
      ['olivia', 'mia', 'dave', 'gus', 'lim', 'otto'].map((name) => fx.user(name)),
    );
    projectId = await createProject(owner, 'crew');
    otherProjectId = await createProject(outsider, 'elsewhere');
    await fx.member(projectId, maintainer.userId, ProjectRole.Maintainer);
    await fx.member(projectId, developer.userId, ProjectRole.Developer);
    await fx.member(projectId, guest.userId, ProjectRole.Guest);
    await fx.member(projectId, limited.userId, ProjectRole.LimitedGuest);
  });

  afterAll(async () => {
    await core.close();
  });

  describe('listing', () => {
    it('lists members by name with their roles, in Harbor shape', async () => {
      const response = await api<Member[]>('GET', `/projects/${projectId}/members`, guest);
      expect(response.status).toBe(200);
      for (const member of response.body) contract.assertValid('ProjectMemberEntity', member);
      expect(response.body.map((m) => [m.entity_name, m.role_id, m.role_name])).toEqual([
        ['dave', 2, 'developer'],
        ['gus', 3, 'guest'],
        ['lim', 5, 'limitedGuest'],
        ['mia', 4, 'maintainer'],
        ['olivia', 1, 'projectAdmin'],
      ]);
      expect(response.body[0]).toMatchObject({ project_id: projectId, entity_id: developer.userId, entity_type: 'u' });
      expect(response.headers.get('x-total-count')).toBe('5');
    });

    it('filters by part of the name and pages', async () => {
      const filtered = await api<Member[]>('GET', `/projects/crew/members?entityname=I`, owner);
      expect(filtered.body.map((m) => m.entity_name)).toEqual(['lim', 'mia', 'olivia']);
      expect(filtered.headers.get('x-total-count')).toBe('3');
      const page = await api<Member[]>('GET', `/projects/crew/members?page=2&page_size=2`, owner);
      expect(page.body.map((m) => m.entity_name)).toEqual(['lim', 'mia']);
      expect(page.headers.get('x-total-count')).toBe('5');
      expect(page.headers.get('link')).toContain('rel="next"');
      const wildcard = await api<Member[]>('GET', `/projects/crew/members?entityname=%25`, owner);
      expect(wildcard.body).toEqual([]);
    });

    it.each([
      ['project admin', 200],
      ['maintainer', 200],
      ['developer', 200],
      ['guest', 200],
      ['limited guest', 403],
      ['non-member', 403],
      ['anonymous', 401],
    ])('answers the %s %i', async (who, status) => {
      const auth: Record<string, Credentials | undefined> = {
        'project admin': owner,
        maintainer,
        developer,
        guest,
        'limited guest': limited,
        'non-member': outsider,
        anonymous: undefined,
      };
      expect((await api('GET', `/projects/${projectId}/members`, auth[who])).status).toBe(status);
    });
  });

  describe('adding', () => {
    it('adds a user by name with a Location naming the project as the caller did', async () => {
      const newcomer = await fx.user('nina');
      const response = await api('POST', '/projects/crew/members', owner, {
        role_id: ProjectRole.Developer,
        member_user: { username: 'NINA' },
      });
      expect(response.status).toBe(201);
      const location = response.headers.get('location') ?? '';
      expect(location).toMatch(/^\/api\/v2\.0\/projects\/crew\/members\/\d+$/);
      const member = await api<Member>('GET', location.replace('/api/v2.0', ''), owner);
      expect(member.status).toBe(200);
      contract.assertValid('ProjectMemberEntity', member.body);
      expect(member.body).toMatchObject({ entity_id: newcomer.userId, entity_name: 'nina', role_name: 'developer' });
    });

    it('adds a user by id', async () => {
      const newcomer = await fx.user('ivan');
      const response = await api('POST', `/projects/${projectId}/members`, owner, {
        role_id: ProjectRole.Guest,
        member_user: { user_id: newcomer.userId },
      });
      expect(response.status).toBe(201);
      expect(response.headers.get('location')).toMatch(new RegExp(`^/api/v2\\.0/projects/${projectId}/members/\\d+$`));
    });

    it('answers 409 when the user already is a member', async () => {
      const response = await api('POST', `/projects/${projectId}/members`, owner, {
        role_id: ProjectRole.Guest,
        member_user: { username: 'dave' },
      });
      expect(response.status).toBe(409);
      expect(message(response)).toContain('dave');
    });

    it.each([
      [{ role_id: 6, member_user: { username: 'otto' } }, 'role_id'],
      [{ role_id: 0, member_user: { username: 'otto' } }, 'role_id'],
      [{ member_user: { username: 'otto' } }, 'role_id'],
      [{ role_id: 2, member_user: { username: 'nobody' } }, 'nobody'],
      [{ role_id: 2, member_user: { user_id: 99999 } }, '99999'],
      [{ role_id: 2, member_user: {} }, 'member_user'],
      [{ role_id: 2 }, 'member_user'],
      [{ role_id: 2, member_group: { group_name: 'devs' } }, 'member_group'],
    ])('refuses %p, naming %s', async (body, named) => {
      const response = await api('POST', `/projects/${projectId}/members`, owner, body);
      expect(response.status).toBe(400);
      expect(message(response)).toContain(named);
    });

    it.each([
      ['maintainer', 403],
      ['developer', 403],
      ['guest', 403],
      ['non-member', 403],
      ['anonymous', 401],
    ])('refuses the %s with %i', async (who, status) => {
      const auth: Record<string, Credentials | undefined> = {
        maintainer,
        developer,
        guest,
        'non-member': outsider,
        anonymous: undefined,
      };
      const response = await api('POST', `/projects/${projectId}/members`, auth[who], {
        role_id: ProjectRole.Guest,
        member_user: { username: 'otto' },
      });
      expect(response.status).toBe(status);
    });

    it('lets a system administrator and a robot granted member creation add members', async () => {
      const viaAdmin = await fx.user('ada');
      expect(
        (
          await api('POST', `/projects/${projectId}/members`, core.admin, {
            role_id: ProjectRole.Guest,
            member_user: { user_id: viaAdmin.userId },
          })
        ).status,
      ).toBe(201);
      const robot = await fx.robot('onboarding', [['project', 'crew', 'member', 'create']], {
        projectId,
        name: 'crew',
      });
      const viaRobot = await fx.user('rob');
      expect(
        (
          await api('POST', `/projects/${projectId}/members`, robot, {
            role_id: ProjectRole.Guest,
            member_user: { user_id: viaRobot.userId },
          })
        ).status,
      ).toBe(201);
      const [audit] = await fx.dataSource.query<{ username: string }[]>(
        `SELECT username FROM audit_log WHERE resource_type = 'member' AND resource = 'rob' AND operation = 'create'`,
      );
      expect(audit.username).toBe('robot$crew+onboarding');
    });
  });

  describe('one member', () => {
    it('gives access as the new role once changed', async () => {
      const mid = await memberIdOf('gus');
      expect((await api('PUT', `/projects/${projectId}`, guest, { metadata: { auto_scan: 'true' } })).status).toBe(403);
      expect((await api('PUT', `/projects/${projectId}/members/${mid}`, owner, { role_id: 1 })).status).toBe(200);
      const member = await api<Member>('GET', `/projects/${projectId}/members/${mid}`, owner);
      expect(member.body).toMatchObject({ role_id: 1, role_name: 'projectAdmin' });
      expect((await api('PUT', `/projects/${projectId}`, guest, { metadata: { auto_scan: 'true' } })).status).toBe(200);
      expect((await api('PUT', `/projects/${projectId}/members/${mid}`, owner, { role_id: 3 })).status).toBe(200);
    });

    it('refuses changes by those who may not manage members', async () => {
      const mid = await memberIdOf('lim');
      for (const auth of [maintainer, developer, guest, outsider]) {
        expect((await api('PUT', `/projects/${projectId}/members/${mid}`, auth, { role_id: 1 })).status).toBe(403);
        expect((await api('DELETE', `/projects/${projectId}/members/${mid}`, auth)).status).toBe(403);
      }
      expect((await api('PUT', `/projects/${projectId}/members/${mid}`, undefined, { role_id: 1 })).status).toBe(401);
      expect((await api('GET', `/projects/${projectId}/members/${mid}`, limited)).status).toBe(403);
      expect((await api('GET', `/projects/${projectId}/members/${mid}`, developer)).status).toBe(200);
    });

    it('refuses a bad role and unknown or foreign member ids', async () => {
      const mid = await memberIdOf('lim');
      const badRole = await api('PUT', `/projects/${projectId}/members/${mid}`, owner, { role_id: 9 });
      expect(badRole.status).toBe(400);
      expect(message(badRole)).toContain('role_id');
      expect((await api('GET', `/projects/${projectId}/members/abc`, owner)).status).toBe(400);
      expect((await api('GET', `/projects/${projectId}/members/999999`, owner)).status).toBe(404);
      const foreign = await api<Member[]>('GET', `/projects/${otherProjectId}/members`, outsider);
      const foreignId = foreign.body[0].id;
      expect((await api('GET', `/projects/${projectId}/members/${foreignId}`, owner)).status).toBe(404);
      expect((await api('PUT', `/projects/${projectId}/members/${foreignId}`, owner, { role_id: 3 })).status).toBe(404);
      expect((await api('DELETE', `/projects/${projectId}/members/${foreignId}`, owner)).status).toBe(404);
      expect((await api<Member[]>('GET', `/projects/${otherProjectId}/members`, outsider)).body[0].role_id).toBe(1);
    });

    it('removes a member, who then loses access, and records it', async () => {
      const mid = await memberIdOf('lim');
      expect((await api('GET', `/projects/${projectId}`, limited)).status).toBe(200);
      expect((await api('DELETE', `/projects/${projectId}/members/${mid}`, owner)).status).toBe(200);
      expect((await api('GET', `/projects/${projectId}`, limited)).status).toBe(403);
      expect((await api('DELETE', `/projects/${projectId}/members/${mid}`, owner)).status).toBe(404);
      const audit = await fx.dataSource.query<{ operation: string; username: string }[]>(
        `SELECT operation, username FROM audit_log WHERE resource_type = 'member' AND resource = 'lim' ORDER BY id`,
      );
      expect(audit).toEqual([{ operation: 'delete', username: 'olivia' }]);
      const updates = await fx.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM audit_log WHERE resource_type = 'member' AND resource = 'gus' AND operation = 'update'`,
      );
      expect(updates[0].n).toBe(2);
    });
  });
});
