import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { seededBytes } from '@wharf/testkit';
import { join } from 'node:path';
import { RegistryHttp, patchCutByCrash, requireHeader, sha256, withDigest } from './support/http.js';
import { onlyOnWharf, startTestRegistry, type TestRegistry } from './support/target.js';

jest.setTimeout(180_000);

describe('chunked upload across a registry restart', () => {
  let env: TestRegistry;
  let http: RegistryHttp;

  beforeAll(async () => {
    env = await startTestRegistry('upload-restart');
    http = new RegistryHttp(env.registry.url);
  });

  afterAll(async () => {
    await env?.close();
  });

  it.each([
    ['a graceful restart', false],
    ['a crash (SIGKILL) and restart', true],
  ])('resumes after %s and commits a blob equal to what was sent', async (_name, crash) => {
    const blob = seededBytes(`e2e-upload-restart-${crash}`, 3 * 1024 * 1024 + 333);
    const digest = sha256(blob);
    const split = 2 * 1024 * 1024 + 17;
    const [first, second] = [blob.subarray(0, split), blob.subarray(split)];
    const repository = crash ? 'library/crashed' : 'library/resumable';

    const started = await http.request('POST', `/v2/${repository}/blobs/uploads/`);
    expect(started.status).toBe(202);
    const uploadId = started.headers.get('docker-upload-uuid');

    const patched = await http.request('PATCH', http.resolve(requireHeader(started, 'location')), {
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Range': `0-${first.length - 1}`,
        'Content-Length': String(first.length),
      },
      body: first,
    });
    expect(patched.status).toBe(202);
    expect(patched.headers.get('range')).toBe(`0-${first.length - 1}`);
    const location = http.resolve(requireHeader(patched, 'location'));

    const pidBefore = env.registry.pid;
    if (crash) await env.registry.kill();
    await env.registry.restart();
    expect(env.registry.pid).not.toBe(pidBefore);

    const status = await http.request('GET', location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe(`0-${first.length - 1}`);
    if (uploadId !== null) expect(status.headers.get('docker-upload-uuid')).toBe(uploadId);

    const resumed = await http.request('PATCH', http.resolve(requireHeader(status, 'location')), {
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Range': `${first.length}-${blob.length - 1}`,
        'Content-Length': String(second.length),
      },
      body: second,
    });
    expect(resumed.status).toBe(202);
    expect(resumed.headers.get('range')).toBe(`0-${blob.length - 1}`);

    const committed = await http.request('PUT', withDigest(http.resolve(requireHeader(resumed, 'location')), digest), {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': '0' },
    });
    expect(committed.status).toBe(201);
    expect(committed.headers.get('docker-content-digest')).toBe(digest);

    const fetched = await http.getBlob(repository, digest);
    expect(fetched.status).toBe(200);
    expect(fetched.body.length).toBe(blob.length);
    expect(fetched.body.equals(blob)).toBe(true);
    const finishedUpload = await http.request('GET', location);
    expect(finishedUpload.status).toBe(404);
  });

  // Where a Wharf registry keeps an upload's bytes is Wharf's own layout.
  onlyOnWharf('resumes at once, from the offset a status request gives, after a crash inside a PATCH', async () => {
    const blob = seededBytes('e2e-upload-crash-in-patch', 6 * 1024 * 1024 + 101);
    const digest = sha256(blob);
    const split = 2 * 1024 * 1024 + 17;
    const repository = 'library/cut-short';
    const started = await http.request('POST', `/v2/${repository}/blobs/uploads/`);
    expect(started.status).toBe(202);
    const uploadId = requireHeader(started, 'docker-upload-uuid');
    const first = await http.request('PATCH', http.resolve(requireHeader(started, 'location')), {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${split - 1}` },
      body: blob.subarray(0, split),
    });
    expect(first.status).toBe(202);
    const location = http.resolve(requireHeader(first, 'location'));

    await patchCutByCrash({
      url: location,
      headers: { 'Content-Range': `${split}-${blob.length - 1}` },
      chunk: blob.subarray(split),
      sent: 2 * 1024 * 1024 + 512 * 1024,
      uploadFile: join(env.workDir, 'registry-data', 'registry', 'uploads', uploadId),
      storedAtLeast: split,
      crash: () => env.registry.kill(),
    });
    await env.registry.restart();

    const resumedAt = Date.now();
    const status = await http.request('GET', location);
    expect(status.status).toBe(204);
    const offset = Number(/^0-(\d+)$/.exec(requireHeader(status, 'range'))![1]) + 1;
    // Part of the cut chunk reached storage before the crash: the status counts it, and the client sends the rest.
    expect(offset).toBeGreaterThan(split);
    const rest = await http.request('PATCH', http.resolve(requireHeader(status, 'location')), {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${blob.length - 1}` },
      body: blob.subarray(offset),
    });
    expect(rest.status).toBe(202);
    expect(rest.headers.get('range')).toBe(`0-${blob.length - 1}`);
    const committed = await http.request('PUT', withDigest(http.resolve(requireHeader(rest, 'location')), digest));
    expect(committed.status).toBe(201);
    expect(Date.now() - resumedAt).toBeLessThan(5_000);

    const fetched = await http.getBlob(repository, digest);
    expect(fetched.body.equals(blob)).toBe(true);
  });

  // Distribution 2.8 ignores Content-Range on PATCH and appends anyway; the OCI spec requires a 416.
  onlyOnWharf('refuses a chunk that does not continue where the upload stands', async () => {
    const started = await http.request('POST', '/v2/library/gapped/blobs/uploads/');
    expect(started.status).toBe(202);
    const chunk = seededBytes('e2e-gap', 1000);
    const patched = await http.request('PATCH', http.resolve(requireHeader(started, 'location')), {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '0-999', 'Content-Length': '1000' },
      body: chunk,
    });
    expect(patched.status).toBe(202);

    await env.registry.restart();

    const gap = await http.request('PATCH', http.resolve(requireHeader(patched, 'location')), {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '2000-2999', 'Content-Length': '1000' },
      body: chunk,
    });
    expect(gap.status).toBe(416);
  });
});
