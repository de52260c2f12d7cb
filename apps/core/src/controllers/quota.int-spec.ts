import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ProjectRole } from '@wharf/auth';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type Credentials, type TestCore, type TestResponse, startTestCore } from '../testing/test-core.js';
import { type ProjectFixtures, type TestUser, projectFixtures, randomDigest } from '../testing/project-fixtures.js';

interface Quota {
  id: number;
  ref: { id: number; name: string; owner_name?: string };
  hard: { storage: number };
  used: { storage: number };
  creation_time: string;
  update_time: string;
}

interface ErrorBody {
  errors: { code: string; message: string }[];
}

// A real server, PostgreSQL and password hashing on every request: slower than a unit test.
jest.setTimeout(60_000);

describe('quotas API', () => {
  let core: TestCore;
  let fx: ProjectFixtures;
  let contract: HarborContract;
  let owner: TestUser;
  const projects: Record<string, number> = {};

  function api<T = unknown>(
    method: string,
    path: string,
    auth?: Credentials,
    body?: unknown,
  ): Promise<TestResponse<T>> {
    return core.request<T>(method, `/api/v2.0${path}`, { auth, body });
  }

  function message(response: TestResponse): string {
    return (response.body as ErrorBody).errors[0]?.message ?? '';
  }

  async function quotaOf(name: string): Promise<Quota> {
    const response = await api<Quota[]>('GET', `/quotas?reference=project&reference_id=${projects[name]}`, core.admin);
    expect(response.body).toHaveLength(1);
    return response.body[0];
  }

  beforeAll(async () => {
    core = await startTestCore();
    fx = projectFixtures(core);
    contract = await harborContract();
    owner = await fx.user('quinn');
    for (const [name, limit] of [
      ['small', 1000],
      ['large', 1_000_000],
      ['open', -1],
    ] as const) {
      const response = await api('POST', '/projects', core.admin, { project_name: name, storage_limit: limit });
      expect(response.status).toBe(201);
      projects[name] = Number(/(\d+)$/.exec(response.headers.get('location') ?? '')?.[1]);
      await fx.member(projects[name], owner.userId, ProjectRole.ProjectAdmin);
    }
  });

  afterAll(async () => {
    await core.close();
  });

  describe('usage', () => {
    it('counts each manifest and layer once per project, as pushes and deletes change them', async () => {
      const shared = { digest: randomDigest(), size: 300 };
      const own = { digest: randomDigest(), size: 50 };
      const app = await fx.repository('small/app');
      const web = await fx.repository('small/web');

      const first = await fx.manifest(app, 10, [shared]);
      expect((await quotaOf('small')).used.storage).toBe(310);
      // The same layer in another repository of the project costs nothing more.
      const second = await fx.manifest(web, 20, [shared, own]);
      expect((await quotaOf('small')).used.storage).toBe(380);
      // Another project pays for its own copy.
      const other = await fx.manifest(await fx.repository('large/app'), 5, [shared]);
      expect((await quotaOf('large')).used.storage).toBe(305);

      await fx.deleteManifest(first);
      expect((await quotaOf('small')).used.storage).toBe(370);
      await fx.deleteManifest(second);
      expect((await quotaOf('small')).used.storage).toBe(0);
      await fx.deleteManifest(other);
      expect((await quotaOf('large')).used.storage).toBe(0);

      // Usage again for the sorting below: small uses 40, large 10, open 0.
      await fx.manifest(app, 40, []);
      await fx.manifest(await fx.repository('large/db'), 10, []);
      const summary = await api<{ quota: Quota }>('GET', `/projects/small/summary`, owner);
      expect(summary.body.quota).toEqual({ hard: { storage: 1000 }, used: { storage: 40 } });
    });
  });

  describe('listing and reading', () => {
    it('lists every project quota in Harbor shape, newest first', async () => {
      const response = await api<Quota[]>('GET', '/quotas', core.admin);
      expect(response.status).toBe(200);
      for (const quota of response.body) contract.assertValid('Quota', quota);
      expect(response.body.map((q) => q.ref.name)).toEqual(['open', 'large', 'small']);
      expect(response.headers.get('x-total-count')).toBe('3');
      expect(response.body[2]).toMatchObject({
        ref: { id: projects.small, name: 'small', owner_name: 'admin' },
        hard: { storage: 1000 },
        used: { storage: 40 },
      });
    });

    it('sorts by hard and used storage, unlimited above every limit', async () => {
      const names = async (sort: string): Promise<string[]> =>
        (await api<Quota[]>('GET', `/quotas?sort=${sort}`, core.admin)).body.map((q) => q.ref.name);
      expect(await names('hard.storage')).toEqual(['small', 'large', 'open']);
      expect(await names('-hard.storage')).toEqual(['open', 'large', 'small']);
      expect(await names('-used.storage')).toEqual(['small', 'large', 'open']);
      expect((await api('GET', '/quotas?sort=size', core.admin)).status).toBe(400);
    });

    it('filters by reference and pages', async () => {
      expect((await api<Quota[]>('GET', '/quotas?reference=artifact', core.admin)).body).toEqual([]);
      expect((await api<Quota[]>('GET', '/quotas?reference_id=abc', core.admin)).body).toEqual([]);
      // Past the largest project id there is: nothing, as for any id no project has.
      for (const id of ['2147483648', '9999999999']) {
        const beyond = await api<Quota[]>('GET', `/quotas?reference=project&reference_id=${id}`, core.admin);
        expect([id, beyond.status, beyond.body]).toEqual([id, 200, []]);
      }
      const page = await api<Quota[]>('GET', '/quotas?page=2&page_size=2', core.admin);
      expect(page.body.map((q) => q.ref.name)).toEqual(['small']);
      expect(page.headers.get('x-total-count')).toBe('3');
      expect(page.headers.get('link')).toContain('rel="prev"');
    });

    it('reads one quota by id', async () => {
      const { id } = await quotaOf('large');
      const response = await api<Quota>('GET', `/quotas/${id}`, core.admin);
      expect(response.status).toBe(200);
      contract.assertValid('Quota', response.body);
      expect(response.body).toMatchObject({ id, ref: { name: 'large' }, hard: { storage: 1_000_000 } });
      expect((await api('GET', '/quotas/999999', core.admin)).status).toBe(404);
      expect((await api('GET', '/quotas/zero', core.admin)).status).toBe(400);
    });

    it('is for system administrators and robots granted quota access only', async () => {
      const { id } = await quotaOf('small');
      expect((await api('GET', '/quotas', owner)).status).toBe(403);
      expect((await api('GET', `/quotas/${id}`, owner)).status).toBe(403);
      expect((await api('GET', '/quotas')).status).toBe(401);
      const robot = await fx.robot('quota-reader', [
        ['system', '/', 'quota', 'list'],
        ['system', '/', 'quota', 'read'],
      ]);
      expect((await api('GET', '/quotas', robot)).status).toBe(200);
      expect((await api('GET', `/quotas/${id}`, robot)).status).toBe(200);
      expect((await api('PUT', `/quotas/${id}`, robot, { hard: { storage: 1 } })).status).toBe(403);
    });
  });

  describe('updating', () => {
    it('sets the hard limit and records who did', async () => {
      const { id } = await quotaOf('small');
      expect((await api('PUT', `/quotas/${id}`, core.admin, { hard: { storage: 2048 } })).status).toBe(200);
      const quota = await api<Quota>('GET', `/quotas/${id}`, core.admin);
      expect(quota.body.hard.storage).toBe(2048);
      expect(quota.body.used.storage).toBe(40);
      expect((await api('PUT', `/quotas/${id}`, core.admin, { hard: { storage: -1 } })).status).toBe(200);
      expect((await api('PUT', `/quotas/${id}`, core.admin, { hard: { storage: 0 } })).status).toBe(200);
      expect((await api<Quota>('GET', `/quotas/${id}`, core.admin)).body.hard.storage).toBe(0);
      const audit = await fx.dataSource.query<{ project_id: number; username: string }[]>(
        `SELECT project_id, username FROM audit_log WHERE resource_type = 'quota' AND operation = 'update'`,
      );
      expect(audit).toHaveLength(3);
      expect(audit[0]).toEqual({ project_id: projects.small, username: 'admin' });
    });

    it.each([
      [{ hard: { storage: -2 } }, 'storage'],
      [{ hard: { storage: 1.5 } }, 'storage'],
      [{ hard: { storage: '10' } }, 'storage'],
      [{ hard: { count: 10 } }, 'count'],
      [{ hard: {} }, 'hard'],
      [{}, 'hard'],
    ])('refuses %p, naming %s', async (body, named) => {
      const { id } = await quotaOf('large');
      const response = await api('PUT', `/quotas/${id}`, core.admin, body);
      expect(response.status).toBe(400);
      expect(message(response)).toContain(named);
    });

    it('refuses anyone but system administrators', async () => {
      const { id } = await quotaOf('large');
      expect((await api('PUT', `/quotas/${id}`, owner, { hard: { storage: 5 } })).status).toBe(403);
      expect((await api('PUT', `/quotas/${id}`, undefined, { hard: { storage: 5 } })).status).toBe(401);
      expect((await api('PUT', '/quotas/999999', core.admin, { hard: { storage: 5 } })).status).toBe(404);
      expect((await quotaOf('large')).hard.storage).toBe(1_000_000);
    });
  });
});
