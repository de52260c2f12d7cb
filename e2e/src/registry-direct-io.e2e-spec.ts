import { afterAll, beforeAll, describe, expect, jest } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildImageLayout, listLayoutBlobs, type TestImageLayout } from '@wharf/testkit';
import { Skopeo } from './support/clients.js';
import { sha256 } from './support/http.js';
import { onlyOnWharf, startTestRegistry, type TestRegistry } from './support/target.js';

jest.setTimeout(180_000);

const MiB = 1024 * 1024;

/**
 * With `storage_service.filesystem.direct_io: true`, blobs of 1 MiB and more are written and read around the page
 * cache. skopeo pushes layers whose sizes end off every alignment and reads them back, byte for byte.
 */
describe('registry with direct I/O, with skopeo', () => {
  let env: TestRegistry;
  let skopeo: Skopeo;
  let image: TestImageLayout;

  beforeAll(async () => {
    env = await startTestRegistry('direct-io', { storage_service: { filesystem: { direct_io: true } } });
    skopeo = await Skopeo.create(await env.tempDir('skopeo'));
    image = await buildImageLayout(await env.tempDir('app'), {
      seed: 'e2e-direct-io',
      layerSizes: [777, MiB, 3 * MiB + 17, 9 * MiB + 4097],
      ref: '1.0',
    });
  });

  afterAll(async () => {
    await env?.close();
  });

  onlyOnWharf('stores pushed layers and gives every byte back, whole and by range', async () => {
    const host = env.registry.host;
    await skopeo.copy(`oci:${image.path}:1.0`, `docker://${host}/library/direct:1.0`, ['--preserve-digests']);

    const out = join(await env.tempDir('out'), 'layout');
    await skopeo.copy(`docker://${host}/library/direct:1.0`, `oci:${out}:1.0`, ['--preserve-digests']);
    const want = await listLayoutBlobs(image.path);
    const got = await listLayoutBlobs(out);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [digest, path] of want) {
      const [wantBytes, gotBytes] = await Promise.all([readFile(path), readFile(got.get(digest)!)]);
      expect({ digest, equal: gotBytes.equals(wantBytes) }).toEqual({ digest, equal: true });
    }

    // A range that starts off any 4 KiB boundary, inside the largest layer.
    const layers = await Promise.all(
      [...want].map(async ([digest, path]) => ({ digest, bytes: await readFile(path) })),
    );
    const largest = layers.sort((x, y) => y.bytes.length - x.bytes.length)[0];
    expect(sha256(largest.bytes)).toBe(largest.digest);
    const start = 4096 * 300 + 5;
    const end = start + 2 * MiB + 3;
    const response = await fetch(`${env.registry.url}/v2/library/direct/blobs/${largest.digest}`, {
      headers: { range: `bytes=${start}-${end - 1}` },
    });
    expect(response.status).toBe(206);
    expect(Buffer.from(await response.arrayBuffer()).equals(largest.bytes.subarray(start, end))).toBe(true);
  });
});
