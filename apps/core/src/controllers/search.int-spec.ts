import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ProjectRole } from '@wharf/auth';
import { OutboxConsumerService } from '../services/outbox-consumer.service.js';
import { SEARCH_LIMIT } from '../services/search.service.js';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type Credentials, type TestCore, startTestCore } from '../testing/test-core.js';
import { type Fixtures, fixtures } from '../testing/audit-log-fixtures.js';

interface SearchResult {
  project: {
    project_id: number;
    name: string;
    owner_id?: number;
    owner_name?: string;
    repo_count: number;
    current_user_role_id?: number;
    current_user_role_ids?: number[];
    metadata: Record<string, string>;
    creation_time: string;
  }[];
  repository: {
    project_id: number;
    project_name: string;
    project_public: boolean;
    repository_name: string;
    pull_count: number;
    artifact_count: number;
  }[];
}

// Each request checks a password with scrypt; on a busy machine a few of them take seconds.
jest.setTimeout(60_000);

describe('GET /search', () => {
  let core: TestCore;
  let fx: Fixtures;
  let contract: HarborContract;
  let member: Credentials;
  let robot: Credentials;
  let ownerId: number;
  let alphaPublicId: number;
  let alphaPrivateId: number;

  const search = async (q: string | undefined, auth?: Credentials) => {
    const query = q === undefined ? '' : `?q=${encodeURIComponent(q)}`;
    const response = await core.request<SearchResult>('GET', `/api/v2.0/search${query}`, { auth });
    if (response.status === 200) contract.assertValid('Search', response.body);
    return response;
  };
  const projectNames = (result: SearchResult) => result.project.map((p) => p.name);
  const repositoryNames = (result: SearchResult) => result.repository.map((r) => r.repository_name);

  beforeAll(async () => {
    core = await startTestCore();
    fx = fixtures(core);
    contract = await harborContract();
    const owner = await fx.user('owner');
    ownerId = owner.userId;
    const memberUser = await fx.user('member');
    member = memberUser.credentials;
    alphaPublicId = await fx.project('alpha-public', { public: true, ownerId });
    alphaPrivateId = await fx.project('alpha-private', { ownerId });
    const betaPrivateId = await fx.project('beta-private');
    await fx.member(alphaPrivateId, memberUser.userId, ProjectRole.Maintainer);
    await fx.dataSource.query(
      `INSERT INTO project_metadata (project_id, name, value) VALUES ($1, 'auto_scan', 'true'), ($1, 'internal_note', 'x')`,
      [alphaPublicId],
    );
    robot = await fx.robot('ci', [['project', 'beta-private', 'repository', 'pull']], {
      projectId: betaPrivateId,
      name: 'beta-private',
    });

    const web = await fx.push('alpha-public/web', { tag: 'v1' });
    await fx.push('alpha-public/web', { tag: 'v2' });
    await fx.push('alpha-private/web-api', { tag: 'v1' });
    await fx.push('beta-private/web-db', { tag: 'v1' });
    await fx.registry.recordEvents([
      { type: 'PULL_ARTIFACT', repository: 'alpha-public/web', digest: web, tag: 'v1', count: 7 },
    ]);
    await core.server.app.get(OutboxConsumerService).drain();
  });

  afterAll(async () => {
    await core.close();
  });

  it('shows anonymous callers public projects and their repositories, with counts', async () => {
    const response = await search('alpha');
    expect(response.status).toBe(200);
    expect(response.body.project).toEqual([
      {
        project_id: alphaPublicId,
        name: 'alpha-public',
        owner_id: ownerId,
        owner_name: 'owner',
        creation_time: expect.any(String),
        update_time: expect.any(String),
        deleted: false,
        repo_count: 1,
        metadata: { public: 'true', auto_scan: 'true' },
      },
    ]);
    expect(response.body.repository).toEqual([
      {
        project_id: alphaPublicId,
        project_name: 'alpha-public',
        project_public: true,
        repository_name: 'alpha-public/web',
        pull_count: 7,
        artifact_count: 2,
      },
    ]);
  });

  it("adds a member's private projects, with the member's role", async () => {
    const response = await search('alpha', member);
    expect(projectNames(response.body)).toEqual(['alpha-private', 'alpha-public']);
    const [alphaPrivate, alphaPublic] = response.body.project;
    expect(alphaPrivate.current_user_role_id).toBe(ProjectRole.Maintainer);
    expect(alphaPrivate.current_user_role_ids).toEqual([ProjectRole.Maintainer]);
    expect(alphaPrivate.metadata).toEqual({ public: 'false' });
    expect(alphaPublic.current_user_role_id).toBeUndefined();
    expect(repositoryNames(response.body)).toEqual(['alpha-private/web-api', 'alpha-public/web']);
  });

  it('shows the system administrator everything that matches, in any case', async () => {
    const response = await search('WEB', core.admin);
    expect(repositoryNames(response.body)).toEqual([
      'alpha-private/web-api',
      'alpha-public/web',
      'beta-private/web-db',
    ]);
    expect(projectNames(response.body)).toEqual([]);
    expect(projectNames((await search('private', core.admin)).body)).toEqual(['alpha-private', 'beta-private']);
  });

  it('shows a robot the projects it has permissions in', async () => {
    const response = await search('beta', robot);
    expect(projectNames(response.body)).toEqual(['beta-private']);
    expect(repositoryNames(response.body)).toEqual(['beta-private/web-db']);
    expect(projectNames((await search('alpha', robot)).body)).toEqual(['alpha-public']);
  });

  it('matches LIKE wildcards literally', async () => {
    const response = await search('%', core.admin);
    expect(response.body).toEqual({ project: [], repository: [] });
    expect((await search('alpha_public', core.admin)).body.project).toEqual([]);
  });

  it('answers at most the first hundred projects by name', async () => {
    await fx.dataSource.query(
      `WITH p AS (INSERT INTO project (name) SELECT 'many-' || lpad(i::text, 3, '0') FROM generate_series(1, $1) i
                  RETURNING project_id)
       INSERT INTO project_metadata (project_id, name, value) SELECT project_id, 'public', 'true' FROM p`,
      [SEARCH_LIMIT + 5],
    );
    const response = await search('many-');
    expect(response.body.project.length).toBe(SEARCH_LIMIT);
    expect(response.body.project[0].name).toBe('many-001');
    expect(response.body.project[SEARCH_LIMIT - 1].name).toBe(`many-${String(SEARCH_LIMIT).padStart(3, '0')}`);
  });

  it('requires q', async () => {
    const response = await core.request<{ errors: { code: string; message: string }[] }>('GET', '/api/v2.0/search');
    expect(response.status).toBe(400);
    expect(response.body.errors[0].message).toContain('q');
  });
});
