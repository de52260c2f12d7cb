import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ProjectRole } from '@wharf/auth';
import { MediaType } from '@wharf/oci';
import { OutboxConsumerService } from '../services/outbox-consumer.service.js';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type Credentials, type TestCore, startTestCore } from '../testing/test-core.js';
import {
  type ArtifactFixtures,
  type Pushed,
  type TestProject,
  artifactFixtures,
} from '../testing/artifact-fixtures.js';

interface Tag {
  id: number;
  repository_id: number;
  artifact_id: number;
  name: string;
  push_time: string;
  pull_time: string;
  immutable: boolean;
}

interface Artifact {
  id: number;
  type: string;
  media_type: string;
  manifest_media_type: string;
  artifact_type?: string;
  project_id: number;
  repository_id: number;
  repository_name: string;
  digest: string;
  size: number;
  push_time: string;
  pull_time: string;
  extra_attrs?: Record<string, unknown>;
  annotations?: Record<string, string>;
  references?: {
    parent_id: number;
    child_id: number;
    child_digest: string;
    platform?: Record<string, unknown>;
  }[];
  tags?: Tag[];
  addition_links?: Record<string, { href: string; absolute: boolean }>;
  labels?: unknown[];
  accessories?: { artifact_id: number; subject_artifact_id: number; digest: string; type: string; size: number }[];
}

interface OutboxEvent {
  type: string;
  payload: { repository: string; digest: string; tag?: string; actor?: string };
}

const ZERO_TIME = '0001-01-01T00:00:00.000Z';
const COSIGN = 'application/vnd.dev.cosign.artifact.sig.v1+json';

// Each request checks a password with scrypt; on a busy machine a few of them take seconds.
jest.setTimeout(120_000);

describe('artifact and tag API', () => {
  let core: TestCore;
  let fx: ArtifactFixtures;
  let contract: HarborContract;
  let shop: TestProject;
  let admin: Credentials;
  const who = {} as Record<
    'projectAdmin' | 'maintainer' | 'developer' | 'guest' | 'limitedGuest' | 'outsider' | 'readRobot',
    Credentials
  >;
  // shop/app: image `web` (tags v1, latest) with a signature, image `worker` (untagged), index `multi` of two
  // untagged platform images.
  let web: Pushed;
  let worker: Pushed;
  let amd64: Pushed;
  let arm64: Pushed;
  let multi: Pushed;
  let signature: Pushed;

  const base = '/api/v2.0/projects/shop/repositories/app/artifacts';
  const get = <T = Artifact>(path: string, auth: Credentials | undefined = admin) =>
    core.request<T>('GET', path, { auth });
  /** Harbor's definition types extra_attrs values as objects, while Harbor itself answers strings there. */
  const assertArtifact = (artifact: Artifact) => {
    const { extra_attrs: _ignored, ...rest } = artifact;
    contract.assertValid('Artifact', rest);
    for (const tag of artifact.tags ?? []) contract.assertValid('Tag', tag);
  };
  const events = async (type: string, repository: string): Promise<OutboxEvent[]> =>
    fx.dataSource.query<OutboxEvent[]>(
      `SELECT type, payload FROM event_outbox WHERE type = $1 AND payload->>'repository' = $2 ORDER BY id`,
      [type, repository],
    );

  beforeAll(async () => {
    core = await startTestCore();
    fx = artifactFixtures(core);
    contract = await harborContract();
    admin = core.admin;
    shop = await fx.project('shop');
    const roles: [keyof typeof who, ProjectRole][] = [
      ['projectAdmin', ProjectRole.ProjectAdmin],
      ['maintainer', ProjectRole.Maintainer],
      ['developer', ProjectRole.Developer],
      ['guest', ProjectRole.Guest],
      ['limitedGuest', ProjectRole.LimitedGuest],
    ];
    for (const [name, role] of roles) {
      const user = await fx.user(name.toLowerCase());
      await fx.member(shop.projectId, user.userId, role);
      who[name] = user;
    }
    who.outsider = await fx.user('outsider');
    who.readRobot = await fx.robot(
      'reader',
      [
        ['project', 'shop', 'artifact', 'list'],
        ['project', 'shop', 'artifact', 'read'],
        ['project', 'shop', 'tag', 'list'],
      ],
      shop,
    );

    web = await fx.image('shop/app', {
      tag: 'v1',
      config: {
        architecture: 'amd64',
        os: 'linux',
        created: '2031-01-02T03:04:05Z',
        config: { Env: ['PATH=/usr/bin'], Labels: { maintainer: 'ops@example.com' } },
        history: [{ created_by: 'ADD rootfs /' }, { created_by: 'CMD ["web"]', empty_layer: true }],
        rootfs: { type: 'layers', diff_ids: [] },
      },
      layers: [Buffer.alloc(1000, 1), Buffer.alloc(500, 2)],
      annotations: { 'org.opencontainers.image.title': 'web' },
    });
    await fx.registry.createTag('shop/app', 'latest', web.digest);
    worker = await fx.image('shop/app', { config: { architecture: 'arm64', os: 'linux' } });
    amd64 = await fx.image('shop/app', { config: { architecture: 'amd64', os: 'linux', variant: 'x' } });
    arm64 = await fx.image('shop/app', { config: { architecture: 'arm64', os: 'linux' } });
    multi = await fx.index(
      'shop/app',
      [
        { image: amd64, platform: { architecture: 'amd64', os: 'linux' } },
        { image: arm64, platform: { architecture: 'arm64', os: 'linux', variant: 'v8', 'os.version': '6.1' } },
      ],
      { tag: 'multi' },
    );
    signature = await fx.image('shop/app', {
      artifactType: COSIGN,
      configMediaType: 'application/vnd.oci.empty.v1+json',
      config: {},
      subject: web,
    });
  });

  afterAll(async () => {
    await core?.close();
  });

  describe('listing', () => {
    it('lists the top-level artifacts newest first, without index children or accessories', async () => {
      const response = await get<Artifact[]>(`${base}?page_size=100`);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-total-count')).toBe('3');
      expect(response.body.map((a) => a.digest)).toEqual([multi.digest, worker.digest, web.digest]);
      for (const artifact of response.body) assertArtifact(artifact);
    });

    it('describes an image as Harbor does: type, media types, sizes, times and tags', async () => {
      const response = await get<Artifact[]>(`${base}?q=${encodeURIComponent('tags=v1')}`);
      expect(response.status).toBe(200);
      const [artifact] = response.body;
      expect(artifact).toMatchObject({
        type: 'IMAGE',
        media_type: MediaType.OciConfig,
        manifest_media_type: MediaType.OciManifest,
        artifact_type: MediaType.OciConfig,
        project_id: shop.projectId,
        repository_name: 'shop/app',
        digest: web.digest,
        size: web.size,
        pull_time: ZERO_TIME,
        annotations: { 'org.opencontainers.image.title': 'web' },
      });
      expect(artifact.extra_attrs).toMatchObject({ architecture: 'amd64', os: 'linux', author: 'ops@example.com' });
      expect(artifact.tags?.map((t) => t.name).sort()).toEqual(['latest', 'v1']);
      expect(artifact.tags?.[0]).toMatchObject({ artifact_id: artifact.id, immutable: false, pull_time: ZERO_TIME });
      expect(artifact.addition_links).toEqual({
        build_history: {
          href: `/api/v2.0/projects/shop/repositories/app/artifacts/${web.digest}/additions/build_history`,
          absolute: false,
        },
        vulnerabilities: {
          href: `/api/v2.0/projects/shop/repositories/app/artifacts/${web.digest}/additions/vulnerabilities`,
          absolute: false,
        },
      });
    });

    it('pages with X-Total-Count and Link headers', async () => {
      const response = await get<Artifact[]>(`${base}?page=2&page_size=1`);
      expect(response.status).toBe(200);
      expect(response.body.map((a) => a.digest)).toEqual([worker.digest]);
      expect(response.headers.get('x-total-count')).toBe('3');
      const link = response.headers.get('link') ?? '';
      expect(link).toContain('page=1&page_size=1>; rel="prev"');
      expect(link).toContain('page=3&page_size=1>; rel="next"');
    });

    it('leaves tags out with with_tag=false and adds labels with with_label=true', async () => {
      const response = await get<Artifact[]>(`${base}?with_tag=false&with_label=true`);
      expect(response.status).toBe(200);
      for (const artifact of response.body) {
        expect(artifact.tags).toBeUndefined();
        expect(artifact.labels).toEqual([]);
      }
    });

    it.each([
      ['tags=*', () => [multi.digest, web.digest]],
      ['tags=nil', () => [worker.digest]],
      ['tags=latest', () => [web.digest]],
      ['tags=~ult', () => [multi.digest]],
      ['tags={v1 multi}', () => [multi.digest, web.digest]],
      ['type=IMAGE,media_type=~index', () => [multi.digest]],
      ['labels=(1 2)', () => []],
    ])('filters with q=%s', async (q, expected) => {
      const response = await get<Artifact[]>(`${base}?q=${encodeURIComponent(q)}`);
      expect(response.status).toBe(200);
      expect(response.body.map((a) => a.digest)).toEqual(expected());
      expect(response.headers.get('x-total-count')).toBe(String(expected().length));
    });

    it('lists children and accessories too with q=base=*', async () => {
      const response = await get<Artifact[]>(`${base}?q=${encodeURIComponent('base=*')}&page_size=10`);
      expect(response.status).toBe(200);
      expect(response.body.map((a) => a.digest).sort()).toEqual(
        [web, worker, amd64, arm64, multi, signature].map((p) => p.digest).sort(),
      );
    });

    it('answers 400 naming the problem for an unknown q key, a bad sort or a bad flag', async () => {
      const unknown = await get<{ errors: { message: string }[] }>(`${base}?q=color%3Dred`);
      expect(unknown.status).toBe(400);
      expect(unknown.body.errors[0].message).toContain('unknown key "color"');
      expect((await get(`${base}?sort=-weight`)).status).toBe(400);
      const flag = await get<{ errors: { message: string }[] }>(`${base}?with_tag=maybe`);
      expect(flag.status).toBe(400);
      expect(flag.body.errors[0].message).toContain('with_tag');
    });

    it('sorts by push_time ascending on request', async () => {
      const response = await get<Artifact[]>(`${base}?sort=push_time`);
      expect(response.body.map((a) => a.digest)).toEqual([web.digest, worker.digest, multi.digest]);
    });

    it('answers 404 for a repository or project that does not exist', async () => {
      expect((await get('/api/v2.0/projects/shop/repositories/nothing/artifacts')).status).toBe(404);
      expect((await get('/api/v2.0/projects/nope/repositories/app/artifacts')).status).toBe(404);
    });
  });

  describe('one artifact', () => {
    it('finds an artifact by tag and by digest', async () => {
      const byTag = await get(`${base}/latest`);
      expect(byTag.status).toBe(200);
      expect(byTag.body.digest).toBe(web.digest);
      assertArtifact(byTag.body);
      const byDigest = await get(`${base}/${web.digest}`);
      expect(byDigest.status).toBe(200);
      expect(byDigest.body.id).toBe(byTag.body.id);
      expect(byDigest.body.extra_attrs).toEqual({
        architecture: 'amd64',
        os: 'linux',
        author: 'ops@example.com',
        created: '2031-01-02T03:04:05Z',
        config: { Env: ['PATH=/usr/bin'], Labels: { maintainer: 'ops@example.com' } },
      });
    });

    it("describes an index with its children's references and sizes", async () => {
      const response = await get(`${base}/multi`);
      expect(response.status).toBe(200);
      assertArtifact(response.body);
      const children = await get<Artifact[]>(`${base}?q=${encodeURIComponent('base=*')}&page_size=10`);
      const idOf = (digest: string) => children.body.find((a) => a.digest === digest)?.id;
      expect(response.body).toMatchObject({
        type: 'IMAGE',
        media_type: MediaType.OciIndex,
        manifest_media_type: MediaType.OciIndex,
        size: multi.size,
      });
      expect(response.body.extra_attrs).toBeUndefined();
      expect(response.body.addition_links).toBeUndefined();
      expect(response.body.references).toEqual([
        {
          parent_id: response.body.id,
          child_id: idOf(amd64.digest),
          child_digest: amd64.digest,
          platform: { architecture: 'amd64', os: 'linux' },
        },
        {
          parent_id: response.body.id,
          child_id: idOf(arm64.digest),
          child_digest: arm64.digest,
          platform: { architecture: 'arm64', os: 'linux', variant: 'v8', "'os.version'": '6.1' },
        },
      ]);
      for (const reference of response.body.references ?? []) contract.assertValid('Reference', reference);
      expect((await get(`${base}/${amd64.digest}`)).status).toBe(200);
    });

    it('lists accessories with with_accessory=true and on their own route', async () => {
      const response = await get(`${base}/v1?with_accessory=true`);
      expect(response.status).toBe(200);
      expect(response.body.accessories).toEqual([
        expect.objectContaining({
          artifact_id: expect.any(Number),
          subject_artifact_id: response.body.id,
          subject_artifact_digest: web.digest,
          subject_artifact_repo: 'shop/app',
          digest: signature.digest,
          type: 'signature.cosign',
          size: signature.size,
        }),
      ]);
      const listed = await get<Record<string, unknown>[]>(`${base}/v1/accessories`);
      expect(listed.status).toBe(200);
      expect(listed.headers.get('x-total-count')).toBe('1');
      expect(listed.body[0]).toMatchObject({ digest: signature.digest, type: 'signature.cosign' });
      contract.assertValid('Accessory', listed.body[0]);
      const filtered = await get<unknown[]>(`${base}/v1/accessories?q=${encodeURIComponent('type=sbom.harbor')}`);
      expect(filtered.body).toEqual([]);
    });

    it("answers an image's build history", async () => {
      const response = await get<unknown[]>(`${base}/v1/additions/build_history`);
      expect(response.status).toBe(200);
      expect(response.body).toEqual([{ created_by: 'ADD rootfs /' }, { created_by: 'CMD ["web"]', empty_layer: true }]);
      expect((await get(`${base}/multi/additions/build_history`)).status).toBe(400);
      expect((await get(`${base}/v1/additions/readme.md`)).status).toBe(400);
      expect((await get(`${base}/v1/additions/nonsense`)).status).toBe(400);
    });

    it('answers 404 for an unknown tag or digest and 400 for a malformed reference', async () => {
      const missing = await get<{ errors: { code: string; message: string }[] }>(`${base}/v404`);
      expect(missing.status).toBe(404);
      expect(missing.body.errors[0]).toEqual({ code: 'NOT_FOUND', message: 'artifact shop/app:v404 not found' });
      expect((await get(`${base}/sha256:${'0'.repeat(64)}`)).status).toBe(404);
      expect((await get(`${base}/sha256:xyz`)).status).toBe(400);
      expect((await get(`${base}/-bad-`)).status).toBe(400);
    });
  });

  describe('tags', () => {
    it("lists an artifact's tags newest first, filtered by name", async () => {
      const response = await get<Tag[]>(`${base}/${web.digest}/tags`);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-total-count')).toBe('2');
      expect(response.body.map((t) => t.name)).toEqual(['latest', 'v1']);
      for (const tag of response.body) contract.assertValid('Tag', tag);
      const filtered = await get<Tag[]>(`${base}/${web.digest}/tags?q=${encodeURIComponent('name=~v')}`);
      expect(filtered.body.map((t) => t.name)).toEqual(['v1']);
    });

    it('gives each tag its own id, kept when the tag moves, and the time of its latest pull through /v2', async () => {
      const listed = async () => (await get<Tag[]>(`${base}/${web.digest}/tags`)).body;
      const before = await listed();
      const ids = new Map(before.map((t) => [t.name, t.id]));
      expect(new Set(ids.values()).size).toBe(2);
      expect(before.every((t) => Number.isInteger(t.id) && t.pull_time === ZERO_TIME)).toBe(true);

      const token = await fx.token(admin, 'repository:shop/app:pull');
      const pulled = await core.request('GET', '/v2/shop/app/manifests/v1', {
        headers: { authorization: `Bearer ${token}`, accept: MediaType.OciManifest },
      });
      expect(pulled.status).toBe(200);
      const started = Date.now();
      // Pulls are written in batches (about a second apart), then delivered by the outbox consumer.
      let tags = before;
      for (let attempt = 0; attempt < 60 && tags.find((t) => t.name === 'v1')?.pull_time === ZERO_TIME; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        await core.server.app.get(OutboxConsumerService).drain();
        tags = await listed();
      }
      const v1 = tags.find((t) => t.name === 'v1')!;
      expect(v1.pull_time).not.toBe(ZERO_TIME);
      expect(Math.abs(Date.parse(v1.pull_time) - started)).toBeLessThan(10_000);
      expect(tags.find((t) => t.name === 'latest')?.pull_time).toBe(ZERO_TIME);
      for (const tag of tags) contract.assertValid('Tag', tag);
      const sorted = await get<Tag[]>(`${base}/${web.digest}/tags?sort=-pull_time`);
      expect(sorted.body.map((t) => t.name)).toEqual(['v1', 'latest']);
      // Artifacts sort the same way: the one pulled first, those never pulled after it.
      expect((await get<Artifact[]>(`${base}?sort=-pull_time`)).body[0].digest).toBe(web.digest);
      const byId = await get<Tag[]>(`${base}/${web.digest}/tags?q=${encodeURIComponent(`id=${ids.get('latest')}`)}`);
      expect(byId.body.map((t) => t.name)).toEqual(['latest']);

      // Moved to another artifact and back, the tag keeps its id.
      await fx.registry.createTag('shop/app', 'latest', worker.digest);
      await fx.registry.createTag('shop/app', 'latest', web.digest);
      expect(new Map((await listed()).map((t) => [t.name, t.id]))).toEqual(ids);
    });

    it('adds a tag, audited, which the registry then serves', async () => {
      const created = await core.request('POST', `${base}/${worker.digest}/tags`, {
        auth: who.developer,
        body: { name: 'nightly' },
      });
      expect(created.status).toBe(201);
      expect(created.text).toBe('');
      const artifact = await get(`${base}/nightly`);
      expect(artifact.body.digest).toBe(worker.digest);
      const stored = await fx.registry.getManifest('shop/app', 'nightly', false, false);
      expect(stored?.digest).toBe(worker.digest);
      const audit = await fx.dataSource.query<{ operation: string; username: string }[]>(
        `SELECT operation, username FROM audit_log WHERE resource_type = 'tag' AND resource = 'shop/app:nightly'`,
      );
      expect(audit).toEqual([{ operation: 'create', username: 'developer' }]);
    });

    it('refuses a tag name the repository already has (409), wherever it points, and a bad name (400)', async () => {
      const same = await core.request('POST', `${base}/v1/tags`, { auth: admin, body: { name: 'latest' } });
      expect(same.status).toBe(409);
      const elsewhere = await core.request<{ errors: { message: string }[] }>('POST', `${base}/${worker.digest}/tags`, {
        auth: admin,
        body: { name: 'multi' },
      });
      expect(elsewhere.status).toBe(409);
      expect(elsewhere.body.errors[0].message).toBe('tag multi already exists in repository shop/app');
      expect((await get(`${base}/multi`)).body.digest).toBe(multi.digest);
      const bad = await core.request('POST', `${base}/v1/tags`, { auth: admin, body: { name: '.hidden' } });
      expect(bad.status).toBe(400);
      const missing = await core.request('POST', `${base}/v1/tags`, { auth: admin, body: {} });
      expect(missing.status).toBe(400);
    });

    it('removes a tag of the artifact only, recording a registry event', async () => {
      const wrongArtifact = await core.request('DELETE', `${base}/${worker.digest}/tags/latest`, { auth: admin });
      expect(wrongArtifact.status).toBe(404);
      const removed = await core.request('DELETE', `${base}/${worker.digest}/tags/nightly`, { auth: who.maintainer });
      expect(removed.status).toBe(200);
      expect((await get(`${base}/nightly`)).status).toBe(404);
      expect((await get(`${base}/${worker.digest}`)).status).toBe(200);
      expect(await events('DELETE_TAG', 'shop/app')).toEqual([
        {
          type: 'DELETE_TAG',
          payload: expect.objectContaining({ digest: worker.digest, tag: 'nightly', actor: 'maintainer' }),
        },
      ]);
      expect((await core.request('DELETE', `${base}/${worker.digest}/tags/nightly`, { auth: admin })).status).toBe(404);
    });
  });

  describe('authorization', () => {
    const cases: [string, keyof typeof who | 'anonymous', string, string, number][] = [
      ['list', 'limitedGuest', 'GET', '', 200],
      ['list', 'readRobot', 'GET', '', 200],
      ['list', 'outsider', 'GET', '', 403],
      ['list', 'anonymous', 'GET', '', 401],
      ['get', 'guest', 'GET', '/v1', 200],
      ['get', 'outsider', 'GET', '/v1', 403],
      ['list tags', 'limitedGuest', 'GET', '/v1/tags', 200],
      ['delete', 'developer', 'DELETE', '/v1', 403],
      ['delete', 'guest', 'DELETE', '/v1', 403],
      ['delete', 'readRobot', 'DELETE', '/v1', 403],
      ['delete', 'anonymous', 'DELETE', '/v1', 401],
      ['delete tag', 'developer', 'DELETE', '/v1/tags/v1', 403],
      ['delete tag', 'limitedGuest', 'DELETE', '/v1/tags/v1', 403],
    ];
    it.each(cases)('%s as %s', async (_what, as, method, path, status) => {
      const auth = as === 'anonymous' ? undefined : who[as];
      expect((await core.request(method, `${base}${path}`, { auth })).status).toBe(status);
    });

    it('lets only those who may create tags add one', async () => {
      for (const as of ['guest', 'limitedGuest', 'readRobot'] as const) {
        const response = await core.request('POST', `${base}/v1/tags`, { auth: who[as], body: { name: 'nope' } });
        expect(response.status).toBe(403);
      }
      expect((await core.request('POST', `${base}/v1/tags`, { body: { name: 'nope' } })).status).toBe(401);
      expect((await get(`${base}/nope`)).status).toBe(404);
    });

    it('lets anyone read a public project and no one outside it change it', async () => {
      await fx.project('open', { public: true });
      const image = await fx.image('open/tool', { tag: 'v1' });
      const listed = await core.request<Artifact[]>('GET', '/api/v2.0/projects/open/repositories/tool/artifacts');
      expect(listed.status).toBe(200);
      expect(listed.body.map((a) => a.digest)).toEqual([image.digest]);
      const tool = '/api/v2.0/projects/open/repositories/tool/artifacts/v1';
      expect((await core.request('DELETE', tool)).status).toBe(401);
      expect((await core.request('DELETE', tool, { auth: who.outsider })).status).toBe(403);
      expect((await core.request('POST', `${tool}/tags`, { auth: who.outsider, body: { name: 'x' } })).status).toBe(
        403,
      );
    });
  });

  describe('deleting', () => {
    it('refuses to delete an artifact that an index lists (412)', async () => {
      const response = await core.request<{ errors: { code: string }[] }>('DELETE', `${base}/${amd64.digest}`, {
        auth: admin,
      });
      expect(response.status).toBe(412);
      expect(response.body.errors[0].code).toBe('PRECONDITION');
      expect((await get(`${base}/${amd64.digest}`)).status).toBe(200);
    });

    it('deletes an index with the children nothing else holds, and the registry stops serving them', async () => {
      await fx.registry.createTag('shop/app', 'arm', arm64.digest);
      const token = await fx.token(admin, 'repository:shop/app:pull');
      const manifest = (reference: string) =>
        core.request('GET', `/v2/shop/app/manifests/${reference}`, {
          headers: { authorization: `Bearer ${token}`, accept: `${MediaType.OciIndex}, ${MediaType.OciManifest}` },
        });
      expect((await manifest('multi')).status).toBe(200);

      const response = await core.request('DELETE', `${base}/multi`, { auth: who.maintainer });
      expect(response.status).toBe(200);
      expect((await get(`${base}/${multi.digest}`)).status).toBe(404);
      expect((await get(`${base}/${amd64.digest}`)).status).toBe(404);
      // A child with a tag of its own stays, and is listed now that no index holds it.
      expect((await get(`${base}/arm`)).body.digest).toBe(arm64.digest);
      const listed = await get<Artifact[]>(base);
      expect(listed.body.map((a) => a.digest)).toContain(arm64.digest);

      const deleted = (await events('DELETE_ARTIFACT', 'shop/app')).map((e) => e.payload);
      expect(deleted).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ digest: multi.digest, actor: 'maintainer' }),
          expect.objectContaining({ digest: amd64.digest, actor: 'maintainer' }),
        ]),
      );
      expect(deleted.map((e) => e.digest)).not.toContain(arm64.digest);
      // The registry's manifest cache hears of the delete through a change notice.
      let status = 0;
      for (let attempt = 0; attempt < 50; attempt++) {
        status = (await manifest(multi.digest)).status;
        if (status === 404) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(status).toBe(404);
      expect((await manifest('multi')).status).toBe(404);
    });

    it('deletes an image with its tags and accessories', async () => {
      const response = await core.request('DELETE', `${base}/v1`, { auth: who.projectAdmin });
      expect(response.status).toBe(200);
      expect((await get(`${base}/latest`)).status).toBe(404);
      expect((await get(`${base}/${signature.digest}`)).status).toBe(404);
      expect(await fx.registry.getManifest('shop/app', web.digest, true, false)).toBeNull();
      expect(await fx.registry.getManifest('shop/app', 'latest', false, false)).toBeNull();
      const deleted = (await events('DELETE_ARTIFACT', 'shop/app')).map((e) => e.payload.digest);
      expect(deleted).toEqual(expect.arrayContaining([web.digest, signature.digest]));
      expect((await core.request('DELETE', `${base}/v1`, { auth: admin })).status).toBe(404);
    });
  });

  describe('repositories with "/" in their name and many artifacts', () => {
    it('serves a nested repository name encoded twice over', async () => {
      const image = await fx.image('shop/team/api', { tag: 'v2' });
      const response = await get(`/api/v2.0/projects/shop/repositories/team%252Fapi/artifacts/v2`);
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ digest: image.digest, repository_name: 'shop/team/api' });
      expect(response.body.addition_links?.build_history.href).toBe(
        `/api/v2.0/projects/shop/repositories/team%252Fapi/artifacts/${image.digest}/additions/build_history`,
      );
    });

    it('answers deep pages in the same order as the index, and sees pushes and deletes at once', async () => {
      const seed = await fx.image('shop/big', { tag: 'v0' });
      // 2,499 more artifacts, as copies of the seed with their own digests, pushed a second apart.
      await fx.dataSource.query(
        `WITH src AS (SELECT m.* FROM registry_manifest m JOIN registry_repository r ON r.id = m.repository_id
                        WHERE r.name = 'shop/big' AND m.digest = $1)
         INSERT INTO registry_manifest (repository_id, digest, media_type, artifact_type, size, payload, created_at)
         SELECT src.repository_id, 'sha256:' || encode(sha256(src.payload || g::text::bytea), 'hex'), src.media_type,
                src.artifact_type, src.size, src.payload, now() - make_interval(secs => g)
           FROM src, generate_series(1, 2499) g`,
        [seed.digest],
      );
      const bigBase = '/api/v2.0/projects/shop/repositories/big/artifacts';
      const order = await fx.dataSource.query<{ digest: string }[]>(
        `SELECT m.digest FROM registry_manifest m JOIN registry_repository r ON r.id = m.repository_id
          WHERE r.name = 'shop/big' ORDER BY m.created_at DESC, m.id DESC`,
      );
      expect(order).toHaveLength(2500);
      for (const [page, size] of [
        [1, 100],
        [11, 100],
        [13, 100],
        [25, 100],
        [36, 70],
        [2500, 1],
      ] as const) {
        const response = await get<Artifact[]>(`${bigBase}?page=${page}&page_size=${size}&with_tag=false`);
        expect(response.status).toBe(200);
        expect(response.headers.get('x-total-count')).toBe('2500');
        const expected = order.slice((page - 1) * size, page * size).map((r) => r.digest);
        expect(response.body.map((a) => a.digest)).toEqual(expected);
      }
      expect((await get<Artifact[]>(`${bigBase}?page=26&page_size=100`)).body).toEqual([]);

      // A push by another process (the newest artifact) shifts every page by one once its change notice arrives.
      const pushed = await fx.image('shop/big');
      let deep = await get<Artifact[]>(`${bigBase}?page=20&page_size=100&with_tag=false`);
      for (let attempt = 0; attempt < 50 && deep.headers.get('x-total-count') !== '2501'; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        deep = await get<Artifact[]>(`${bigBase}?page=20&page_size=100&with_tag=false`);
      }
      expect(deep.headers.get('x-total-count')).toBe('2501');
      expect(deep.body[0].digest).toBe(order[1899].digest);
      // A delete through the API shows in this process's next answer, without waiting for the notice.
      const api = await core.request('DELETE', `${bigBase}/${pushed.digest}`, { auth: admin });
      expect(api.status).toBe(200);
      deep = await get<Artifact[]>(`${bigBase}?page=20&page_size=100&with_tag=false`);
      expect(deep.headers.get('x-total-count')).toBe('2500');
      expect(deep.body[0].digest).toBe(order[1900].digest);
    });
  });
});
