import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ProjectRole } from '@wharf/auth';
import { AuditRepository, type NewAuditRecord } from '../repositories/audit.repository.js';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type Credentials, type TestCore, startTestCore } from '../testing/test-core.js';
import { type Fixtures, fixtures } from '../testing/audit-log-fixtures.js';

interface AuditLog {
  id: number;
  username: string;
  resource: string;
  resource_type: string;
  operation: string;
  op_time: string;
}

const BASE = Date.parse('2031-03-01T00:00:00Z');
const minute = (n: number) => new Date(BASE + n * 60_000);

// Each request checks a password with scrypt; on a busy machine a few of them take seconds.
jest.setTimeout(60_000);

describe('audit log API', () => {
  let core: TestCore;
  let fx: Fixtures;
  let contract: HarborContract;
  let privateId: number;
  let publicId: number;
  const who: Record<'owner' | 'developer' | 'outsider' | 'projectRobot' | 'pullRobot' | 'auditRobot', Credentials> =
    {} as never;

  const get = (path: string, auth?: Credentials) => core.request<AuditLog[]>('GET', path, { auth });
  const resources = (logs: AuditLog[]) => logs.map((l) => l.resource);

  beforeAll(async () => {
    core = await startTestCore();
    fx = fixtures(core);
    contract = await harborContract();
    const owner = await fx.user('owner');
    const developer = await fx.user('developer');
    const outsider = await fx.user('outsider');
    privateId = await fx.project('secret', { ownerId: owner.userId });
    publicId = await fx.project('open', { public: true });
    await fx.member(privateId, owner.userId, ProjectRole.ProjectAdmin);
    await fx.member(privateId, developer.userId, ProjectRole.Developer);
    await fx.member(publicId, owner.userId, ProjectRole.Developer);
    who.owner = owner.credentials;
    who.developer = developer.credentials;
    who.outsider = outsider.credentials;
    const secret = { projectId: privateId, name: 'secret' };
    who.projectRobot = await fx.robot('logs', [['project', 'secret', 'log', 'list']], secret);
    who.pullRobot = await fx.robot('pull', [['project', 'secret', 'repository', 'pull']], secret);
    who.auditRobot = await fx.robot('auditor', [['system', '/', 'audit-log', 'list']]);

    // Whatever the server recorded at its start (its admin, …) is older than these.
    await fx.dataSource.query(`DELETE FROM audit_log`);
    const records: NewAuditRecord[] = [];
    // 15 in the private project (minutes 0–14), 5 in the public one (20–24), 5 of no project (30–34).
    for (let i = 0; i < 15; i++) {
      records.push({
        projectId: privateId,
        operation: i % 3 === 0 ? 'delete' : 'create',
        resourceType: 'artifact',
        resource: `secret/app:v${i}`,
        username: i % 2 === 0 ? 'alice' : 'bob',
        opTime: minute(i),
      });
    }
    for (let i = 0; i < 5; i++) {
      records.push({
        projectId: publicId,
        operation: 'pull',
        resourceType: 'artifact',
        resource: `open/web:v${i}`,
        username: 'anonymous',
        opTime: minute(20 + i),
      });
    }
    for (let i = 0; i < 5; i++) {
      records.push({
        operation: 'create',
        resourceType: 'user',
        resource: `user${i}`,
        username: 'admin',
        opTime: minute(30 + i),
      });
    }
    await new AuditRepository(fx.dataSource).insert(records);
  });

  afterAll(async () => {
    await core.close();
  });

  describe('GET /audit-logs', () => {
    it('pages through every record for the system administrator, newest first, in Harbor shape', async () => {
      const first = await get('/api/v2.0/audit-logs', core.admin);
      expect(first.status).toBe(200);
      expect(first.headers.get('x-total-count')).toBe('25');
      expect(resources(first.body)).toEqual([
        'user4',
        'user3',
        'user2',
        'user1',
        'user0',
        'open/web:v4',
        'open/web:v3',
        'open/web:v2',
        'open/web:v1',
        'open/web:v0',
      ]);
      expect(first.headers.get('link')).toBe('</api/v2.0/audit-logs?page=2&page_size=10>; rel="next"');
      for (const log of first.body) contract.assertValid('AuditLog', log);
      expect(first.body[0]).toEqual({
        id: expect.any(Number),
        username: 'admin',
        resource: 'user4',
        resource_type: 'user',
        operation: 'create',
        op_time: '2031-03-01T00:34:00.000Z',
      });

      const last = await get('/api/v2.0/audit-logs?page=3&page_size=10', core.admin);
      expect(resources(last.body)).toEqual([
        'secret/app:v4',
        'secret/app:v3',
        'secret/app:v2',
        'secret/app:v1',
        'secret/app:v0',
      ]);
      expect(last.headers.get('link')).toBe('</api/v2.0/audit-logs?page=2&page_size=10>; rel="prev"');
    });

    it('filters by q and sorts by op_time', async () => {
      const deletes = await get('/api/v2.0/audit-logs?q=operation%3Ddelete&page_size=100', core.admin);
      expect(resources(deletes.body)).toEqual([
        'secret/app:v12',
        'secret/app:v9',
        'secret/app:v6',
        'secret/app:v3',
        'secret/app:v0',
      ]);

      const fuzzy = await get('/api/v2.0/audit-logs?q=username%3D~LIC,resource%3D~app:v1&page_size=100', core.admin);
      expect(resources(fuzzy.body)).toEqual(['secret/app:v14', 'secret/app:v12', 'secret/app:v10']);

      const range = await get(
        `/api/v2.0/audit-logs?q=${encodeURIComponent('op_time=[2031-03-01 00:21:00~2031-03-01T00:23:00Z]')}&sort=op_time`,
        core.admin,
      );
      expect(resources(range.body)).toEqual(['open/web:v1', 'open/web:v2', 'open/web:v3']);
      expect(range.headers.get('x-total-count')).toBe('3');

      const byType = await get('/api/v2.0/audit-logs?q=resource_type%3Duser&sort=-op_time&page_size=2', core.admin);
      expect(resources(byType.body)).toEqual(['user4', 'user3']);
      expect(byType.headers.get('x-total-count')).toBe('5');
    });

    it('answers 400 naming the problem for bad list parameters', async () => {
      for (const [query, fragment] of [
        ['q=colour%3Dred', 'colour'],
        ['q=op_time%3D~2031', 'op_time'],
        ['sort=username', 'username'],
        ['page=0', 'page'],
        ['page_size=101', 'page_size'],
      ] as const) {
        const response = await core.request<{ errors: { code: string; message: string }[] }>(
          'GET',
          `/api/v2.0/audit-logs?${query}`,
          { auth: core.admin },
        );
        expect(response.status).toBe(400);
        expect(response.body.errors[0].code).toBe('BAD_REQUEST');
        expect(response.body.errors[0].message).toContain(fragment);
      }
    });

    it('shows a project admin the records of their projects only', async () => {
      const response = await get('/api/v2.0/audit-logs?page_size=100', who.owner);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-total-count')).toBe('15');
      expect(response.body.every((l) => l.resource.startsWith('secret/'))).toBe(true);
    });

    it('shows members without the log permission and outsiders nothing', async () => {
      for (const user of [who.developer, who.outsider]) {
        const response = await get('/api/v2.0/audit-logs', user);
        expect(response.status).toBe(200);
        expect(response.body).toEqual([]);
        expect(response.headers.get('x-total-count')).toBe('0');
      }
    });

    it('scopes robots by their permissions', async () => {
      const project = await get('/api/v2.0/audit-logs?page_size=100', who.projectRobot);
      expect(project.headers.get('x-total-count')).toBe('15');
      const pull = await get('/api/v2.0/audit-logs', who.pullRobot);
      expect(pull.body).toEqual([]);
      const system = await get('/api/v2.0/audit-logs', who.auditRobot);
      expect(system.headers.get('x-total-count')).toBe('25');
    });

    it('refuses anonymous callers', async () => {
      const response = await get('/api/v2.0/audit-logs');
      expect(response.status).toBe(401);
    });
  });

  describe('GET /projects/{project_name}/logs', () => {
    it("lists one project's records, by name (the route takes a name only, as Harbor's)", async () => {
      const byName = await get('/api/v2.0/projects/secret/logs?page_size=3', core.admin);
      expect(byName.status).toBe(200);
      expect(byName.headers.get('x-total-count')).toBe('15');
      expect(resources(byName.body)).toEqual(['secret/app:v14', 'secret/app:v13', 'secret/app:v12']);
      expect(byName.headers.get('link')).toBe('</api/v2.0/projects/secret/logs?page=2&page_size=3>; rel="next"');
      for (const log of byName.body) contract.assertValid('AuditLog', log);

      const filtered = await get(`/api/v2.0/projects/open/logs?q=username%3Danonymous&sort=op_time`, core.admin);
      expect(resources(filtered.body)).toEqual([
        'open/web:v0',
        'open/web:v1',
        'open/web:v2',
        'open/web:v3',
        'open/web:v4',
      ]);
      // A number is a project name here (project names may be all digits), never an id.
      expect((await get(`/api/v2.0/projects/${publicId}/logs`, core.admin)).status).toBe(404);
    });

    it('lets the project admin and a robot with the log permission read it', async () => {
      for (const caller of [who.owner, who.projectRobot]) {
        const response = await get('/api/v2.0/projects/secret/logs?q=operation%3Ddelete', caller);
        expect(response.status).toBe(200);
        expect(response.headers.get('x-total-count')).toBe('5');
      }
    });

    it('refuses members without the log permission, outsiders and other robots', async () => {
      for (const caller of [who.developer, who.outsider, who.pullRobot, who.auditRobot]) {
        expect((await get('/api/v2.0/projects/secret/logs', caller)).status).toBe(403);
      }
      // A public project's log is not public, and a developer there may not read it either.
      expect((await get('/api/v2.0/projects/open/logs', who.outsider)).status).toBe(403);
      expect((await get('/api/v2.0/projects/open/logs', who.owner)).status).toBe(403);
      expect((await get('/api/v2.0/projects/open/logs')).status).toBe(401);
      expect((await get('/api/v2.0/projects/secret/logs')).status).toBe(401);
    });

    it('answers 404 for a project that does not exist', async () => {
      const response = await get('/api/v2.0/projects/nothing-here/logs', core.admin);
      expect(response.status).toBe(404);
    });
  });
});
