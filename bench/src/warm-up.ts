import { randomBytes } from 'node:crypto';
import { headLoad } from './head-load.js';
import { expectStatus } from './http.js';
import { OCI_LAYER, type Target, ensureSmallBlob, pushImage } from './registry-ops.js';
import { wrk } from './wrk.js';

export const WARM_REPO = 'bench/warm-up';

/**
 * The same untimed exercise for both registries before a round's first measurement: every request kind a
 * workload sends, a few hundred times. A server that compiles its hot paths at run time (Wharf's JIT) is
 * then measured as it runs in production, not in its first second; the reference gets the identical load.
 */
export async function warmUp(target: Target): Promise<void> {
  const layers = [];
  for (let i = 0; i < 16; i++) {
    layers.push(await ensureSmallBlob(target, WARM_REPO, randomBytes(64 * 1024), OCI_LAYER));
  }
  for (let i = 0; i < 8; i++) await pushImage(target, WARM_REPO, `warm-${i}`, layers.slice(i, i + 4));
  const accept = { ...target.headers, accept: 'application/vnd.oci.image.manifest.v1+json' };
  for (let batch = 0; batch < 20; batch++) {
    await Promise.all(
      Array.from({ length: 32 }, (_, i) =>
        expectStatus(200, i % 2 ? 'GET' : 'HEAD', `${target.url}/v2/${WARM_REPO}/manifests/warm-${i % 8}`, accept),
      ),
    );
  }
  const load = { url: `${target.url}/v2/${WARM_REPO}/manifests/warm-0`, headers: accept, connections: 64, seconds: 3 };
  await wrk({ ...load, method: 'GET' });
  await headLoad({ ...load, seconds: 2 });
  for (let i = 0; i < 32; i++) {
    await expectStatus(200, 'GET', `${target.url}/v2/${WARM_REPO}/tags/list`, target.headers);
    await expectStatus(
      200,
      'GET',
      `${target.url}/v2/${WARM_REPO}/blobs/${layers[i % layers.length].digest}`,
      target.headers,
    );
  }
}
