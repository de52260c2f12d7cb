import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { type CurlTransfer, curl, expectCurlStatus, removeOutputs } from './curl.js';
import { type BlobFile, type ChunkedBlob } from './data.js';
import { expectStatus, header, send, withQuery } from './http.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';

export interface Target {
  url: string;
  scratchDir: string;
  /** Sent with every request: the bearer token when the registry runs behind core's token authentication. */
  headers: Record<string, string>;
}

export interface Timed {
  seconds: number;
  bytes: number;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

export async function startUpload(target: Target, repo: string): Promise<string> {
  const res = await expectStatus(202, 'POST', `${target.url}/v2/${repo}/blobs/uploads/`, target.headers);
  return header(res, 'location');
}

/**
 * Monolithic pushes (POST, then PUT ?digest= with the whole body), sequential on one connection or
 * all at once. Time is the POSTs as measured here plus the PUTs as curl measured them, so process
 * start-up and curl reading its input files do not count.
 */
export async function pushMonolithic(
  target: Target,
  repo: string,
  blobs: BlobFile[],
  parallel: boolean,
): Promise<Timed> {
  const began = process.hrtime.bigint();
  let postSeconds: number;
  let locations: string[];
  if (parallel) {
    locations = await Promise.all(blobs.map(() => startUpload(target, repo)));
    postSeconds = seconds(began);
  } else {
    locations = [];
    for (const _ of blobs) locations.push(await startUpload(target, repo));
    postSeconds = seconds(began);
  }
  const transfers: CurlTransfer[] = blobs.map((blob, i) => ({
    method: 'PUT',
    url: withQuery(target.url, locations[i], { digest: blob.digest }),
    bodyFile: blob.path,
    headers: { ...target.headers, 'Content-Type': 'application/octet-stream' },
    output: join(target.scratchDir, `put-${i}.out`),
  }));
  try {
    const results = await curl(transfers, parallel);
    await expectCurlStatus(results, transfers, 201);
    const putSeconds = parallel
      ? Math.max(...results.map((r) => r.seconds))
      : results.reduce((sum, r) => sum + r.seconds, 0);
    return { seconds: postSeconds + putSeconds, bytes: blobs.reduce((sum, b) => sum + b.size, 0) };
  } finally {
    await removeOutputs(transfers);
  }
}

/** Chunked push: POST, one PATCH per chunk with Content-Range, following each returned Location, then PUT ?digest=. */
export async function pushChunked(target: Target, repo: string, blob: ChunkedBlob): Promise<Timed> {
  const began = process.hrtime.bigint();
  let location = await startUpload(target, repo);
  let total = seconds(began);
  const output = join(target.scratchDir, 'patch.out');
  for (const chunk of blob.chunks) {
    const transfer: CurlTransfer = {
      method: 'PATCH',
      url: new URL(location, target.url).toString(),
      bodyFile: chunk.path,
      headers: {
        ...target.headers,
        'Content-Type': 'application/octet-stream',
        'Content-Range': `${chunk.start}-${chunk.end}`,
      },
      output,
    };
    const results = await curl([transfer]);
    await expectCurlStatus(results, [transfer], 202);
    if (!results[0].location) throw new Error(`PATCH ${transfer.url} answered without a Location header`);
    location = results[0].location;
    total += results[0].seconds;
  }
  await removeOutputs([{ method: 'PATCH', url: '', output }]);
  const closing = process.hrtime.bigint();
  await expectStatus(201, 'PUT', withQuery(target.url, location, { digest: blob.digest }), target.headers);
  total += seconds(closing);
  return { seconds: total, bytes: blob.size };
}

/** Blob downloads to /dev/null; each must answer 200 with the blob's full size. */
export async function pullBlobs(target: Target, repo: string, blobs: BlobFile[], parallel: boolean): Promise<Timed> {
  const transfers: CurlTransfer[] = blobs.map((blob) => ({
    method: 'GET',
    url: `${target.url}/v2/${repo}/blobs/${blob.digest}`,
    headers: target.headers,
    output: '/dev/null',
  }));
  const results = await curl(transfers, parallel);
  await expectCurlStatus(results, transfers, 200);
  const expected = blobs.reduce((sum, b) => sum + b.size, 0);
  const received = results.reduce((sum, r) => sum + r.downloaded, 0);
  if (received !== expected) throw new Error(`pulled ${received} bytes from ${target.url}, expected ${expected}`);
  const elapsed = parallel
    ? Math.max(...results.map((r) => r.seconds))
    : results.reduce((sum, r) => sum + r.seconds, 0);
  return { seconds: elapsed, bytes: received };
}

async function blobExists(target: Target, repo: string, digest: string): Promise<boolean> {
  const res = await send('HEAD', `${target.url}/v2/${repo}/blobs/${digest}`, target.headers);
  return res.status === 200;
}

/** Untimed set-up: pushes the blob file unless the repository already has it. */
export async function ensureBlobFile(target: Target, repo: string, blob: BlobFile): Promise<Descriptor> {
  if (!(await blobExists(target, repo, blob.digest))) await pushMonolithic(target, repo, [blob], false);
  return { mediaType: OCI_LAYER, digest: blob.digest, size: blob.size };
}

/** Untimed set-up: pushes a small in-memory blob unless the repository already has it. */
export async function ensureSmallBlob(
  target: Target,
  repo: string,
  body: Buffer,
  mediaType: string,
): Promise<Descriptor> {
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  if (!(await blobExists(target, repo, digest))) {
    const location = await startUpload(target, repo);
    await expectStatus(
      201,
      'PUT',
      withQuery(target.url, location, { digest }),
      { ...target.headers, 'content-type': 'application/octet-stream' },
      body,
    );
  }
  return { mediaType, digest, size: body.length };
}

export function imageConfig(layers: Descriptor[]): Buffer {
  // Layers are stored uncompressed (OCI_LAYER), so their diff ids are their digests.
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.digest) },
    }),
  );
}

export function imageManifest(config: Descriptor, layers: Descriptor[], annotations?: Record<string, string>): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config,
      layers,
      ...(annotations ? { annotations } : {}),
    }),
  );
}

/** Pushes an image (config + the given layers) under a tag; the layers must already be in the repository. */
export async function pushImage(
  target: Target,
  repo: string,
  tag: string,
  layers: Descriptor[],
  annotations?: Record<string, string>,
): Promise<void> {
  const config = await ensureSmallBlob(target, repo, imageConfig(layers), OCI_CONFIG);
  await expectStatus(
    201,
    'PUT',
    `${target.url}/v2/${repo}/manifests/${tag}`,
    { ...target.headers, 'content-type': OCI_MANIFEST },
    imageManifest(config, layers, annotations),
  );
}

/** Lists every tag, following Link headers when the registry paginates; returns how many it saw. */
export async function listAllTags(target: Target, repo: string): Promise<number> {
  let next: string | undefined = `${target.url}/v2/${repo}/tags/list`;
  let count = 0;
  while (next) {
    const res = await expectStatus(200, 'GET', next, target.headers);
    const body = JSON.parse(res.body.toString('utf8')) as { tags?: unknown };
    if (!Array.isArray(body.tags))
      throw new Error(`GET ${next}: no tags array in ${res.body.toString('utf8', 0, 200)}`);
    count += body.tags.length;
    const link = res.headers.link;
    const match = typeof link === 'string' ? /<([^>]+)>;\s*rel="?next"?/.exec(link) : null;
    next = match ? new URL(match[1], target.url).toString() : undefined;
  }
  return count;
}
