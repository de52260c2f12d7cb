import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ProjectRole } from '@wharf/auth';
import { RegistryClient } from '../registry/testing/registry-fixtures.js';
import { type Credentials, type TestCore, startTestCore } from '../testing/test-core.js';
import {
  type ArtifactFixtures,
  type Pushed,
  type TestProject,
  type TestUser,
  artifactFixtures,
} from '../testing/artifact-fixtures.js';

interface Artifact {
  digest: string;
  tags?: { name: string }[];
  references?: { child_digest: string }[];
  accessories?: { digest: string }[];
}

interface ErrorBody {
  errors: { code: string; message: string }[];
}

const COSIGN = 'application/vnd.dev.cosign.artifact.sig.v1+json';

// Each request checks a password with scrypt; on a busy machine a few of them take seconds.
jest.setTimeout(120_000);

describe('artifact copy', () => {
  let core: TestCore;
  let fx: ArtifactFixtures;
  let admin: Credentials;
  let dst: TestProject;
  let tight: TestProject;
  let developerOfBoth: TestUser;
  let developerOfTarget: TestUser;
  let guestOfTarget: TestUser;
  // src/app: image `web` (tags v1, latest) with a signature; index `multi` of two untagged images.
  let web: Pushed;
  let signature: Pushed;
  let multi: Pushed;
  let children: Pushed[];

  const artifacts = (project: string, repository: string) =>
    `/api/v2.0/projects/${project}/repositories/${repository}/artifacts`;
  const copy = (target: string, from: string, auth: Credentials | undefined = admin) =>
    core.request<ErrorBody>('POST', `${artifacts('dst', target)}?from=${encodeURIComponent(from)}`, { auth });
  const find = (project: string, repository: string, reference: string) =>
    core.request<Artifact>('GET', `${artifacts(project, repository)}/${reference}?with_accessory=true`, {
      auth: admin,
    });
  const count = async (sql: string, params: unknown[]) =>
    Number((await fx.dataSource.query<{ n: string }[]>(sql, params))[0].n);

  beforeAll(async () => {
    core = await startTestCore();
    fx = artifactFixtures(core);
    admin = core.admin;
    const src = await fx.project('src');
    dst = await fx.project('dst');
    tight = await fx.project('tight');
    developerOfBoth = await fx.user('both');
    developerOfTarget = await fx.user('target');
    guestOfTarget = await fx.user('guest');
    for (const project of [src, dst, tight]) {
      await fx.member(project.projectId, developerOfBoth.userId, ProjectRole.Developer);
    }
    await fx.member(dst.projectId, developerOfTarget.userId, ProjectRole.Developer);
    await fx.member(dst.projectId, guestOfTarget.userId, ProjectRole.Guest);

    web = await fx.image('src/app', { tag: 'v1' });
    await fx.registry.createTag('src/app', 'latest', web.digest);
    signature = await fx.image('src/app', { artifactType: COSIGN, subject: web });
    children = [await fx.image('src/app'), await fx.image('src/app')];
    multi = await fx.index(
      'src/app',
      children.map((image, i) => ({ image, platform: { architecture: i === 0 ? 'amd64' : 'arm64', os: 'linux' } })),
      { tag: 'multi' },
    );
  });

  afterAll(async () => {
    await core?.close();
  });

  it('copies an image by tag with its tags and accessories, pullable from the target without a push', async () => {
    const response = await copy('app', 'src/app:v1', developerOfBoth);
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe('/api/v2.0/projects/dst/repositories/app/artifacts/v1');

    const copied = await find('dst', 'app', 'v1');
    expect(copied.status).toBe(200);
    expect(copied.body.digest).toBe(web.digest);
    expect(copied.body.tags?.map((t) => t.name).sort()).toEqual(['latest', 'v1']);
    expect(copied.body.accessories?.map((a) => a.digest)).toEqual([signature.digest]);

    // The registry serves the copy from the target: manifest and blobs, with no byte moved.
    const token = await fx.token(admin, 'repository:dst/app:pull');
    const client = new RegistryClient(core.url, token);
    const manifest = await client.getManifest('dst/app', 'v1');
    expect(manifest.status).toBe(200);
    expect(manifest.body.equals(web.payload)).toBe(true);
    const parsed = JSON.parse(web.payload.toString('utf8')) as { layers: { digest: string }[] };
    const blob = await client.request('GET', `/v2/dst/app/blobs/${parsed.layers[0].digest}`);
    expect(blob.status).toBe(200);

    // A push event for what the target got, as a push makes, by the one who copied.
    const events = await fx.dataSource.query<{ payload: { digest: string; tag?: string; actor?: string } }[]>(
      `SELECT payload FROM event_outbox WHERE type = 'PUSH_ARTIFACT' AND payload->>'repository' = 'dst/app' ORDER BY id`,
    );
    expect(events.map((e) => [e.payload.digest, e.payload.tag ?? null, e.payload.actor])).toEqual(
      expect.arrayContaining([
        [web.digest, expect.any(String), 'both'],
        [signature.digest, null, 'both'],
      ]),
    );
    expect(new Set(events.filter((e) => e.payload.digest === web.digest).map((e) => e.payload.tag))).toEqual(
      new Set(['v1', 'latest']),
    );
  });

  it('copies an index by digest with its children', async () => {
    const response = await copy('multi', `src/app@${multi.digest}`);
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe(
      `/api/v2.0/projects/dst/repositories/multi/artifacts/${multi.digest}`,
    );
    const copied = await find('dst', 'multi', multi.digest);
    expect(copied.body.references?.map((r) => r.child_digest)).toEqual(children.map((c) => c.digest));
    expect(copied.body.tags?.map((t) => t.name)).toEqual(['multi']);
    for (const child of children) expect((await find('dst', 'multi', child.digest)).status).toBe(200);
    // A second copy changes nothing.
    expect((await copy('multi', `src/app@${multi.digest}`)).status).toBe(201);
    expect(
      await count(
        `SELECT count(*) AS n FROM registry_manifest m JOIN registry_repository r ON r.id = m.repository_id
          WHERE r.name = $1`,
        ['dst/multi'],
      ),
    ).toBe(3);
  });

  it('needs read on the source as well as create in the target', async () => {
    const refused = await copy('stolen', 'src/app:v1', developerOfTarget);
    expect(refused.status).toBe(403);
    expect((await copy('stolen', 'src/app:v1', guestOfTarget)).status).toBe(403);
    const anonymous = await core.request('POST', `${artifacts('dst', 'stolen')}?from=src%2Fapp%3Av1`);
    expect(anonymous.status).toBe(401);
    expect((await find('dst', 'stolen', web.digest)).status).toBe(404);
  });

  it('answers 404 for a source that does not exist, 400 for a malformed one, 403 for an accessory', async () => {
    expect((await copy('x', 'nowhere/app:v1')).status).toBe(404);
    expect((await copy('x', 'src/none:v1')).status).toBe(404);
    expect((await copy('x', 'src/app:v404')).status).toBe(404);
    for (const from of ['src/app', 'app:v1', 'src/app@sha256:12', 'src/app:bad tag', '']) {
      expect([from, (await copy('x', from)).status]).toEqual([from, 400]);
    }
    const accessory = await copy('x', `src/app@${signature.digest}`);
    expect(accessory.status).toBe(403);
    expect(await count(`SELECT count(*) AS n FROM registry_repository WHERE name = $1`, ['dst/x'])).toBe(0);
  });

  it("refuses a copy past the target's storage limit, changing nothing", async () => {
    const quotas = await core.request<{ id: number }[]>(
      'GET',
      `/api/v2.0/quotas?reference=project&reference_id=${tight.projectId}`,
      { auth: admin },
    );
    const set = await core.request('PUT', `/api/v2.0/quotas/${quotas.body[0].id}`, {
      auth: admin,
      body: { hard: { storage: 100 } },
    });
    expect(set.status).toBe(200);
    const response = await core.request<ErrorBody>(
      'POST',
      `${artifacts('tight', 'app')}?from=${encodeURIComponent('src/app:v1')}`,
      { auth: developerOfBoth },
    );
    expect(response.status).toBe(403);
    expect(response.body.errors[0].message).toMatch(/^Quota exceeded when processing the request/);
    expect(await count(`SELECT count(*) AS n FROM registry_repository WHERE name = $1`, ['tight/app'])).toBe(0);
    const usage = await core.request<{ used: { storage: number } }>('GET', `/api/v2.0/quotas/${quotas.body[0].id}`, {
      auth: admin,
    });
    expect(usage.body.used.storage).toBe(0);
  });

  it('refuses moving an immutable tag of the target, and lets the same artifact be copied again', async () => {
    const rules = '/api/v2.0/projects/dst/immutabletagrules';
    const created = await core.request('POST', rules, {
      auth: admin,
      body: {
        tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: 'v*' }],
        scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] },
      },
    });
    expect(created.status).toBe(201);
    const other = await fx.image('src/other', { tag: 'v1' });
    const refused = await core.request<ErrorBody>(
      'POST',
      `${artifacts('dst', 'app')}?from=${encodeURIComponent('src/other:v1')}`,
      { auth: admin },
    );
    expect(refused.status).toBe(412);
    expect(refused.body.errors[0]).toEqual({
      code: 'PRECONDITION',
      message: "Failed to process request due to 'app:v1' configured as immutable.",
    });
    expect((await find('dst', 'app', 'v1')).body.digest).toBe(web.digest);
    expect((await find('dst', 'app', other.digest)).status).toBe(404);
    expect((await copy('app', 'src/app:v1')).status).toBe(201);
    await core.request('DELETE', created.headers.get('location')!, { auth: admin });
  });
});
