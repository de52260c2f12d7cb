import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ProjectRole } from '@wharf/auth';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type Credentials, type TestCore, startTestCore } from '../testing/test-core.js';
import {
  type ArtifactFixtures,
  type Pushed,
  type TestProject,
  artifactFixtures,
} from '../testing/artifact-fixtures.js';

interface Repository {
  id: number;
  project_id: number;
  name: string;
  description: string;
  artifact_count: number;
  pull_count: number;
  creation_time: string;
  update_time: string;
}

// Each request checks a password with scrypt; on a busy machine a few of them take seconds.
jest.setTimeout(120_000);

describe('repository API', () => {
  let core: TestCore;
  let fx: ArtifactFixtures;
  let contract: HarborContract;
  let admin: Credentials;
  let shop: TestProject;
  let open: TestProject;
  let vault: TestProject;
  const who = {} as Record<'maintainer' | 'developer' | 'guest' | 'outsider' | 'robot', Credentials>;
  let webV1: Pushed;

  const names = (repositories: Repository[]) => repositories.map((r) => r.name);
  const list = (path: string, auth?: Credentials) => core.request<Repository[]>('GET', path, { auth });

  beforeAll(async () => {
    core = await startTestCore();
    fx = artifactFixtures(core);
    contract = await harborContract();
    admin = core.admin;
    shop = await fx.project('shop');
    open = await fx.project('open', { public: true });
    vault = await fx.project('vault');
    for (const [name, role] of [
      ['maintainer', ProjectRole.Maintainer],
      ['developer', ProjectRole.Developer],
      ['guest', ProjectRole.Guest],
    ] as const) {
      const user = await fx.user(name);
      await fx.member(shop.projectId, user.userId, role);
      who[name] = user;
    }
    who.outsider = await fx.user('outsider');
    who.robot = await fx.robot('lister', [['project', 'shop', 'repository', 'list']], shop);

    // Created oldest first: shop/web, shop/team/api, open/tool, vault/secret.
    webV1 = await fx.image('shop/web', { tag: 'v1' });
    const amd64 = await fx.image('shop/web');
    await fx.index('shop/web', [{ image: amd64, platform: { architecture: 'amd64', os: 'linux' } }], { tag: 'multi' });
    await fx.image('shop/team/api', { tag: 'v1' });
    await fx.image('open/tool', { tag: 'v1' });
    await fx.image('vault/secret', { tag: 'v1' });
    await fx.dataSource.query(`UPDATE registry_repository SET pull_count = 7 WHERE name = 'shop/web'`);
  });

  afterAll(async () => {
    await core?.close();
  });

  describe('listing', () => {
    it("lists a project's repositories newest first with their counts", async () => {
      const response = await list('/api/v2.0/projects/shop/repositories', who.guest);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-total-count')).toBe('2');
      expect(names(response.body)).toEqual(['shop/team/api', 'shop/web']);
      const web = response.body[1];
      expect(web).toMatchObject({ project_id: shop.projectId, description: '', artifact_count: 2, pull_count: 7 });
      for (const repository of response.body) contract.assertValid('Repository', repository);
    });

    it('filters by name, sorts and pages', async () => {
      const fuzzy = await list(`/api/v2.0/projects/shop/repositories?q=${encodeURIComponent('name=~team')}`, admin);
      expect(names(fuzzy.body)).toEqual(['shop/team/api']);
      const sorted = await list('/api/v2.0/projects/shop/repositories?sort=name', admin);
      expect(names(sorted.body)).toEqual(['shop/team/api', 'shop/web']);
      const second = await list('/api/v2.0/projects/shop/repositories?page=2&page_size=1', admin);
      expect(names(second.body)).toEqual(['shop/web']);
      expect(second.headers.get('x-total-count')).toBe('2');
      expect(second.headers.get('link')).toContain('rel="prev"');
      expect((await list('/api/v2.0/projects/shop/repositories?q=size%3D3', admin)).status).toBe(400);
      expect((await list('/api/v2.0/projects/shop/repositories?page_size=1000', admin)).status).toBe(400);
    });

    it('lists every repository a caller may see across projects', async () => {
      expect(names((await list('/api/v2.0/repositories?page_size=20', admin)).body)).toEqual([
        'vault/secret',
        'open/tool',
        'shop/team/api',
        'shop/web',
      ]);
      expect(names((await list('/api/v2.0/repositories', who.guest)).body)).toEqual([
        'open/tool',
        'shop/team/api',
        'shop/web',
      ]);
      const outsider = await list('/api/v2.0/repositories', who.outsider);
      expect(names(outsider.body)).toEqual(['open/tool']);
      expect(outsider.body[0].project_id).toBe(open.projectId);
      expect(outsider.headers.get('x-total-count')).toBe('1');
      expect(names((await list('/api/v2.0/repositories')).body)).toEqual(['open/tool']);
      expect(names((await list('/api/v2.0/repositories', who.robot)).body)).toEqual(['open/tool']);
      const byProject = await list(
        `/api/v2.0/repositories?q=${encodeURIComponent(`project_id=${shop.projectId}`)}`,
        admin,
      );
      expect(names(byProject.body)).toEqual(['shop/team/api', 'shop/web']);
    });

    it('checks who may list a project', async () => {
      expect((await list('/api/v2.0/projects/shop/repositories', who.robot)).status).toBe(200);
      expect((await list('/api/v2.0/projects/shop/repositories', who.outsider)).status).toBe(403);
      expect((await list('/api/v2.0/projects/shop/repositories')).status).toBe(401);
      expect((await list('/api/v2.0/projects/open/repositories')).status).toBe(200);
      expect((await list('/api/v2.0/projects/nowhere/repositories', admin)).status).toBe(404);
      // The route takes a project name only, as Harbor's: a number is a name (names may be all digits), not an id.
      expect((await list(`/api/v2.0/projects/${vault.projectId}/repositories`, admin)).status).toBe(404);
    });
  });

  describe('one repository', () => {
    it('answers a repository by name, a nested one encoded twice over', async () => {
      const web = await core.request<Repository>('GET', '/api/v2.0/projects/shop/repositories/web', {
        auth: who.guest,
      });
      expect(web.status).toBe(200);
      expect(web.body).toMatchObject({ name: 'shop/web', artifact_count: 2, pull_count: 7 });
      contract.assertValid('Repository', web.body);
      const nested = await core.request<Repository>('GET', '/api/v2.0/projects/shop/repositories/team%252Fapi', {
        auth: admin,
      });
      expect(nested.status).toBe(200);
      expect(nested.body.name).toBe('shop/team/api');
      const anonymous = await core.request<Repository>('GET', '/api/v2.0/projects/open/repositories/tool');
      expect(anonymous.status).toBe(200);
      expect(anonymous.body.project_id).toBe(open.projectId);
    });

    it('answers 404 for a repository of another project or none, and 400 for a malformed name', async () => {
      const other = await core.request<{ errors: { code: string; message: string }[] }>(
        'GET',
        '/api/v2.0/projects/shop/repositories/secret',
        { auth: admin },
      );
      expect(other.status).toBe(404);
      expect(other.body.errors[0]).toEqual({ code: 'NOT_FOUND', message: 'repository shop/secret not found' });
      expect((await core.request('GET', '/api/v2.0/projects/shop/repositories/Web', { auth: admin })).status).toBe(400);
      expect((await core.request('GET', '/api/v2.0/projects/shop/repositories/a%25zz', { auth: admin })).status).toBe(
        400,
      );
    });

    it('changes the description, audited, for those who may update', async () => {
      const path = '/api/v2.0/projects/shop/repositories/web';
      expect((await core.request('PUT', path, { auth: who.guest, body: { description: 'x' } })).status).toBe(403);
      expect((await core.request('PUT', path, { body: { description: 'x' } })).status).toBe(401);
      const tooLong = await core.request('PUT', path, { auth: admin, body: { description: 'x'.repeat(70_000) } });
      expect(tooLong.status).toBe(400);
      const before = (await core.request<Repository>('GET', path, { auth: admin })).body;
      const updated = await core.request('PUT', path, {
        auth: who.developer,
        body: { ...before, description: 'The storefront', name: 'ignored' },
      });
      expect(updated.status).toBe(200);
      const after = (await core.request<Repository>('GET', path, { auth: admin })).body;
      expect(after).toMatchObject({ name: 'shop/web', description: 'The storefront' });
      expect(Date.parse(after.update_time)).toBeGreaterThan(Date.parse(before.update_time));
      const audit = await fx.dataSource.query<{ operation: string; username: string; project_id: number }[]>(
        `SELECT operation, username, project_id FROM audit_log WHERE resource_type = 'repository' AND resource = 'shop/web'`,
      );
      expect(audit).toEqual([{ operation: 'update', username: 'developer', project_id: shop.projectId }]);
    });
  });

  describe('deleting', () => {
    it('refuses those who may not delete', async () => {
      const path = '/api/v2.0/projects/shop/repositories/web';
      expect((await core.request('DELETE', path, { auth: who.developer })).status).toBe(403);
      expect((await core.request('DELETE', path, { auth: who.outsider })).status).toBe(403);
      expect((await core.request('DELETE', path)).status).toBe(401);
      expect((await core.request('DELETE', '/api/v2.0/projects/open/repositories/tool')).status).toBe(401);
    });

    it('deletes a repository with every artifact and tag, and the registry forgets it', async () => {
      const token = await fx.token(admin, 'repository:shop/web:pull');
      const tags = () =>
        core.request<{ tags: string[] }>('GET', '/v2/shop/web/tags/list', {
          headers: { authorization: `Bearer ${token}` },
        });
      expect((await tags()).body.tags.sort()).toEqual(['multi', 'v1']);
      const usageBefore = await fx.dataSource.query<{ used_storage: string }[]>(
        `SELECT used_storage FROM quota WHERE project_id = $1`,
        [shop.projectId],
      );

      const response = await core.request('DELETE', '/api/v2.0/projects/shop/repositories/web', {
        auth: who.maintainer,
      });
      expect(response.status).toBe(200);
      expect((await core.request('GET', '/api/v2.0/projects/shop/repositories/web', { auth: admin })).status).toBe(404);
      expect(names((await list('/api/v2.0/projects/shop/repositories', admin)).body)).toEqual(['shop/team/api']);
      expect(await fx.registry.repositoryExists('shop/web')).toBe(false);
      expect(await fx.registry.getManifest('shop/web', webV1.digest, true, false)).toBeNull();

      const events = await fx.dataSource.query<{ payload: { digest: string; actor: string } }[]>(
        `SELECT payload FROM event_outbox WHERE type = 'DELETE_ARTIFACT' AND payload->>'repository' = 'shop/web'`,
      );
      expect(events).toHaveLength(3);
      expect(events.map((e) => e.payload.actor)).toEqual(['maintainer', 'maintainer', 'maintainer']);
      const audit = await fx.dataSource.query<{ operation: string; username: string }[]>(
        `SELECT operation, username FROM audit_log WHERE resource_type = 'repository' AND operation = 'delete'`,
      );
      expect(audit).toEqual([{ operation: 'delete', username: 'maintainer' }]);
      const usageAfter = await fx.dataSource.query<{ used_storage: string }[]>(
        `SELECT used_storage FROM quota WHERE project_id = $1`,
        [shop.projectId],
      );
      expect(Number(usageAfter[0].used_storage)).toBeLessThan(Number(usageBefore[0].used_storage));

      let status = 0;
      for (let attempt = 0; attempt < 50; attempt++) {
        status = (await tags()).status;
        if (status === 404) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(status).toBe(404);
      expect((await core.request('DELETE', '/api/v2.0/projects/shop/repositories/web', { auth: admin })).status).toBe(
        404,
      );
    });

    it('lets the repository be pushed again after its deletion', async () => {
      const image = await fx.image('shop/web', { tag: 'v2' });
      const response = await core.request<Repository>('GET', '/api/v2.0/projects/shop/repositories/web', {
        auth: admin,
      });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ artifact_count: 1, description: '', pull_count: 0 });
      const artifacts = await core.request<{ digest: string }[]>(
        'GET',
        '/api/v2.0/projects/shop/repositories/web/artifacts',
        { auth: admin },
      );
      expect(artifacts.body.map((a) => a.digest)).toEqual([image.digest]);
    });
  });
});
