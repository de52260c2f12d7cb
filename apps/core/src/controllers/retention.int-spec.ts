import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ProjectRole } from '@wharf/auth';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type ProjectFixtures, type TestUser, projectFixtures } from '../testing/project-fixtures.js';
import { type Credentials, type TestCore, type TestResponse, startTestCore } from '../testing/test-core.js';

interface ErrorBody {
  errors: { code: string; message: string }[];
}

interface Policy {
  id: number;
  algorithm: string;
  rules: Record<string, unknown>[];
  trigger: { kind: string; settings: { cron: string }; references: Record<string, unknown> };
  scope: { level: string; ref: number };
}

// A real server and PostgreSQL, password hashing on every request.
jest.setTimeout(60_000);

function rule(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    disabled: false,
    action: 'retain',
    template: 'latestPushedK',
    params: { latestPushedK: 10 },
    tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: '**', extras: '{"untagged":true}' }],
    scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] },
    ...overrides,
  };
}

function policy(projectId: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    algorithm: 'or',
    rules: [rule()],
    trigger: { kind: 'Schedule', settings: { cron: '0 0 0 * * *' }, references: {} },
    scope: { level: 'project', ref: projectId },
    ...overrides,
  };
}

describe('retention policies API', () => {
  let core: TestCore;
  let fx: ProjectFixtures;
  let contract: HarborContract;
  let maintainer: TestUser;
  let developer: TestUser;
  let guest: TestUser;
  let stranger: TestUser;
  let counter = 0;

  function api<T = unknown>(method: string, path: string, auth?: Credentials, body?: unknown) {
    return core.request<T>(method, `/api/v2.0${path}`, { auth, body });
  }

  function message(response: TestResponse): string {
    return (response.body as ErrorBody).errors[0]?.message ?? '';
  }

  /** A new project where the fixture users hold their roles. */
  async function project(): Promise<number> {
    const response = await api('POST', '/projects', core.admin, { project_name: `retention-${++counter}` });
    expect(response.status).toBe(201);
    const id = Number(response.headers.get('location')?.split('/').pop());
    await fx.member(id, maintainer.userId, ProjectRole.Maintainer);
    await fx.member(id, developer.userId, ProjectRole.Developer);
    await fx.member(id, guest.userId, ProjectRole.Guest);
    return id;
  }

  async function retentionIdOf(projectId: number): Promise<string | undefined> {
    const response = await api<{ metadata: Record<string, string> }>('GET', `/projects/${projectId}`, core.admin);
    return response.body.metadata.retention_id;
  }

  async function create(projectId: number, body = policy(projectId), auth: Credentials = core.admin) {
    const response = await api('POST', '/retentions', auth, body);
    expect(response.status).toBe(201);
    return Number(response.headers.get('location')?.split('/').pop());
  }

  beforeAll(async () => {
    core = await startTestCore();
    fx = projectFixtures(core);
    contract = await harborContract();
    maintainer = await fx.user('ret-maintainer');
    developer = await fx.user('ret-developer');
    guest = await fx.user('ret-guest');
    stranger = await fx.user('ret-stranger');
  });

  afterAll(async () => {
    await core.close();
  });

  it("describes Harbor's templates and selectors to any signed-in caller", async () => {
    const response = await api<{ templates: { rule_template: string; params: unknown[] }[] }>(
      'GET',
      '/retentions/metadatas',
      stranger,
    );
    expect(response.status).toBe(200);
    contract.assertValid('RetentionMetadata', response.body);
    expect(response.body.templates.map((t) => t.rule_template)).toEqual([
      'latestPushedK',
      'latestPulledN',
      'nDaysSinceLastPush',
      'nDaysSinceLastPull',
      'always',
    ]);
    expect(response.body).toMatchObject({
      scope_selectors: [{ kind: 'doublestar', decorations: ['repoMatches', 'repoExcludes'] }],
      tag_selectors: [{ kind: 'doublestar', decorations: ['matches', 'excludes'] }],
    });
    expect((await api('GET', '/retentions/metadatas')).status).toBe(401);
  });

  it('creates the policy of a project, names it in the project metadata and answers it in Harbor’s shape', async () => {
    const projectId = await project();
    const response = await api('POST', '/retentions', maintainer, policy(projectId));
    expect(response.status).toBe(201);
    const location = response.headers.get('location') ?? '';
    expect(location).toMatch(/^\/api\/v2\.0\/retentions\/[0-9]+$/);
    const id = Number(location.split('/').pop());
    expect(await retentionIdOf(projectId)).toBe(String(id));

    const got = await api<Policy>('GET', `/retentions/${id}`, developer);
    expect(got.status).toBe(200);
    // The contract calls each parameter an object; Harbor itself answers the numbers its rules hold.
    contract.assertValid('RetentionPolicy', { ...got.body, rules: got.body.rules.map((r) => ({ ...r, params: {} })) });
    expect(got.body).toEqual({
      id,
      algorithm: 'or',
      rules: [
        {
          id: 1,
          priority: 0,
          disabled: false,
          action: 'retain',
          template: 'latestPushedK',
          params: { latestPushedK: 10 },
          tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: '**', extras: '{"untagged":true}' }],
          scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] },
        },
      ],
      trigger: { kind: 'Schedule', settings: { cron: '0 0 0 * * *' }, references: {} },
      scope: { level: 'project', ref: projectId },
    });
  });

  it('accepts the empty policy the portal starts with', async () => {
    const projectId = await project();
    const id = await create(
      projectId,
      policy(projectId, { rules: [], trigger: { kind: 'Schedule', settings: { cron: '' } } }),
    );
    const got = await api<Policy>('GET', `/retentions/${id}`, core.admin);
    expect(got.body.rules).toEqual([]);
    expect(got.body.trigger.settings.cron).toBe('');
  });

  it('refuses a second policy for a project, and a project that does not exist', async () => {
    const projectId = await project();
    const first = await create(projectId);
    const second = await api('POST', '/retentions', core.admin, policy(projectId));
    expect(second.status).toBe(400);
    expect(message(second)).toContain(`already has retention policy ${first}`);
    expect(await retentionIdOf(projectId)).toBe(String(first));

    const missing = await api('POST', '/retentions', core.admin, policy(999_999));
    expect(missing.status).toBe(400);
    expect(message(missing)).toContain('invalid project id 999999');
    // Others are not told whether a project exists.
    expect((await api('POST', '/retentions', maintainer, policy(999_999))).status).toBe(403);
  });

  it.each<[string, (projectId: number) => Record<string, unknown>, RegExp]>([
    [
      'more than 15 rules',
      (p) => policy(p, { rules: Array.from({ length: 16 }, (_, i) => rule({ params: { latestPushedK: i } })) }),
      /15 rules/,
    ],
    [
      'an unknown template',
      (p) => policy(p, { rules: [rule({ template: 'latestActiveK', params: { latestActiveK: 1 } })] }),
      /template/,
    ],
    ['a template without its number', (p) => policy(p, { rules: [rule({ params: {} })] }), /needs its number/],
    ['a negative number', (p) => policy(p, { rules: [rule({ params: { latestPushedK: -1 } })] }), /whole number/],
    ['a count too large', (p) => policy(p, { rules: [rule({ params: { latestPushedK: 32767 } })] }), /from 0 to 32766/],
    [
      'a fractional number of days',
      (p) => policy(p, { rules: [rule({ template: 'nDaysSinceLastPush', params: { nDaysSinceLastPush: 1.5 } })] }),
      /whole number/,
    ],
    ['a number given as text', (p) => policy(p, { rules: [rule({ params: { latestPushedK: '3' } })] }), /whole number/],
    [
      'a parameter of another template',
      (p) => policy(p, { rules: [rule({ params: { latestPushedK: 1, latestPulledN: 2 } })] }),
      /not a parameter/,
    ],
    [
      'a parameter for always',
      (p) => policy(p, { rules: [rule({ template: 'always', params: { always: 1 } })] }),
      /not a parameter/,
    ],
    ['an action other than retain', (p) => policy(p, { rules: [rule({ action: 'delete' })] }), /retain/],
    ['an algorithm other than or', (p) => policy(p, { algorithm: 'and' }), /"or"/],
    [
      'a malformed tag pattern',
      (p) =>
        policy(p, {
          rules: [rule({ tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: 'v[1-' }] })],
        }),
      /invalid pattern/,
    ],
    [
      'a malformed repository pattern',
      (p) =>
        policy(p, {
          rules: [
            rule({
              scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '{a,b' }] },
            }),
          ],
        }),
      /invalid pattern/,
    ],
    [
      'an empty pattern',
      (p) =>
        policy(p, { rules: [rule({ tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: '' }] })] }),
      /empty/,
    ],
    [
      'a tag decoration on a repository',
      (p) =>
        policy(p, {
          rules: [
            rule({ scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'matches', pattern: '**' }] } }),
          ],
        }),
      /repoMatches/,
    ],
    [
      'a selector of another kind',
      (p) =>
        policy(p, { rules: [rule({ tag_selectors: [{ kind: 'label', decoration: 'withLabels', pattern: 'x' }] })] }),
      /doublestar/,
    ],
    ['no tag selector', (p) => policy(p, { rules: [rule({ tag_selectors: [] })] }), /tag selector/],
    [
      'extras that are not JSON',
      (p) =>
        policy(p, {
          rules: [
            rule({ tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: '**', extras: 'untagged' }] }),
          ],
        }),
      /untagged/,
    ],
    [
      'extras with another option',
      (p) =>
        policy(p, {
          rules: [
            rule({
              tag_selectors: [
                { kind: 'doublestar', decoration: 'matches', pattern: '**', extras: '{"untagged":"yes"}' },
              ],
            }),
          ],
        }),
      /untagged/,
    ],
    [
      'project selectors in a project policy',
      (p) => policy(p, { rules: [rule({ scope_selectors: { project: [] } })] }),
      /repository/,
    ],
    [
      'a schedule with a second',
      (p) => policy(p, { trigger: { kind: 'Schedule', settings: { cron: '30 0 0 * * *' } } }),
      /second field must be 0/,
    ],
    [
      'a five-field schedule',
      (p) => policy(p, { trigger: { kind: 'Schedule', settings: { cron: '0 0 * * *' } } }),
      /6 fields/,
    ],
    [
      'a schedule out of range',
      (p) => policy(p, { trigger: { kind: 'Schedule', settings: { cron: '0 0 25 * * *' } } }),
      /hour/,
    ],
    ['another trigger kind', (p) => policy(p, { trigger: { kind: 'Event', settings: {} } }), /Schedule/],
    ['a system-level scope', (p) => ({ ...policy(p), scope: { level: 'system', ref: 0 } }), /project/],
  ])('refuses %s and stores nothing', async (_name, body, reason) => {
    const projectId = await project();
    const response = await api('POST', '/retentions', core.admin, body(projectId));
    expect(response.status).toBe(400);
    expect(message(response)).toMatch(reason);
    expect(await retentionIdOf(projectId)).toBeUndefined();
  });

  it('refuses two rules alike but for their id as a conflict', async () => {
    const projectId = await project();
    const response = await api(
      'POST',
      '/retentions',
      core.admin,
      policy(projectId, { rules: [rule({ id: 1 }), rule({ id: 2 })] }),
    );
    expect(response.status).toBe(409);
    expect(message(response)).toContain('rule 1 is the same as rule 0');
    expect(await retentionIdOf(projectId)).toBeUndefined();
  });

  it('lets project admins, maintainers and developers manage policies, and nobody else', async () => {
    for (const who of [guest, stranger]) {
      const projectId = await project();
      const response = await api('POST', '/retentions', who, policy(projectId));
      expect(response.status).toBe(403);
      expect(await retentionIdOf(projectId)).toBeUndefined();
    }
    const projectId = await project();
    const id = await create(projectId, policy(projectId), developer);
    expect((await api('GET', `/retentions/${id}`, guest)).status).toBe(403);
    expect((await api('GET', `/retentions/${id}`, stranger)).status).toBe(403);
    expect((await api('GET', `/retentions/${id}`)).status).toBe(401);
    expect((await api('PUT', `/retentions/${id}`, guest, policy(projectId, { rules: [] }))).status).toBe(403);
    expect((await api('DELETE', `/retentions/${id}`, stranger)).status).toBe(403);
    expect((await api<Policy>('GET', `/retentions/${id}`, core.admin)).body.rules).toHaveLength(1);
  });

  it('replaces the rules and trigger of a policy, and keeps it in its project', async () => {
    const projectId = await project();
    const id = await create(projectId);
    const changed = policy(projectId, {
      rules: [
        rule({
          template: 'always',
          params: {},
          tag_selectors: [{ kind: 'doublestar', decoration: 'excludes', pattern: 'tmp-*' }],
        }),
        rule({ id: 7, disabled: true, template: 'nDaysSinceLastPull', params: { nDaysSinceLastPull: 30 } }),
      ],
      trigger: { kind: 'Schedule', settings: { cron: '0 0 3 * * SUN' } },
    });
    const response = await api('PUT', `/retentions/${id}`, maintainer, changed);
    expect(response.status).toBe(200);
    const got = await api<Policy>('GET', `/retentions/${id}`, maintainer);
    expect(got.body.trigger.settings.cron).toBe('0 0 3 * * SUN');
    expect(got.body.rules.map((r) => [r.id, r.template, r.disabled])).toEqual([
      [1, 'always', false],
      [7, 'nDaysSinceLastPull', true],
    ]);

    const other = await project();
    const moved = await api('PUT', `/retentions/${id}`, core.admin, policy(other));
    expect(moved.status).toBe(400);
    const invalid = await api('PUT', `/retentions/${id}`, core.admin, policy(projectId, { algorithm: 'and' }));
    expect(invalid.status).toBe(400);
    expect((await api<Policy>('GET', `/retentions/${id}`, core.admin)).body).toEqual(got.body);
    expect((await api('PUT', '/retentions/999999', core.admin, policy(projectId))).status).toBe(404);
  });

  it('deletes a policy and unbinds it from its project, which may then have a new one', async () => {
    const projectId = await project();
    const id = await create(projectId);
    expect((await api('DELETE', `/retentions/${id}`, maintainer)).status).toBe(200);
    expect((await api('GET', `/retentions/${id}`, core.admin)).status).toBe(404);
    expect(await retentionIdOf(projectId)).toBeUndefined();
    expect((await api('DELETE', `/retentions/${id}`, core.admin)).status).toBe(404);
    await create(projectId);
  });

  it('deletes the policy with its project', async () => {
    const projectId = await project();
    const id = await create(projectId);
    expect((await api('DELETE', `/projects/${projectId}`, core.admin)).status).toBe(200);
    expect((await api('GET', `/retentions/${id}`, core.admin)).status).toBe(404);
  });

  it('refuses an id that is not a number', async () => {
    expect((await api('GET', '/retentions/abc', core.admin)).status).toBe(400);
  });
});
