import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { seededBytes } from '@wharf/testkit';
import { ContainerTool } from './support/clients.js';
import { RegistryHttp, sha256 } from './support/http.js';
import { startTestRegistry, type TestRegistry } from './support/target.js';

jest.setTimeout(300_000);

interface ManifestJson {
  config: { digest: string; size: number };
  layers: { digest: string; size: number; mediaType: string }[];
}

/** The bytes of one regular file inside an uncompressed tar, or undefined when absent. */
function fileFromTar(tar: Buffer, wanted: string): Buffer | undefined {
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) return undefined;
    const field = (start: number, length: number): string =>
      header
        .subarray(start, start + length)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const name = [field(345, 155), field(0, 100)].filter(Boolean).join('/');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1);
    if ((type === '0' || type === '') && name.replace(/^\.?\//, '') === wanted) {
      return tar.subarray(offset + 512, offset + 512 + size);
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return undefined;
}

describe('registry with buildah and podman', () => {
  let env: TestRegistry;
  let http: RegistryHttp;
  let host: string;
  let buildah: ContainerTool;
  let podman: ContainerTool;
  let workDir: string;
  const content = seededBytes('e2e-buildah-file', 200 * 1024);
  let pushedDigest: string;

  beforeAll(async () => {
    env = await startTestRegistry('podman');
    host = env.registry.host;
    http = new RegistryHttp(env.registry.url);
    workDir = await env.tempDir('files');
    buildah = await ContainerTool.create('buildah', await env.tempDir('buildah'));
    podman = await ContainerTool.create('podman', await env.tempDir('podman'));
  });

  afterAll(async () => {
    await env?.close();
  });

  it('takes an image built by buildah from scratch and serves the digest buildah reports', async () => {
    const file = join(workDir, 'payload.bin');
    await writeFile(file, content);
    const container = await buildah.run(['from', '--signature-policy', buildah.policy, 'scratch']);
    await buildah.run(['copy', container, file, '/payload.bin']);
    await buildah.run(['config', '--label', 'org.wharf.e2e=buildah', container]);
    await buildah.run([
      'commit',
      '--signature-policy',
      buildah.policy,
      '--format',
      'oci',
      container,
      'localhost/built:1',
    ]);
    await buildah.run(['rm', container]);

    pushedDigest = await buildah.push(
      'localhost/built:1',
      `docker://${host}/library/built:1`,
      join(workDir, 'buildah.digest'),
    );

    expect(pushedDigest).toMatch(/^sha256:[a-f0-9]{64}$/);
    const manifest = await http.getManifest('library/built', '1');
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('docker-content-digest')).toBe(pushedDigest);
    expect(sha256(manifest.body)).toBe(pushedDigest);
  });

  it('lets podman pull that image with the same digest and the same file inside', async () => {
    await podman.run([
      'pull',
      '--quiet',
      '--tls-verify=false',
      '--signature-policy',
      podman.policy,
      `${host}/library/built:1`,
    ]);

    const digest = await podman.run(['image', 'inspect', '--format', '{{.Digest}}', `${host}/library/built:1`]);
    expect(digest).toBe(pushedDigest);
    const label = await podman.run([
      'image',
      'inspect',
      '--format',
      '{{index .Labels "org.wharf.e2e"}}',
      `${host}/library/built:1`,
    ]);
    expect(label).toBe('buildah');
    const mountPoint = await podman.run(['image', 'mount', `${host}/library/built:1`]);
    try {
      expect((await readFile(join(mountPoint, 'payload.bin'))).equals(content)).toBe(true);
    } finally {
      await podman.run(['image', 'unmount', `${host}/library/built:1`]);
    }
  });

  it('takes a push from podman to another repository with every blob intact', async () => {
    await podman.run(['tag', `${host}/library/built:1`, `${host}/team/copied:2`]);
    const digest = await podman.push(
      `${host}/team/copied:2`,
      `docker://${host}/team/copied:2`,
      join(workDir, 'podman.digest'),
    );

    const response = await http.getManifest('team/copied', '2');
    expect(response.status).toBe(200);
    expect(response.headers.get('docker-content-digest')).toBe(digest);
    const manifest = JSON.parse(response.body.toString()) as ManifestJson;
    const imageId = await podman.run(['image', 'inspect', '--format', '{{.Id}}', `${host}/team/copied:2`]);
    expect(manifest.config.digest).toBe(`sha256:${imageId}`);

    for (const descriptor of [manifest.config, ...manifest.layers]) {
      const blob = await http.getBlob('team/copied', descriptor.digest);
      expect({
        digest: descriptor.digest,
        status: blob.status,
        size: blob.body.length,
        sha: sha256(blob.body),
      }).toEqual({ digest: descriptor.digest, status: 200, size: descriptor.size, sha: descriptor.digest });
    }
    const layer = await http.getBlob('team/copied', manifest.layers[0].digest);
    const tar = manifest.layers[0].mediaType.endsWith('gzip') ? gunzipSync(layer.body) : layer.body;
    expect(fileFromTar(tar, 'payload.bin')?.equals(content)).toBe(true);
  });
});
