import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

const REQUEST_TIMEOUT_MS = 60_000;

export interface RegistryResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Raw /v2 requests, the way a client library speaks to the registry. */
export class RegistryHttp {
  constructor(readonly baseUrl: string) {}

  /** Resolves a Location header, which the spec allows to be relative or absolute. */
  resolve(location: string): string {
    return new URL(location, this.baseUrl).toString();
  }

  async request(
    method: string,
    pathOrUrl: string,
    init: { headers?: Record<string, string>; body?: Buffer | string } = {},
  ): Promise<RegistryResponse> {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${this.baseUrl}${pathOrUrl}`;
    const response = await fetch(url, {
      method,
      headers: init.headers,
      body: init.body,
      redirect: 'follow',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
  }

  getManifest(repository: string, reference: string, method: 'GET' | 'HEAD' = 'GET'): Promise<RegistryResponse> {
    return this.request(method, `/v2/${repository}/manifests/${reference}`, { headers: { Accept: MANIFEST_ACCEPT } });
  }

  putManifest(repository: string, reference: string, body: Buffer, mediaType: string): Promise<RegistryResponse> {
    return this.request('PUT', `/v2/${repository}/manifests/${reference}`, {
      headers: { 'Content-Type': mediaType },
      body,
    });
  }

  getBlob(repository: string, digest: string, method: 'GET' | 'HEAD' = 'GET'): Promise<RegistryResponse> {
    return this.request(method, `/v2/${repository}/blobs/${digest}`);
  }

  /** POST then PUT ?digest= with the whole blob: the two-step monolithic upload every client supports. */
  async pushBlob(repository: string, data: Buffer): Promise<string> {
    const digest = sha256(data);
    const started = await this.request('POST', `/v2/${repository}/blobs/uploads/`);
    if (started.status !== 202) throw new Error(`POST upload for ${repository}: ${started.status}`);
    const location = withDigest(this.resolve(requireHeader(started, 'location')), digest);
    const finished = await this.request('PUT', location, {
      headers: { 'Content-Type': 'application/octet-stream' },
      body: data,
    });
    if (finished.status !== 201) {
      throw new Error(`PUT upload for ${repository}: ${finished.status} ${finished.body.toString()}`);
    }
    return digest;
  }
}

export function withDigest(uploadUrl: string, digest: string): string {
  const url = new URL(uploadUrl);
  url.searchParams.set('digest', digest);
  return url.toString();
}

export function requireHeader(response: RegistryResponse, name: string): string {
  const value = response.headers.get(name);
  if (value === null) throw new Error(`response ${response.status} has no ${name} header`);
  return value;
}

/**
 * Sends a PATCH whose body is `chunk` but holds its end back: once the server has put more than `storedAtLeast`
 * bytes of the upload into `uploadFile`, `crash` is called (the server dies mid-request). Resolves once the request
 * has failed as it must then; the bytes are never acknowledged.
 */
export async function patchCutByCrash(options: {
  url: string;
  headers: Record<string, string>;
  chunk: Buffer;
  /** How much of `chunk` is sent before the crash; the rest never is. */
  sent: number;
  uploadFile: string;
  storedAtLeast: number;
  crash: () => Promise<void>;
}): Promise<void> {
  const req = httpRequest(options.url, {
    method: 'PATCH',
    agent: false,
    headers: {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(options.chunk.length),
      ...options.headers,
    },
  });
  const failed = new Promise<void>((resolve, reject) => {
    req.on('error', () => resolve());
    req.on('response', (res) => reject(new Error(`the interrupted PATCH was answered ${res.statusCode}`)));
  });
  req.write(options.chunk.subarray(0, options.sent));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const size = await stat(options.uploadFile).then(
      (info) => info.size,
      () => 0,
    );
    if (size > options.storedAtLeast) break;
    if (Date.now() > deadline) throw new Error(`the upload file never grew past ${options.storedAtLeast} bytes`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await options.crash();
  await failed;
}
