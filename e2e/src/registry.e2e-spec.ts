import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  buildImageLayout,
  buildMultiArchLayout,
  listLayoutBlobs,
  type MultiArchLayout,
  type TestImageLayout,
} from '@wharf/testkit';
import { Skopeo } from './support/clients.js';
import { RegistryHttp, sha256 } from './support/http.js';
import { startTestRegistry, type TestRegistry } from './support/target.js';

jest.setTimeout(180_000);

/** Asserts that two OCI layouts hold exactly the same blobs, byte for byte. */
async function expectSameBlobs(expected: string, actual: string): Promise<void> {
  const want = await listLayoutBlobs(expected);
  const got = await listLayoutBlobs(actual);
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [digest, path] of want) {
    const [wantBytes, gotBytes] = await Promise.all([readFile(path), readFile(got.get(digest)!)]);
    expect({ digest, equal: gotBytes.equals(wantBytes) }).toEqual({ digest, equal: true });
  }
}

describe('registry with skopeo', () => {
  let env: TestRegistry;
  let skopeo: Skopeo;
  let http: RegistryHttp;
  let host: string;
  let image: TestImageLayout;
  let multi: MultiArchLayout;

  beforeAll(async () => {
    env = await startTestRegistry('skopeo');
    host = env.registry.host;
    http = new RegistryHttp(env.registry.url);
    skopeo = await Skopeo.create(await env.tempDir('skopeo'));
    image = await buildImageLayout(await env.tempDir('app'), {
      seed: 'e2e-app',
      layerSizes: [1024, 300 * 1024, 3 * 1024 * 1024],
      ref: '1.0',
    });
    multi = await buildMultiArchLayout(await env.tempDir('multi'), {
      seed: 'e2e-multi',
      layerSizes: [2048, 512 * 1024],
      ref: '2.0',
    });
  });

  afterAll(async () => {
    await env?.close();
  });

  it('answers the /v2/ version check', async () => {
    const response = await http.request('GET', '/v2/');
    expect(response.status).toBe(200);
    expect(response.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  });

  it('accepts an image from an OCI layout and serves the same manifest digest', async () => {
    await skopeo.copy(`oci:${image.path}:1.0`, `docker://${host}/library/app:1.0`, ['--preserve-digests']);

    const raw = await skopeo.inspectRaw(`docker://${host}/library/app:1.0`);
    expect(sha256(raw)).toBe(image.manifest.digest);
    const manifest = await http.getManifest('library/app', '1.0');
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('docker-content-digest')).toBe(image.manifest.digest);
    expect(manifest.headers.get('content-type')).toBe('application/vnd.oci.image.manifest.v1+json');
    const inspected = await skopeo.inspect(`docker://${host}/library/app:1.0`);
    expect(inspected).toMatchObject({ Digest: image.manifest.digest, Architecture: 'amd64', Os: 'linux' });
  });

  it('lists the tags of a repository', async () => {
    await skopeo.copy(`docker://${host}/library/app:1.0`, `docker://${host}/library/app:1.1`);
    await skopeo.copy(`oci:${image.path}:1.0`, `docker://${host}/library/app:latest`);

    const tags = await skopeo.listTags(`docker://${host}/library/app`);
    expect([...tags].sort()).toEqual(['1.0', '1.1', 'latest']);
    const byTag = await Promise.all(tags.map((tag) => http.getManifest('library/app', tag, 'HEAD')));
    expect(byTag.map((response) => response.headers.get('docker-content-digest'))).toEqual(
      tags.map(() => image.manifest.digest),
    );
  });

  it('gives back every blob byte for byte when copied out to a new OCI layout', async () => {
    const out = join(await env.tempDir('app-out'), 'layout');
    await skopeo.copy(`docker://${host}/library/app:1.0`, `oci:${out}:1.0`, ['--preserve-digests']);
    await expectSameBlobs(image.path, out);
  });

  it('copies a multi-arch index with --all and serves each platform', async () => {
    await skopeo.copy(`oci:${multi.path}:2.0`, `docker://${host}/library/multi:2.0`, ['--all', '--preserve-digests']);

    const raw = await skopeo.inspectRaw(`docker://${host}/library/multi:2.0`);
    expect(sha256(raw)).toBe(multi.index.digest);
    const index = JSON.parse(raw.toString()) as { manifests: { digest: string }[] };
    expect(index.manifests.map((m) => m.digest)).toEqual(multi.images.map((i) => i.manifest.digest));
    for (const platformImage of multi.images) {
      const child = await skopeo.inspectRaw(`docker://${host}/library/multi@${platformImage.manifest.digest}`);
      expect(sha256(child)).toBe(platformImage.manifest.digest);
    }
    const arm = await skopeo.inspect(`docker://${host}/library/multi:2.0`, ['--override-arch', 'arm64']);
    // skopeo reports the digest of the index it resolved through, and the layers of the chosen platform.
    expect(arm).toMatchObject({
      Architecture: 'arm64',
      Digest: multi.index.digest,
      Layers: multi.images[1].layers.map((layer) => layer.digest),
    });

    const out = join(await env.tempDir('multi-out'), 'layout');
    await skopeo.copy(`docker://${host}/library/multi:2.0`, `oci:${out}:2.0`, ['--all', '--preserve-digests']);
    await expectSameBlobs(multi.path, out);
  });

  it('deletes a manifest so that neither its tag nor its digest resolves any more', async () => {
    await skopeo.copy(`oci:${image.path}:1.0`, `docker://${host}/library/doomed:1.0`);
    expect((await http.getManifest('library/doomed', '1.0', 'HEAD')).status).toBe(200);

    await skopeo.delete(`docker://${host}/library/doomed:1.0`);

    expect((await http.getManifest('library/doomed', '1.0')).status).toBe(404);
    const byDigest = await http.getManifest('library/doomed', image.manifest.digest);
    expect(byDigest.status).toBe(404);
    expect(JSON.parse(byDigest.body.toString())).toMatchObject({ errors: [{ code: 'MANIFEST_UNKNOWN' }] });
    await expect(skopeo.inspectRaw(`docker://${host}/library/doomed:1.0`)).rejects.toThrow(/manifest unknown/i);
    // Another repository that holds the same image is unaffected.
    expect((await http.getManifest('library/app', '1.0', 'HEAD')).status).toBe(200);
  });
});
