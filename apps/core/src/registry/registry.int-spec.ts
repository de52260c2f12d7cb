import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { ProjectRole } from '@wharf/auth';
import { type Credentials, type TestCore, startTestCore } from '../testing/test-core.js';
import { RegistryClient, RegistryFixtures, imageManifest, sha256 } from './testing/registry-fixtures.js';

function errorOf(body: Buffer): { code: string; message: string } {
  return (JSON.parse(body.toString('utf8')) as { errors: { code: string; message: string }[] }).errors[0];
}

async function waitFor<T>(read: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('registry at /v2 inside core', () => {
  let core: TestCore;
  let fx: RegistryFixtures;
  let sysadmin: Credentials;
  let guest: Credentials;
  let ci: Credentials;
  let privId: number;

  beforeAll(async () => {
    core = await startTestCore();
    fx = new RegistryFixtures(core);
    sysadmin = await fx.user('root', { sysadmin: true });
    const visitor = await fx.user('visitor');
    guest = visitor;
    privId = await fx.project('priv');
    await fx.project('pub', { public: true });
    await fx.member(privId, visitor.userId, ProjectRole.Guest);
    ci = await fx.projectRobot('priv', 'ci', ['repository:pull', 'repository:push', 'artifact:delete']);
  });

  afterAll(async () => {
    await core?.close();
  });

  async function clientFor(scopes: string[], credentials?: Credentials): Promise<RegistryClient> {
    return new RegistryClient(core.url, await fx.token(scopes, credentials));
  }

  it('challenges clients without a token to fetch one from the token service', async () => {
    const response = await new RegistryClient(core.url).request('GET', '/v2/');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      `Bearer realm="${core.url}/service/token",service="harbor-registry"`,
    );
    const pull = await new RegistryClient(core.url).getManifest('pub/base', '1');
    expect(pull.headers.get('www-authenticate')).toContain('scope="repository:pub/base:pull"');

    const anonymous = await clientFor(['repository:pub/base:pull']);
    expect((await anonymous.request('GET', '/v2/')).status).toBe(200);
  });

  it('takes a push from a robot, serves it back, and counts it against the project', async () => {
    const client = await clientFor(['repository:priv/app:pull,push'], ci);
    const image = await client.pushImage('priv/app', '1.0', Buffer.from('{"architecture":"amd64"}'), [
      randomBytes(2048),
      randomBytes(512),
    ]);

    const manifest = await client.getManifest('priv/app', '1.0');
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('docker-content-digest')).toBe(image.digest);
    expect(manifest.body.equals(image.manifest)).toBe(true);
    const layer = await client.request('GET', `/v2/priv/app/blobs/${sha256(image.layers[0])}`);
    expect(layer.body.equals(image.layers[0])).toBe(true);

    expect(await fx.usedStorage(privId)).toBe(image.size);
    const events = await fx.query<{ actor: string }[]>(
      `SELECT payload->>'actor' AS actor FROM event_outbox
        WHERE type = 'PUSH_ARTIFACT' AND payload->>'digest' = $1`,
      [image.digest],
    );
    expect(events).toEqual([{ actor: 'robot$priv+ci' }]);
  });

  it('lets a guest pull but not push', async () => {
    const client = await clientFor(['repository:priv/app:pull,push'], guest);
    expect((await client.getManifest('priv/app', '1.0')).status).toBe(200);
    const push = await client.pushBlob('priv/app', randomBytes(64));
    expect(push.status).toBe(401);
    expect(errorOf(push.body).code).toBe('UNAUTHORIZED');
    expect(push.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
  });

  it('lets anonymous clients pull from public projects only, recorded as anonymous', async () => {
    const admin = await clientFor(['repository:pub/base:pull,push'], sysadmin);
    const image = await admin.pushImage('pub/base', '1', Buffer.from('{"os":"linux"}'), [randomBytes(256)]);

    const anonymous = await clientFor(['repository:pub/base:pull', 'repository:priv/app:pull']);
    expect((await anonymous.getManifest('pub/base', '1')).status).toBe(200);
    const refused = await anonymous.getManifest('priv/app', '1.0');
    expect(refused.status).toBe(401);
    expect(errorOf(refused.body).code).toBe('UNAUTHORIZED');
    expect((await anonymous.pushBlob('pub/base', randomBytes(64))).status).toBe(401);

    const pulled = await waitFor(async () => {
      const rows = await fx.query<{ actor: string }[]>(
        `SELECT payload->>'actor' AS actor FROM event_outbox
          WHERE type = 'PULL_ARTIFACT' AND payload->>'digest' = $1`,
        [image.digest],
      );
      return rows.length > 0 ? rows : undefined;
    }, 'the pull event');
    expect(pulled).toEqual([{ actor: 'anonymous' }]);
  });

  it('refuses a push to a project that does not exist, naming it', async () => {
    const client = await clientFor(['repository:nosuch/app:pull,push'], sysadmin);
    const push = await client.pushBlob('nosuch/app', randomBytes(64));
    expect(push.status).toBe(404);
    expect(errorOf(push.body)).toMatchObject({ code: 'NAME_UNKNOWN', message: 'project nosuch not found' });

    const bare = await (await clientFor(['repository:app:pull,push'], sysadmin)).pushBlob('app', randomBytes(64));
    expect(bare.status).toBe(404);
    expect(errorOf(bare.body).message).toContain('is not in a project');
  });

  it('refuses a push whose project was deleted after the token was issued', async () => {
    const projectId = await fx.project('doomed');
    const client = await clientFor(['repository:doomed/app:pull,push'], sysadmin);
    await fx.query(`DELETE FROM project WHERE project_id = $1`, [projectId]);
    const push = await client.pushBlob('doomed/app', randomBytes(64));
    expect(push.status).toBe(404);
    expect(errorOf(push.body)).toMatchObject({ code: 'NAME_UNKNOWN', message: 'project doomed not found' });
  });

  it('falls back to a plain upload when a mount names a source in a missing project', async () => {
    const client = await clientFor(['repository:priv/mounted:pull,push', 'repository:nosuch/x:pull'], ci);
    const digest = sha256(randomBytes(32));
    const response = await client.request('POST', `/v2/priv/mounted/blobs/uploads/?mount=${digest}&from=nosuch/x`);
    expect(response.status).toBe(202);
  });

  it('refuses a blob that would take the project past its limit, and stores nothing', async () => {
    const projectId = await fx.project('tight');
    const client = await clientFor(['repository:tight/app:pull,push'], sysadmin);
    const config = Buffer.from('{"architecture":"arm64"}');
    const layer = randomBytes(4096);
    const first = await client.pushImage('tight/app', '1', config, [layer]);
    const used = await fx.usedStorage(projectId);
    expect(used).toBe(first.size);
    await fx.setStorageLimit(projectId, used + 100);

    const refused = await client.pushBlob('tight/app', randomBytes(1000));
    expect(refused.status).toBe(403);
    expect(errorOf(refused.body)).toEqual({
      code: 'DENIED',
      message:
        'Quota exceeded when processing the request of adding 1000 B of storage resource, which when updated to ' +
        `current usage of ${(used / 1024).toFixed(1)} KiB will exceed the configured upper limit of ` +
        `${((used + 100) / 1024).toFixed(1)} KiB.`,
    });
    expect(await fx.usedStorage(projectId)).toBe(used);

    // Blobs the project already holds cost nothing again: a new image over the same layer needs only room for its
    // config and manifest, and fits exactly.
    const config2 = Buffer.from('{"architecture":"arm64","variant":"v8"}');
    const manifest2 = imageManifest(config2, [layer]);
    await fx.setStorageLimit(projectId, used + config2.length + manifest2.length);
    const second = await client.pushImage('tight/app', '2', config2, [layer]);
    expect(second.digest).toBe(sha256(manifest2));
    expect(await fx.usedStorage(projectId)).toBe(used + config2.length + manifest2.length);
  });

  it('refuses a manifest whose new blobs together exceed the limit, leaving usage as it was', async () => {
    const projectId = await fx.project('snug', { storageLimit: 1500 });
    const client = await clientFor(['repository:snug/app:pull,push'], sysadmin);
    const config = randomBytes(300);
    const layer = randomBytes(1000);
    // Each blob fits on its own; the image as a whole does not.
    expect((await client.pushBlob('snug/app', config)).status).toBe(201);
    expect((await client.pushBlob('snug/app', layer)).status).toBe(201);
    const manifest = imageManifest(config, [layer]);
    const refused = await client.putManifest('snug/app', 'v1', manifest);
    expect(refused.status).toBe(403);
    expect(errorOf(refused.body)).toEqual({
      code: 'DENIED',
      message:
        `Quota exceeded when processing the request of adding ${((manifest.length + 1300) / 1024).toFixed(1)} KiB ` +
        'of storage resource, which when updated to current usage of 0 B will exceed the configured upper limit ' +
        'of 1.5 KiB.',
    });
    expect(await fx.usedStorage(projectId)).toBe(0);
    expect((await client.getManifest('snug/app', 'v1')).status).toBe(404);
  });

  it('counts what is stored, not what a manifest states: understated layers cannot slip past the limit', async () => {
    const projectId = await fx.project('lying', { storageLimit: 10_240 });
    const client = await clientFor(['repository:lying/app:pull,push'], sysadmin);
    const stored: string[] = [];
    for (const tag of ['1', '2', '3']) {
      const config = Buffer.from(`{"architecture":"amd64","tag":"${tag}"}`);
      const layer = randomBytes(8000);
      expect((await client.pushBlob('lying/app', config)).status).toBe(201);
      const blob = await client.pushBlob('lying/app', layer);
      // Once the project holds one image, a second layer of this size no longer fits at all.
      if (blob.status !== 201) {
        expect(blob.status).toBe(403);
        continue;
      }
      const understated = Buffer.from(
        imageManifest(config, [layer]).toString('utf8').replace('"size":8000', '"size":1'),
      );
      const refused = await client.putManifest('lying/app', tag, understated);
      expect(refused.status).toBe(400);
      expect(errorOf(refused.body)).toMatchObject({
        code: 'SIZE_INVALID',
        message: `layers[0] states 1 bytes, but ${sha256(layer)} holds 8000`,
      });
      const truthful = await client.putManifest('lying/app', tag, imageManifest(config, [layer]));
      if (truthful.status === 201) stored.push(tag);
      else expect(truthful.status).toBe(403);
    }
    expect(stored).toEqual(['1']);
    const used = await fx.usedStorage(projectId);
    expect(used).toBeGreaterThan(8000);
    expect(used).toBeLessThanOrEqual(10_240);
  });

  it('frees the storage of a deleted image', async () => {
    const projectId = await fx.project('scratch');
    const client = await clientFor(['repository:scratch/app:pull,push,delete'], sysadmin);
    const image = await client.pushImage('scratch/app', 'v1', Buffer.from('{}'), [randomBytes(3000)]);
    expect(await fx.usedStorage(projectId)).toBe(image.size);

    const deleted = await client.request('DELETE', `/v2/scratch/app/manifests/${image.digest}`);
    expect(deleted.status).toBe(202);
    expect(await fx.usedStorage(projectId)).toBe(0);
    expect((await client.getManifest('scratch/app', 'v1')).status).toBe(404);
  });

  it('lets a robot that may delete artifacts delete through the registry', async () => {
    const client = await clientFor(['repository:priv/app:pull,delete'], ci);
    const head = await client.request('HEAD', '/v2/priv/app/manifests/1.0', {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    const digest = head.headers.get('docker-content-digest') ?? '';
    expect((await client.request('DELETE', `/v2/priv/app/manifests/${digest}`)).status).toBe(202);
    expect(await fx.usedStorage(privId)).toBe(0);
  });
});
