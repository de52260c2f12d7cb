import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  OciLayoutWriter,
  buildImageLayout,
  readLayoutBlob,
  type ImageInfo,
  type TestImageLayout,
} from '@wharf/testkit';
import { Skopeo } from './support/clients.js';
import { RegistryHttp, sha256 } from './support/http.js';
import { startTestRegistry, type TestRegistry } from './support/target.js';

jest.setTimeout(240_000);

const RACE_ROUNDS = 8;
const READS_PER_ROUND = 5;

describe('registry under concurrent clients', () => {
  let env: TestRegistry;
  let skopeo: Skopeo;
  let http: RegistryHttp;
  let host: string;
  let image: TestImageLayout;

  beforeAll(async () => {
    env = await startTestRegistry('concurrency');
    host = env.registry.host;
    http = new RegistryHttp(env.registry.url);
    skopeo = await Skopeo.create(await env.tempDir('skopeo'));
    image = await buildImageLayout(await env.tempDir('image'), {
      seed: 'e2e-concurrent',
      layerSizes: [4096, 2 * 1024 * 1024, 4 * 1024 * 1024],
      ref: 'v1',
    });
  });

  afterAll(async () => {
    await env?.close();
  });

  it('takes the same image into two repositories at the same time', async () => {
    await Promise.all([
      skopeo.copy(`oci:${image.path}:v1`, `docker://${host}/left/app:v1`, ['--preserve-digests']),
      skopeo.copy(`oci:${image.path}:v1`, `docker://${host}/right/app:v1`, ['--preserve-digests']),
    ]);

    for (const repository of ['left/app', 'right/app']) {
      const raw = await skopeo.inspectRaw(`docker://${host}/${repository}:v1`);
      expect(sha256(raw)).toBe(image.manifest.digest);
      for (const digest of image.blobDigests) {
        const blob = await http.getBlob(repository, digest);
        expect({ repository, digest, status: blob.status, sha: sha256(blob.body) }).toEqual({
          repository,
          digest,
          status: 200,
          sha: digest,
        });
      }
    }
  });

  it('settles two manifest PUTs racing for one tag on one of them, consistently', async () => {
    // Two images whose blobs are already in the repository, so only the manifest PUTs race.
    const layout = await OciLayoutWriter.create(await env.tempDir('race'));
    const contenders: ImageInfo[] = [
      await layout.addImage({ seed: 'race-a', layerSizes: [1000] }),
      await layout.addImage({ seed: 'race-b', layerSizes: [1000] }),
    ];
    const manifests = await Promise.all(contenders.map((c) => readLayoutBlob(layout.path, c.manifest.digest)));
    for (const contender of contenders) {
      for (const digest of contender.blobDigests) {
        await http.pushBlob('race/app', await readLayoutBlob(layout.path, digest));
      }
    }
    const candidates = contenders.map((c) => c.manifest.digest);

    for (let round = 0; round < RACE_ROUNDS; round += 1) {
      const tag = `round-${round}`;
      // Alternate who starts first so neither PUT always has a head start.
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      const puts = await Promise.all(
        order.map((i) => http.putManifest('race/app', tag, manifests[i], 'application/vnd.oci.image.manifest.v1+json')),
      );
      expect(puts.map((put) => put.status)).toEqual([201, 201]);
      expect(puts.map((put) => put.headers.get('docker-content-digest')).sort()).toEqual(
        order.map((i) => candidates[i]).sort(),
      );

      const reads = [];
      for (let i = 0; i < READS_PER_ROUND; i += 1) {
        reads.push(await http.getManifest('race/app', tag));
      }
      const seen = reads.map((read) => {
        expect(read.status).toBe(200);
        const digest = read.headers.get('docker-content-digest');
        expect(sha256(read.body)).toBe(digest);
        return digest;
      });
      expect(candidates).toContain(seen[0]);
      expect(new Set(seen).size).toBe(1);
      const head = await http.getManifest('race/app', tag, 'HEAD');
      expect(head.headers.get('docker-content-digest')).toBe(seen[0]);
    }
    // Both manifests stay addressable by digest whichever one holds the tag.
    for (const digest of candidates) {
      expect((await http.getManifest('race/app', digest, 'HEAD')).status).toBe(200);
    }
  });
});
