import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ProjectRole } from '@wharf/auth';
import { RegistryClient, imageManifest } from '../registry/testing/registry-fixtures.js';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type Credentials, type TestCore, startTestCore } from '../testing/test-core.js';
import { type ArtifactFixtures, type TestProject, artifactFixtures } from '../testing/artifact-fixtures.js';

interface Rule {
  id: number;
  priority: number;
  disabled: boolean;
  action: string;
  template: string;
  tag_selectors: { kind: string; decoration: string; pattern: string }[];
  scope_selectors: Record<string, { kind: string; decoration: string; pattern: string }[]>;
}

// Each request checks a password with scrypt; on a busy machine a few of them take seconds.
jest.setTimeout(120_000);

function rule(tagPattern: string, repoPattern = '**', decoration = 'matches', repoDecoration = 'repoMatches') {
  return {
    priority: 0,
    disabled: false,
    action: 'immutable',
    template: 'immutable_template',
    tag_selectors: [{ kind: 'doublestar', decoration, pattern: tagPattern }],
    scope_selectors: { repository: [{ kind: 'doublestar', decoration: repoDecoration, pattern: repoPattern }] },
  };
}

const immutableMessage = (repository: string, tag: string) =>
  `Failed to process request due to '${repository}:${tag}' configured as immutable.`;

describe('tag immutability', () => {
  let core: TestCore;
  let fx: ArtifactFixtures;
  let contract: HarborContract;
  let admin: Credentials;
  let vault: TestProject;
  const who = {} as Record<'maintainer' | 'developer' | 'guest', Credentials>;
  const rules = '/api/v2.0/projects/vault/immutabletagrules';

  const addRule = async (body: unknown, auth: Credentials = admin) => {
    const response = await core.request('POST', rules, { auth, body });
    expect(response.status).toBe(201);
    return Number(response.headers.get('location')?.split('/').pop());
  };
  const registry = async (repository: string, actions = 'pull,push,delete') =>
    new RegistryClient(core.url, await fx.token(admin, `repository:${repository}:${actions}`));
  const push = async (client: RegistryClient, repository: string, tag: string) => {
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', n: randomBytes(4).toString('hex') }),
    );
    const layer = randomBytes(32);
    for (const blob of [config, layer]) expect((await client.pushBlob(repository, blob)).status).toBe(201);
    const manifest = imageManifest(config, [layer]);
    return { manifest, response: await client.putManifest(repository, tag, manifest) };
  };

  beforeAll(async () => {
    core = await startTestCore();
    fx = artifactFixtures(core);
    contract = await harborContract();
    admin = core.admin;
    vault = await fx.project('vault');
    for (const [name, role] of [
      ['maintainer', ProjectRole.Maintainer],
      ['developer', ProjectRole.Developer],
      ['guest', ProjectRole.Guest],
    ] as const) {
      const user = await fx.user(name);
      await fx.member(vault.projectId, user.userId, role);
      who[name] = user;
    }
  });

  afterAll(async () => {
    await core?.close();
  });

  describe('rules API', () => {
    it('adds, lists, changes, toggles and deletes rules in Harbor shapes', async () => {
      const id = await addRule(rule('v*', 'app'), who.maintainer);
      const listed = await core.request<Rule[]>('GET', rules, { auth: who.maintainer });
      expect(listed.status).toBe(200);
      expect(listed.headers.get('x-total-count')).toBe('1');
      expect(listed.body).toEqual([{ id, ...rule('v*', 'app') }]);
      for (const item of listed.body) contract.assertValid('ImmutableRule', item);

      const byId = await core.request<Rule[]>('GET', `/api/v2.0/projects/${vault.projectId}/immutabletagrules`, {
        auth: admin,
      });
      expect(byId.body.map((r) => r.id)).toEqual([id]);

      const changed = { id, ...rule('release-*', 'app', 'excludes'), priority: 3 };
      expect((await core.request('PUT', `${rules}/${id}`, { auth: admin, body: changed })).status).toBe(200);
      expect((await core.request<Rule[]>('GET', rules, { auth: admin })).body).toEqual([changed]);

      // A body that toggles the rule changes only that, as Harbor does.
      const toggle = {
        ...changed,
        disabled: true,
        tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: 'x' }],
      };
      expect((await core.request('PUT', `${rules}/${id}`, { auth: admin, body: toggle })).status).toBe(200);
      expect((await core.request<Rule[]>('GET', rules, { auth: admin })).body).toEqual([
        { ...changed, disabled: true },
      ]);

      expect((await core.request('DELETE', `${rules}/${id}`, { auth: admin })).status).toBe(200);
      expect((await core.request('DELETE', `${rules}/${id}`, { auth: admin })).status).toBe(404);
      expect((await core.request<Rule[]>('GET', rules, { auth: admin })).body).toEqual([]);
    });

    it('refuses malformed rules (400), the same selectors twice (409) and more than 15 rules', async () => {
      const bad = [
        { ...rule('v*'), tag_selectors: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: 'v*' }] },
        { ...rule('v*'), tag_selectors: [{ kind: 'label', decoration: 'matches', pattern: 'v*' }] },
        rule('v[', '**'),
        rule('v*', 'app', 'matches', 'matches'),
        { ...rule('v*'), action: 'retain' },
        { ...rule('v*'), template: 'latestPushedK' },
        { ...rule('v*'), tag_selectors: [] },
        { ...rule('v*'), scope_selectors: {} },
        { ...rule('v*'), scope_selectors: { ...rule('v*').scope_selectors, namespace: [] } },
        { ...rule('v*'), priority: 'high' },
      ];
      for (const body of bad) {
        const response = await core.request('POST', rules, { auth: admin, body });
        expect([response.status, body]).toEqual([400, body]);
      }
      expect((await core.request<Rule[]>('GET', rules, { auth: admin })).body).toEqual([]);

      const first = await addRule(rule('dup'));
      const again = await core.request<{ errors: { code: string }[] }>('POST', rules, {
        auth: admin,
        body: rule('dup'),
      });
      expect(again.status).toBe(409);
      const other = await addRule(rule('other'));
      const clash = await core.request('PUT', `${rules}/${other}`, {
        auth: admin,
        body: { id: other, ...rule('dup') },
      });
      expect(clash.status).toBe(409);
      const mismatch = await core.request('PUT', `${rules}/${other}`, {
        auth: admin,
        body: { id: first, ...rule('x') },
      });
      expect(mismatch.status).toBe(400);

      for (let n = 2; n < 15; n++) await addRule(rule(`r${n}`));
      const over = await core.request('POST', rules, { auth: admin, body: rule('one-too-many') });
      expect(over.status).toBe(400);
      const page = await core.request<Rule[]>('GET', `${rules}?page=2&page_size=10`, { auth: admin });
      expect(page.headers.get('x-total-count')).toBe('15');
      expect(page.body).toHaveLength(5);
      for (const item of (await core.request<Rule[]>('GET', `${rules}?page_size=100`, { auth: admin })).body) {
        expect((await core.request('DELETE', `${rules}/${item.id}`, { auth: admin })).status).toBe(200);
      }
    });

    it('lets project admins and maintainers manage rules, and no one else see them', async () => {
      expect((await core.request('GET', rules, { auth: who.developer })).status).toBe(403);
      expect((await core.request('POST', rules, { auth: who.developer, body: rule('x') })).status).toBe(403);
      expect((await core.request('GET', rules, { auth: who.guest })).status).toBe(403);
      expect((await core.request('GET', rules)).status).toBe(401);
      const id = await addRule(rule('elsewhere'));
      // A rule is found only in its own project.
      await fx.project('other');
      expect(
        (await core.request('DELETE', `/api/v2.0/projects/other/immutabletagrules/${id}`, { auth: admin })).status,
      ).toBe(404);
      expect((await core.request('DELETE', `${rules}/${id}`, { auth: admin })).status).toBe(200);
    });
  });

  describe('enforcement', () => {
    it('refuses a push over an immutable tag on /v2 with 412 DENIED, even of the same digest; new tags are free', async () => {
      const client = await registry('vault/locked');
      const first = await push(client, 'vault/locked', 'v1');
      expect(first.response.status).toBe(201);
      const id = await addRule(rule('v*', 'locked'));

      const over = await push(client, 'vault/locked', 'v1');
      expect(over.response.status).toBe(412);
      expect(JSON.parse(over.response.body.toString('utf8'))).toEqual({
        errors: [{ code: 'DENIED', message: immutableMessage('locked', 'v1') }],
      });
      const again = await client.putManifest('vault/locked', 'v1', first.manifest);
      expect(again.status).toBe(412);
      const kept = await client.getManifest('vault/locked', 'v1');
      expect(kept.body.equals(first.manifest)).toBe(true);

      expect((await push(client, 'vault/locked', 'v2')).response.status).toBe(201);
      // Tags the rule does not select, and other repositories, move freely.
      expect((await push(client, 'vault/locked', 'latest')).response.status).toBe(201);
      expect((await push(client, 'vault/locked', 'latest')).response.status).toBe(201);
      const elsewhere = await registry('vault/free');
      expect((await push(elsewhere, 'vault/free', 'v1')).response.status).toBe(201);
      expect((await push(elsewhere, 'vault/free', 'v1')).response.status).toBe(201);

      // Disabled, the rule holds nothing; enabled again, it holds at once.
      const body = { id, ...rule('v*', 'locked') };
      await core.request('PUT', `${rules}/${id}`, { auth: admin, body: { ...body, disabled: true } });
      expect((await push(client, 'vault/locked', 'v2')).response.status).toBe(201);
      await core.request('PUT', `${rules}/${id}`, { auth: admin, body });
      expect((await push(client, 'vault/locked', 'v2')).response.status).toBe(412);
      await core.request('DELETE', `${rules}/${id}`, { auth: admin });
      expect((await push(client, 'vault/locked', 'v2')).response.status).toBe(201);
    });

    it('refuses deleting an immutable tag, or its manifest, on /v2 and on the API alike', async () => {
      const client = await registry('vault/keep');
      const pushed = await push(client, 'vault/keep', 'stable');
      const digest = pushed.response.headers.get('docker-content-digest')!;
      const id = await addRule(rule('stable', 'k*'));

      for (const reference of ['stable', digest]) {
        const deleted = await client.request('DELETE', `/v2/vault/keep/manifests/${reference}`);
        expect(deleted.status).toBe(412);
        expect(JSON.parse(deleted.body.toString('utf8'))).toEqual({
          errors: [{ code: 'DENIED', message: immutableMessage('keep', 'stable') }],
        });
      }
      const base = '/api/v2.0/projects/vault/repositories/keep';
      const tagDelete = await core.request<{ errors: { code: string; message: string }[] }>(
        'DELETE',
        `${base}/artifacts/${digest}/tags/stable`,
        { auth: admin },
      );
      expect(tagDelete.status).toBe(412);
      expect(tagDelete.body.errors[0]).toEqual({ code: 'PRECONDITION', message: immutableMessage('keep', 'stable') });
      const artifactDelete = await core.request('DELETE', `${base}/artifacts/stable`, { auth: admin });
      expect(artifactDelete.status).toBe(412);
      expect((await core.request('DELETE', base, { auth: admin })).status).toBe(412);

      // The tag shows as immutable, and everything is still there.
      const tags = await core.request<{ name: string; immutable: boolean }[]>(
        'GET',
        `${base}/artifacts/${digest}/tags`,
        {
          auth: admin,
        },
      );
      expect(tags.body.map((t) => [t.name, t.immutable])).toEqual([['stable', true]]);
      expect((await client.getManifest('vault/keep', 'stable')).status).toBe(200);

      // Another tag of the same artifact goes; with the rule gone, the rest goes too.
      await core.request('POST', `${base}/artifacts/${digest}/tags`, { auth: admin, body: { name: 'extra' } });
      const listed = await core.request<{ name: string; immutable: boolean }[]>(
        'GET',
        `${base}/artifacts/${digest}/tags`,
        {
          auth: admin,
        },
      );
      expect(listed.body.map((t) => [t.name, t.immutable]).sort()).toEqual([
        ['extra', false],
        ['stable', true],
      ]);
      expect((await client.request('DELETE', '/v2/vault/keep/manifests/extra')).status).toBe(202);
      await core.request('DELETE', `${rules}/${id}`, { auth: admin });
      expect((await core.request('DELETE', `${base}/artifacts/stable`, { auth: admin })).status).toBe(200);
      expect((await client.getManifest('vault/keep', digest)).status).toBe(404);
    });

    it('reports tags as immutable in artifact listings by the same rules', async () => {
      const image = await fx.image('vault/listed', { tag: 'v9' });
      await fx.registry.createTag('vault/listed', 'edge', image.digest);
      const id = await addRule(rule('v*', 'listed'));
      const artifacts = await core.request<{ tags: { name: string; immutable: boolean }[] }[]>(
        'GET',
        '/api/v2.0/projects/vault/repositories/listed/artifacts?with_tag=true',
        { auth: admin },
      );
      expect(artifacts.body[0].tags.map((t) => [t.name, t.immutable]).sort()).toEqual([
        ['edge', false],
        ['v9', true],
      ]);
      await core.request('DELETE', `${rules}/${id}`, { auth: admin });
    });
  });
});
