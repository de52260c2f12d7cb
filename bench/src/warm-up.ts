import { createHash, randomBytes } from 'node:crypto';
import { headLoad } from './head-load.js';
import { expectStatus, header, withQuery } from './http.js';
import { OCI_LAYER, type Target, ensureSmallBlob, pushImage, startUpload } from './registry-ops.js';
import { wrk } from './wrk.js';

export const WARM_REPO = 'bench/warm-up';

/** Blob pushes per size: the sizes the workloads' small pushes use, so their code paths (batching, writeback) warm. */
const WARM_BLOB_PUSHES = [
  { count: 64, size: 64 * 1024 },
  { count: 64, size: 1024 * 1024 },
];
const WARM_CHUNKED_PUSHES = 4;
const WARM_CHUNKS = 8;
const WARM_CHUNK_SIZE = 1024 * 1024;

/** One chunked upload (POST, PATCH with Content-Range following each Location, PUT ?digest=) of small chunks. */
async function pushChunkedSmall(target: Target, repo: string, chunks: Buffer[]): Promise<void> {
  let location = await startUpload(target, repo);
  const hash = createHash('sha256');
  let offset = 0;
  for (const chunk of chunks) {
    hash.update(chunk);
    const res = await expectStatus(
      202,
      'PATCH',
      new URL(location, target.url).toString(),
      {
        ...target.headers,
        'content-type': 'application/octet-stream',
        'content-range': `${offset}-${offset + chunk.length - 1}`,
      },
      chunk,
    );
    offset += chunk.length;
    location = header(res, 'location');
  }
  const digest = `sha256:${hash.digest('hex')}`;
  await expectStatus(201, 'PUT', withQuery(target.url, location, { digest }), target.headers);
}

/**
 * The same untimed exercise for both registries before a round's first measurement: every request kind a
 * workload sends, about a hundred times or more. A server that compiles its hot paths at run time (Wharf's JIT)
 * is then measured as it runs in production, not in its first second; the reference gets the identical load.
 */
export async function warmUp(target: Target): Promise<void> {
  const layers = [];
  for (const { count, size } of WARM_BLOB_PUSHES) {
    for (let i = 0; i < count; i++) layers.push(await ensureSmallBlob(target, WARM_REPO, randomBytes(size), OCI_LAYER));
  }
  for (let i = 0; i < WARM_CHUNKED_PUSHES; i++) {
    const chunks = Array.from({ length: WARM_CHUNKS }, () => randomBytes(WARM_CHUNK_SIZE));
    await pushChunkedSmall(target, WARM_REPO, chunks);
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
