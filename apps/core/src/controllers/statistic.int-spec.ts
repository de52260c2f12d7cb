import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ProjectRole } from '@wharf/auth';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type Credentials, type TestCore, startTestCore } from '../testing/test-core.js';
import { type Fixtures, fixtures } from '../testing/audit-log-fixtures.js';

interface Statistic {
  private_project_count: number;
  private_repo_count: number;
  public_project_count: number;
  public_repo_count: number;
  total_project_count: number;
  total_repo_count: number;
  total_storage_consumption: number;
}

// Each request checks a password with scrypt; on a busy machine a few of them take seconds.
jest.setTimeout(60_000);

describe('GET /statistics', () => {
  let core: TestCore;
  let fx: Fixtures;
  let contract: HarborContract;
  /** What the server holds before this test adds anything (a default project, …). */
  let baseline: Statistic;
  let member: Credentials;
  let outsider: Credentials;
  let robot: Credentials;

  const statistics = async (auth?: Credentials) => {
    const response = await core.request<Statistic>('GET', '/api/v2.0/statistics', { auth });
    if (response.status === 200) contract.assertValid('Statistic', response.body);
    return response;
  };

  beforeAll(async () => {
    core = await startTestCore();
    fx = fixtures(core);
    contract = await harborContract();
    baseline = (await statistics(core.admin)).body;

    const memberUser = await fx.user('member');
    member = memberUser.credentials;
    outsider = (await fx.user('outsider')).credentials;
    const pub1 = await fx.project('pub1', { public: true });
    await fx.project('pub2', { public: true });
    const priv1 = await fx.project('priv1');
    const priv2 = await fx.project('priv2');
    await fx.member(priv1, memberUser.userId, ProjectRole.Guest);
    await fx.member(pub1, memberUser.userId, ProjectRole.Developer);
    robot = await fx.robot('reader', [['project', 'priv2', 'repository', 'pull']], { projectId: priv2, name: 'priv2' });

    const pushes: [string, number][] = [
      ['pub1/a', 100],
      ['pub1/b', 200],
      ['priv1/a', 300],
      ['priv1/b', 400],
      ['priv1/c', 500],
      ['priv2/a', 600],
    ];
    for (const [repository, layerSize] of pushes) {
      await fx.push(repository, { tag: 'v1', layerSize });
    }
    // A layer that a second repository also holds is stored, and counted, once.
    const [shared] = await fx.dataSource.query<{ digest: string }[]>(
      `SELECT rb.digest FROM registry_repository_blob rb JOIN registry_repository r ON r.id = rb.repository_id
        WHERE r.name = 'pub1/a'`,
    );
    await fx.registry.linkBlob('priv2/a', shared.digest, 100);
  });

  afterAll(async () => {
    await core.close();
  });

  it('gives the system administrator every count, the totals and the storage used', async () => {
    const response = await statistics(core.admin);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      public_project_count: baseline.public_project_count + 2,
      public_repo_count: baseline.public_repo_count + 2,
      private_project_count: baseline.private_project_count + 2,
      private_repo_count: baseline.private_repo_count + 4,
      total_project_count: baseline.total_project_count + 4,
      total_repo_count: baseline.total_repo_count + 6,
      total_storage_consumption: baseline.total_storage_consumption + 100 + 200 + 300 + 400 + 500 + 600,
    });
  });

  it("counts a member's private projects and every public one, with zero totals", async () => {
    const response = await statistics(member);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      public_project_count: baseline.public_project_count + 2,
      public_repo_count: baseline.public_repo_count + 2,
      private_project_count: 1,
      private_repo_count: 3,
      total_project_count: 0,
      total_repo_count: 0,
      total_storage_consumption: 0,
    });
  });

  it('counts no private project for a user who belongs to none', async () => {
    const response = await statistics(outsider);
    expect(response.body.private_project_count).toBe(0);
    expect(response.body.private_repo_count).toBe(0);
    expect(response.body.public_project_count).toBe(baseline.public_project_count + 2);
  });

  it('counts the projects a robot has permissions in', async () => {
    const response = await statistics(robot);
    expect(response.status).toBe(200);
    expect(response.body.private_project_count).toBe(1);
    expect(response.body.private_repo_count).toBe(1);
    expect(response.body.total_project_count).toBe(0);
  });

  it('refuses anonymous callers', async () => {
    const response = await statistics();
    expect(response.status).toBe(401);
  });
});
