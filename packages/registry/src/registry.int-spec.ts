import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { Agent, type IncomingMessage, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MediaType } from '@wharf/oci';
import { startTestRegistry, type TestRegistry } from './testing/test-registry.js';
import { processHashingThread } from './uploads/hashing-thread.js';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('registry engine over HTTP (PostgreSQL + filesystem storage)', () => {
  let reg: TestRegistry;
  const url = (path: string) => `${reg.url}${path}`;

  async function pushBlob(name: string, data: Buffer): Promise<string> {
    const digest = sha(data);
    const res = await fetch(url(`/v2/${name}/blobs/uploads/?digest=${digest}`), {
      method: 'POST',
      body: data,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(res.status).toBe(201);
    return digest;
  }

  function imageManifest(config: Buffer, layers: Buffer[], extra: Record<string, unknown> = {}): Buffer {
    return Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: sha(config), size: config.length },
        layers: layers.map((l) => ({ mediaType: MediaType.OciLayerTarGzip, digest: sha(l), size: l.length })),
        ...extra,
      }),
    );
  }

  async function pushImage(name: string, tag: string, seed = randomBytes(8)) {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed: seed.toString('hex') }));
    const layer = randomBytes(1000);
    await pushBlob(name, config);
    await pushBlob(name, layer);
    const manifest = imageManifest(config, [layer]);
    const res = await fetch(url(`/v2/${name}/manifests/${tag}`), {
      method: 'PUT',
      body: manifest,
      headers: { 'content-type': MediaType.OciManifest },
    });
    expect(res.status).toBe(201);
    return { manifest, digest: sha(manifest), config, layer };
  }

  beforeAll(async () => {
    reg = await startTestRegistry();
  });
  afterAll(async () => {
    await reg?.close();
  });

  it('answers GET /v2/ with the API version header', async () => {
    const res = await fetch(url('/v2/'));
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  });

  it('uploads a blob monolithically and serves it with HEAD, GET and ranges', async () => {
    const data = randomBytes(300_000);
    const digest = await pushBlob('lib/mono', data);
    const head = await fetch(url(`/v2/lib/mono/blobs/${digest}`), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(data.length));
    expect(head.headers.get('docker-content-digest')).toBe(digest);
    const get = await fetch(url(`/v2/lib/mono/blobs/${digest}`));
    expect(Buffer.from(await get.arrayBuffer()).equals(data)).toBe(true);
    const ranged = await fetch(url(`/v2/lib/mono/blobs/${digest}`), { headers: { range: 'bytes=10-19' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 10-19/${data.length}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(10, 20))).toBe(true);
    const bad = await fetch(url(`/v2/lib/mono/blobs/${digest}`), { headers: { range: 'bytes=999999-' } });
    expect(bad.status).toBe(416);
    // Another repository does not see the blob until it is mounted or pushed there.
    expect((await fetch(url(`/v2/lib/other/blobs/${digest}`), { method: 'HEAD' })).status).toBe(404);
  });

  it('refuses a monolithic upload whose digest does not match, storing nothing', async () => {
    const data = randomBytes(1000);
    const wrong = sha(Buffer.from('something else'));
    const res = await fetch(url(`/v2/lib/bad/blobs/uploads/?digest=${wrong}`), { method: 'POST', body: data });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { code: string }[] }).errors[0].code).toBe('DIGEST_INVALID');
    expect((await fetch(url(`/v2/lib/bad/blobs/${wrong}`), { method: 'HEAD' })).status).toBe(404);
  });

  it('starts a session over from byte 0 when storage holds bytes no answer ever acknowledged', async () => {
    const data = randomBytes(200_000);
    const start = await fetch(url('/v2/lib/unacknowledged/blobs/uploads/'), { method: 'POST' });
    const location = start.headers.get('location')!;
    const uuid = location.split('/').pop()!;
    // A request that died mid-chunk (a crash before it could record or answer) left bytes behind.
    await mkdir(join(reg.storageRoot, 'uploads'), { recursive: true });
    await writeFile(join(reg.storageRoot, 'uploads', uuid), randomBytes(5000));
    const patched = await fetch(url(location), {
      method: 'PATCH',
      body: data,
      headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${data.length - 1}` },
    });
    expect(patched.status).toBe(202);
    expect(patched.headers.get('range')).toBe(`0-${data.length - 1}`);
    const done = await fetch(url(`${patched.headers.get('location')!}?digest=${sha(data)}`), { method: 'PUT' });
    expect(done.status).toBe(201);
    const blob = await fetch(url(`/v2/lib/unacknowledged/blobs/${sha(data)}`));
    expect(Buffer.from(await blob.arrayBuffer()).equals(data)).toBe(true);
  });

  it('leaves no upload data behind once a session or a monolithic upload completes', async () => {
    const data = randomBytes(300_000);
    await mkdir(join(reg.storageRoot, 'uploads'), { recursive: true });
    const before = await readdir(join(reg.storageRoot, 'uploads'));
    const start = await fetch(url('/v2/lib/no-leftovers/blobs/uploads/'), { method: 'POST' });
    const uuid = start.headers.get('location')!.split('/').pop()!;
    const done = await fetch(url(`${start.headers.get('location')!}?digest=${sha(data)}`), {
      method: 'PUT',
      body: data,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(done.status).toBe(201);
    const monolithic = await fetch(url(`/v2/lib/no-leftovers/blobs/uploads/?digest=${sha(data.subarray(1))}`), {
      method: 'POST',
      body: data.subarray(1),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(monolithic.status).toBe(201);
    await expect(stat(join(reg.storageRoot, 'uploads', uuid))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(join(reg.storageRoot, 'uploads'))).toEqual(before);
  });

  it('completes a session an earlier version opened in its own folder (uploads/<id>/data), and removes the folder', async () => {
    const data = randomBytes(2 * 1024 * 1024 + 7);
    const uuid = randomUUID();
    await reg.repository.createUpload(uuid, 'lib/legacy', `uploads/${uuid}/data`);
    const location = `/v2/lib/legacy/blobs/uploads/${uuid}`;
    const patched = await fetch(url(location), {
      method: 'PATCH',
      body: data.subarray(0, 1024 * 1024),
      headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${1024 * 1024 - 1}` },
    });
    expect(patched.status).toBe(202);
    expect((await stat(join(reg.storageRoot, 'uploads', uuid, 'data'))).size).toBe(1024 * 1024);
    const done = await fetch(url(`${location}?digest=${sha(data)}`), {
      method: 'PUT',
      body: data.subarray(1024 * 1024),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(done.status).toBe(201);
    const blob = await fetch(url(`/v2/lib/legacy/blobs/${sha(data)}`));
    expect(Buffer.from(await blob.arrayBuffer()).equals(data)).toBe(true);
    // The emptied folder is removed after the answer.
    for (let i = 0; i < 100 && (await exists(join(reg.storageRoot, 'uploads', uuid))); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await exists(join(reg.storageRoot, 'uploads', uuid))).toBe(false);
  });

  it('completes an empty session with one PUT of the whole blob, and ends it when that PUT names the wrong digest', async () => {
    const open = async () =>
      (await fetch(url('/v2/lib/one-put/blobs/uploads/'), { method: 'POST' })).headers.get('location')!;
    const put = (location: string, digest: string, body: Buffer) =>
      fetch(url(`${location}?digest=${digest}`), {
        method: 'PUT',
        body,
        headers: { 'content-type': 'application/octet-stream' },
      });
    const data = randomBytes(700_000);
    const location = await open();
    expect((await put(location, sha(data), data)).status).toBe(201);
    expect(Buffer.from(await (await fetch(url(`/v2/lib/one-put/blobs/${sha(data)}`))).arrayBuffer()).equals(data)).toBe(
      true,
    );
    expect((await fetch(url(location))).status).toBe(404);

    const sha512 = `sha512:${createHash('sha512').update(data).digest('hex')}`;
    expect((await put(await open(), sha512, data)).status).toBe(201);
    expect((await fetch(url(`/v2/lib/one-put/blobs/${sha512}`), { method: 'HEAD' })).status).toBe(200);

    const refused = await open();
    const wrong = await put(refused, sha(Buffer.from('other bytes')), data.subarray(1));
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { errors: { code: string }[] }).errors[0].code).toBe('DIGEST_INVALID');
    expect((await fetch(url(refused))).status).toBe(404);
    expect((await fetch(url(`/v2/lib/one-put/blobs/${sha(data.subarray(1))}`), { method: 'HEAD' })).status).toBe(404);

    const unknown = await put(`/v2/lib/one-put/blobs/uploads/${randomUUID()}`, sha(data), data);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { errors: { code: string }[] }).errors[0].code).toBe('BLOB_UPLOAD_UNKNOWN');
    // A session of another repository is unknown under this name.
    expect((await put(location.replace('one-put', 'other'), sha(data), data)).status).toBe(404);
  });

  it('keeps an empty session open when the PUT carrying its whole blob breaks off', async () => {
    const location = (await fetch(url('/v2/lib/broken-put/blobs/uploads/'), { method: 'POST' })).headers.get(
      'location',
    )!;
    const data = randomBytes(800_000);
    const target = new URL(url(`${location}?digest=${sha(data)}`));
    await new Promise<void>((resolve) => {
      const req = httpRequest(target, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
      });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.write(data.subarray(0, 300_000), () => setTimeout(() => req.destroy(), 50));
    });
    // The server notices the broken body; the session is still there, empty, and completes afterwards.
    let status = await fetch(url(location));
    for (let i = 0; i < 50 && status.status !== 204; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      status = await fetch(url(location));
    }
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-0');
    const done = await fetch(url(`${location}?digest=${sha(data)}`), {
      method: 'PUT',
      body: data,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(done.status).toBe(201);
  });

  it('ends an upload session whose closing PUT names the wrong digest, keeping none of its bytes', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 5);
    const wrong = sha(Buffer.from('not these bytes'));
    const start = await fetch(url('/v2/lib/bad-session/blobs/uploads/'), { method: 'POST' });
    const location = start.headers.get('location')!;
    const uuid = location.split('/').pop()!;
    const patched = await fetch(url(location), {
      method: 'PATCH',
      body: data.subarray(0, 1024 * 1024),
      headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${1024 * 1024 - 1}` },
    });
    expect(patched.status).toBe(202);
    const res = await fetch(url(`${patched.headers.get('location')!}?digest=${wrong}`), {
      method: 'PUT',
      body: data.subarray(1024 * 1024),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { code: string }[] }).errors[0].code).toBe('DIGEST_INVALID');
    expect((await fetch(url(`/v2/lib/bad-session/blobs/${wrong}`), { method: 'HEAD' })).status).toBe(404);
    expect((await fetch(url(`/v2/lib/bad-session/blobs/${sha(data)}`), { method: 'HEAD' })).status).toBe(404);
    // The session is over: its status is unknown, and its folder is gone from storage.
    expect((await fetch(url(location))).status).toBe(404);
    await expect(stat(join(reg.storageRoot, 'uploads', uuid))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('appends the body of a closing PUT without Content-Range to a session that holds bytes, leaving no copy behind', async () => {
    const data = randomBytes(2 * 1024 * 1024 + 11);
    const cut = 1024 * 1024 + 3;
    await mkdir(join(reg.storageRoot, 'uploads'), { recursive: true });
    const before = await readdir(join(reg.storageRoot, 'uploads'));
    const start = await fetch(url('/v2/lib/last-chunk/blobs/uploads/'), { method: 'POST' });
    const patched = await fetch(url(start.headers.get('location')!), {
      method: 'PATCH',
      body: data.subarray(0, cut),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(patched.status).toBe(202);
    const location = patched.headers.get('location')!;
    // A range that starts at 0 does not fit a session holding bytes: refused, and the session goes on.
    const misplaced = await fetch(url(`${location}?digest=${sha(data)}`), {
      method: 'PUT',
      body: data.subarray(cut),
      headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${data.length - cut - 1}` },
    });
    expect(misplaced.status).toBe(416);
    const status = await fetch(url(location));
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe(`0-${cut - 1}`);
    const done = await fetch(url(`${location}?digest=${sha(data)}`), {
      method: 'PUT',
      body: data.subarray(cut),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(done.status).toBe(201);
    const get = await fetch(url(`/v2/lib/last-chunk/blobs/${sha(data)}`));
    expect(Buffer.from(await get.arrayBuffer()).equals(data)).toBe(true);
    expect((await fetch(url(location))).status).toBe(404);
    // The session's folder goes after the answer; the body's own copy went before it.
    let left = await readdir(join(reg.storageRoot, 'uploads'));
    for (let i = 0; i < 50 && left.length > before.length; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      left = await readdir(join(reg.storageRoot, 'uploads'));
    }
    expect(left).toEqual(before);
  });

  /**
   * Sends the first megabyte of a PUT whose body is `data` and waits for the answer while the rest is held back
   * (failing if none comes); then sends the rest on the same connection. Resolves with the answer, its body, and
   * whether the agent's one connection was kept for the next request.
   */
  async function answeredBeforeBody(
    path: string,
    data: Buffer,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: { errors: { code: string }[] }; reused: boolean }> {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const req = httpRequest(new URL(url(path)), {
        method: 'PUT',
        agent,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length), ...headers },
      });
      const answered = new Promise<IncomingMessage>((resolve, reject) => {
        req.on('response', resolve);
        req.on('error', reject);
      });
      req.write(data.subarray(0, 1024 * 1024));
      let timer: NodeJS.Timeout | undefined;
      const res = await Promise.race([
        answered,
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error('no answer while the body was held back')), 10_000);
        }),
      ]).finally(() => clearTimeout(timer));
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      // The rest of the body is read and dropped by the server, which then serves the connection's next request.
      await new Promise<void>((resolve) => req.end(data.subarray(1024 * 1024), resolve));
      const next = await new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const probe = httpRequest(new URL(url('/v2/')), { agent }, (answer) => {
          answer.resume();
          answer.on('end', () => resolve({ status: answer.statusCode!, reused: probe.reusedSocket }));
        });
        probe.on('error', reject);
        probe.end();
      });
      expect(next.status).toBe(200);
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { errors: { code: string }[] };
      return { status: res.statusCode!, body, reused: next.reused };
    } finally {
      agent.destroy();
    }
  }

  it('answers a PUT to an unknown session before its body has arrived, and stores none of it', async () => {
    await mkdir(join(reg.storageRoot, 'uploads'), { recursive: true });
    const before = await readdir(join(reg.storageRoot, 'uploads'));
    const data = randomBytes(8 * 1024 * 1024);
    const answer = await answeredBeforeBody(`/v2/lib/early/blobs/uploads/${randomUUID()}?digest=${sha(data)}`, data);
    expect(answer.status).toBe(404);
    expect(answer.body.errors[0].code).toBe('BLOB_UPLOAD_UNKNOWN');
    expect(answer.reused).toBe(true);
    expect(await readdir(join(reg.storageRoot, 'uploads'))).toEqual(before);
    expect((await fetch(url(`/v2/lib/early/blobs/${sha(data)}`), { method: 'HEAD' })).status).toBe(404);
  });

  it('refuses a PUT from range 0 to a session holding bytes before its body has arrived, and the session goes on', async () => {
    const first = randomBytes(1000);
    const rest = randomBytes(8 * 1024 * 1024);
    const whole = Buffer.concat([first, rest]);
    const start = await fetch(url('/v2/lib/early-range/blobs/uploads/'), { method: 'POST' });
    const patched = await fetch(url(start.headers.get('location')!), {
      method: 'PATCH',
      body: first,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(patched.status).toBe(202);
    const location = patched.headers.get('location')!;
    const answer = await answeredBeforeBody(`${location}?digest=${sha(whole)}`, rest, {
      'content-range': `0-${rest.length - 1}`,
    });
    expect(answer.status).toBe(416);
    expect(answer.body.errors[0].code).toBe('BLOB_UPLOAD_INVALID');
    expect(answer.reused).toBe(true);
    const status = await fetch(url(location));
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe(`0-${first.length - 1}`);
    const done = await fetch(url(`${location}?digest=${sha(whole)}`), {
      method: 'PUT',
      body: rest,
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${first.length}-${whole.length - 1}` },
    });
    expect(done.status).toBe(201);
  });

  it('runs a chunked upload with Content-Range, status checks, and an out-of-order chunk refused with 416', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const start = await fetch(url('/v2/lib/chunked/blobs/uploads/'), { method: 'POST' });
    expect(start.status).toBe(202);
    const location = start.headers.get('location')!;
    expect(location).toMatch(/^\/v2\/lib\/chunked\/blobs\/uploads\/[0-9a-f-]{36}$/);
    const cut = 2 * 1024 * 1024;
    const first = await fetch(url(location), {
      method: 'PATCH',
      body: data.subarray(0, cut),
      headers: { 'content-range': `0-${cut - 1}`, 'content-type': 'application/octet-stream' },
    });
    expect(first.status).toBe(202);
    expect(first.headers.get('range')).toBe(`0-${cut - 1}`);
    const status = await fetch(url(location));
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe(`0-${cut - 1}`);
    expect(status.headers.get('location')).toBe(location);
    const outOfOrder = await fetch(url(location), {
      method: 'PATCH',
      body: data.subarray(cut + 5),
      headers: { 'content-range': `${cut + 5}-${data.length - 1}` },
    });
    expect(outOfOrder.status).toBe(416);
    const digest = sha(data);
    const done = await fetch(url(`${location}?digest=${digest}`), {
      method: 'PUT',
      body: data.subarray(cut),
      headers: { 'content-range': `bytes=${cut}-${data.length - 1}` },
    });
    expect(done.status).toBe(201);
    expect(done.headers.get('location')).toBe(`/v2/lib/chunked/blobs/${digest}`);
    const get = await fetch(url(`/v2/lib/chunked/blobs/${digest}`));
    expect(Buffer.from(await get.arrayBuffer()).equals(data)).toBe(true);
    expect((await fetch(url(location))).status).toBe(404);
  });

  /** Sends a whole request as given (Content-Length is the body's); its answer, or null when the connection closed without one. */
  async function sendRaw(
    method: string,
    path: string,
    body: Buffer,
    headers: Record<string, string>,
  ): Promise<{ status: number; code?: string } | null> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(new URL(url(path)), {
        method,
        agent: false,
        headers: {
          'content-type': 'application/octet-stream',
          ...(headers['transfer-encoding'] ? {} : { 'content-length': String(body.length) }),
          ...headers,
        },
      });
      req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          const code = text ? (JSON.parse(text) as { errors: { code: string }[] }).errors[0].code : undefined;
          resolve({ status: res.statusCode!, code });
        });
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ECONNRESET' || /socket hang up/.test(error.message)) resolve(null);
        else reject(error);
      });
      req.end(body);
    });
  }

  it('refuses a PATCH whose Content-Range contradicts itself or its body with 416, writing nothing', async () => {
    const location = (await fetch(url('/v2/lib/ranges/blobs/uploads/'), { method: 'POST' })).headers.get('location')!;
    const hundred = randomBytes(100);
    for (const [range, body] of [
      ['0-99/50', hundred],
      ['bytes 0-99/99', hundred],
      ['5-0', hundred],
      ['0-99', hundred.subarray(0, 50)],
      ['0-49', hundred],
    ] as const) {
      expect([range, await sendRaw('PATCH', location, body, { 'content-range': range })]).toEqual([
        range,
        { status: 416, code: 'BLOB_UPLOAD_INVALID' },
      ]);
      const status = await fetch(url(location));
      expect([range, status.headers.get('range')]).toEqual([range, '0-0']);
    }
    expect(await sendRaw('PATCH', location, hundred, { 'content-range': '0-99/*' })).toEqual({ status: 202 });
    expect(await sendRaw('PATCH', location, hundred, { 'content-range': '100-199/200' })).toEqual({ status: 202 });
    const done = await fetch(url(`${location}?digest=${sha(Buffer.concat([hundred, hundred]))}`), { method: 'PUT' });
    expect(done.status).toBe(201);
  });

  it('answers a closing PUT whose Content-Range does not match its body, and the session goes on', async () => {
    const first = randomBytes(100);
    const last = randomBytes(100);
    const whole = Buffer.concat([first, last]);
    const location = (await fetch(url('/v2/lib/put-ranges/blobs/uploads/'), { method: 'POST' })).headers.get(
      'location',
    )!;
    const put = (body: Buffer, range: string) =>
      sendRaw('PUT', `${location}?digest=${sha(whole)}`, body, { 'content-range': range });
    // A session without bytes yet, then one that holds some.
    for (const [range, body] of [
      ['0-199', whole.subarray(0, 150)],
      ['0-99', whole],
      ['0-199/100', whole],
    ] as const) {
      expect([range, await put(body, range)]).toEqual([range, { status: 416, code: 'BLOB_UPLOAD_INVALID' }]);
      expect((await fetch(url(location))).headers.get('range')).toBe('0-0');
    }
    // Without a Content-Length, a body found longer than its range while it arrives.
    const chunked = await sendRaw('PUT', `${location}?digest=${sha(whole)}`, whole, {
      'content-range': '0-99',
      'transfer-encoding': 'chunked',
    });
    expect(chunked).toEqual({ status: 400, code: 'SIZE_INVALID' });
    expect((await fetch(url(location))).headers.get('range')).toBe('0-0');
    expect(await sendRaw('PATCH', location, first, { 'content-range': '0-99' })).toEqual({ status: 202 });
    const chunkedLast = await sendRaw('PUT', `${location}?digest=${sha(whole)}`, whole, {
      'content-range': '100-199',
      'transfer-encoding': 'chunked',
    });
    expect(chunkedLast).toEqual({ status: 400, code: 'SIZE_INVALID' });
    expect((await fetch(url(location))).headers.get('range')).toBe('0-99');
    for (const [range, body] of [
      ['100-199', last.subarray(0, 50)],
      ['100-149', last],
      ['150-199', last.subarray(50)],
    ] as const) {
      expect([range, await put(body, range)]).toEqual([range, { status: 416, code: 'BLOB_UPLOAD_INVALID' }]);
      expect((await fetch(url(location))).headers.get('range')).toBe('0-99');
    }
    expect(await put(last, '100-199')).toEqual({ status: 201 });
    const blob = await fetch(url(`/v2/lib/put-ranges/blobs/${sha(whole)}`));
    expect(Buffer.from(await blob.arrayBuffer()).equals(whole)).toBe(true);
  });

  it("stops a chunk whose process lost its hold on the upload's lease, and the upload resumes from its status", async () => {
    const data = randomBytes(5 * 1024 * 1024 + 77);
    const first = 1024 * 1024;
    const start = await fetch(url('/v2/lib/unheld/blobs/uploads/'), { method: 'POST' });
    const location = start.headers.get('location')!;
    const file = join(reg.storageRoot, 'uploads', location.split('/').pop()!);
    expect(await sendRaw('PATCH', location, data.subarray(0, first), { 'content-range': `0-${first - 1}` })).toEqual({
      status: 202,
    });
    const req = httpRequest(new URL(url(location)), {
      method: 'PATCH',
      agent: false,
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(data.length - first),
        'content-range': `${first}-${data.length - 1}`,
      },
    });
    const answer = new Promise<{ status: number; code?: string }>((resolve, reject) => {
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          const code = text ? (JSON.parse(text) as { errors: { code: string }[] }).errors[0].code : undefined;
          resolve({ status: res.statusCode!, code });
        });
      });
      req.on('error', reject);
    });
    req.write(data.subarray(first, first + 2 * 1024 * 1024 + 512 * 1024));
    while ((await stat(file)).size <= first) await new Promise((resolve) => setTimeout(resolve, 10));
    // The connection that holds the process's lock ends (a database restart, a network cut) while the chunk arrives.
    // Its backend is waited for until it has exited, and the registry (this process) then given a moment to read that
    // its connection ended: otherwise, on a busy machine, the rest of the chunk may be written before it knows.
    const ended = await reg.dataSource.query<{ ended: boolean }[]>(
      `SELECT pg_terminate_backend(pid, 5000) AS ended FROM pg_stat_activity
       WHERE datname = current_database() AND application_name LIKE '%-upload-leases'`,
    );
    expect(ended).toEqual([{ ended: true }]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    req.end(data.subarray(first + 2 * 1024 * 1024 + 512 * 1024));
    expect(await answer).toEqual({ status: 416, code: 'BLOB_UPLOAD_INVALID' });

    const status = await fetch(url(location));
    expect(status.status).toBe(204);
    const offset = Number(/^0-(\d+)$/.exec(status.headers.get('range')!)![1]) + 1;
    expect(offset).toBeGreaterThanOrEqual(first);
    expect(offset).toBeLessThan(data.length);
    expect(
      await sendRaw('PATCH', location, data.subarray(offset), { 'content-range': `${offset}-${data.length - 1}` }),
    ).toEqual({ status: 202 });
    expect((await fetch(url(`${location}?digest=${sha(data)}`), { method: 'PUT' })).status).toBe(201);
    const blob = await fetch(url(`/v2/lib/unheld/blobs/${sha(data)}`));
    expect(Buffer.from(await blob.arrayBuffer()).equals(data)).toBe(true);
  });

  it('streams a PATCH without Content-Range and completes with an empty PUT', async () => {
    const data = randomBytes(500_000);
    const start = await fetch(url('/v2/lib/stream/blobs/uploads/'), { method: 'POST' });
    const location = start.headers.get('location')!;
    const patch = await fetch(url(location), { method: 'PATCH', body: data });
    expect(patch.status).toBe(202);
    const done = await fetch(url(`${location}?digest=${sha(data)}`), { method: 'PUT' });
    expect(done.status).toBe(201);
  });

  it('completes an upload whose hash was lost with the hashing thread, by reading back what was stored', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 123);
    const start = await fetch(url('/v2/lib/rehash/blobs/uploads/'), { method: 'POST' });
    let location = start.headers.get('location')!;
    const first = await fetch(url(location), {
      method: 'PATCH',
      body: data.subarray(0, 2 * 1024 * 1024 + 1),
      headers: { 'content-range': `0-${2 * 1024 * 1024}` },
    });
    expect(first.status).toBe(202);
    location = first.headers.get('location')!;
    // The thread holding the session's hash stops; the next request starts a new one and re-reads the stored bytes.
    await processHashingThread().stop();
    const wrong = await fetch(url(`${location}?digest=${sha('something else')}`), {
      method: 'PUT',
      body: data.subarray(2 * 1024 * 1024 + 1),
    });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { errors: { code: string }[] }).errors[0].code).toBe('DIGEST_INVALID');

    const again = await fetch(url('/v2/lib/rehash/blobs/uploads/'), { method: 'POST' });
    location = again.headers.get('location')!;
    const part = await fetch(url(location), { method: 'PATCH', body: data.subarray(0, 1024 * 1024 + 5) });
    expect(part.status).toBe(202);
    await processHashingThread().stop();
    const done = await fetch(url(`${part.headers.get('location')!}?digest=${sha(data)}`), {
      method: 'PUT',
      body: data.subarray(1024 * 1024 + 5),
    });
    expect(done.status).toBe(201);
    const get = await fetch(url(`/v2/lib/rehash/blobs/${sha(data)}`));
    expect(Buffer.from(await get.arrayBuffer()).equals(data)).toBe(true);
  });

  it('cancels an upload with DELETE', async () => {
    const start = await fetch(url('/v2/lib/cancel/blobs/uploads/'), { method: 'POST' });
    const location = start.headers.get('location')!;
    expect((await fetch(url(location), { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(url(location))).status).toBe(404);
  });

  it('mounts a blob across repositories with mount+from, and opens a session for mount without from', async () => {
    const data = randomBytes(2048);
    const digest = await pushBlob('lib/source', data);
    const mounted = await fetch(url(`/v2/lib/target/blobs/uploads/?mount=${digest}&from=lib/source`), {
      method: 'POST',
    });
    expect(mounted.status).toBe(201);
    expect(mounted.headers.get('location')).toBe(`/v2/lib/target/blobs/${digest}`);
    expect((await fetch(url(`/v2/lib/target/blobs/${digest}`), { method: 'HEAD' })).status).toBe(200);
    const noFrom = await fetch(url(`/v2/lib/target2/blobs/uploads/?mount=${digest}`), { method: 'POST' });
    expect(noFrom.status).toBe(202);
    const missing = await fetch(url(`/v2/lib/target3/blobs/uploads/?mount=${sha('x')}&from=lib/source`), {
      method: 'POST',
    });
    expect(missing.status).toBe(202);
    // A `from` that names no repository (a NUL, which PostgreSQL cannot even compare, or a path that is not a name)
    // mounts nothing: an ordinary session opens, as for any blob that cannot be mounted.
    for (const from of ['lib%00source', 'lib/Source', '..%2Fsource']) {
      const invalid = await fetch(url(`/v2/lib/target4/blobs/uploads/?mount=${digest}&from=${from}`), {
        method: 'POST',
      });
      expect([from, invalid.status]).toEqual([from, 202]);
    }
  });

  it('pushes, negotiates, lists and deletes manifests and tags', async () => {
    const a = await pushImage('lib/app', 'v1');
    const get = await fetch(url('/v2/lib/app/manifests/v1'), { headers: { accept: MediaType.OciManifest } });
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toBe(MediaType.OciManifest);
    expect(get.headers.get('docker-content-digest')).toBe(a.digest);
    expect(Buffer.from(await get.arrayBuffer()).equals(a.manifest)).toBe(true);
    const head = await fetch(url(`/v2/lib/app/manifests/${a.digest}`), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(a.manifest.length));
    const refused = await fetch(url('/v2/lib/app/manifests/v1'), { headers: { accept: MediaType.DockerManifest } });
    expect(refused.status).toBe(404);
    for (const tag of ['v3', 'v2', 'a', 'B']) {
      const res = await fetch(url(`/v2/lib/app/manifests/${tag}`), {
        method: 'PUT',
        body: a.manifest,
        headers: { 'content-type': MediaType.OciManifest },
      });
      expect(res.status).toBe(201);
    }
    const all = (await (await fetch(url('/v2/lib/app/tags/list'))).json()) as { tags: string[] };
    expect(all.tags).toEqual(['B', 'a', 'v1', 'v2', 'v3']);
    const page = await fetch(url('/v2/lib/app/tags/list?n=2'));
    expect(((await page.json()) as { tags: string[] }).tags).toEqual(['B', 'a']);
    expect(page.headers.get('link')).toBe('</v2/lib/app/tags/list?n=2&last=a>; rel="next"');
    const rest = (await (await fetch(url('/v2/lib/app/tags/list?n=10&last=v1'))).json()) as { tags: string[] };
    expect(rest.tags).toEqual(['v2', 'v3']);
    expect((await fetch(url('/v2/lib/app/manifests/v2'), { method: 'DELETE' })).status).toBe(202);
    expect((await fetch(url('/v2/lib/app/manifests/v2'))).status).toBe(404);
    expect((await fetch(url(`/v2/lib/app/manifests/${a.digest}`), { method: 'DELETE' })).status).toBe(202);
    expect((await fetch(url('/v2/lib/app/manifests/v1'))).status).toBe(404);
    expect((await fetch(url('/v2/nope/tags/list'))).status).toBe(404);
  });

  it('refuses bad manifests with the right codes and stores nothing', async () => {
    const put = (ref: string, body: Buffer | string, type: string = MediaType.OciManifest) =>
      fetch(url(`/v2/lib/refuse/manifests/${ref}`), { method: 'PUT', body, headers: { 'content-type': type } });
    const codeOf = async (res: Response) => ((await res.json()) as { errors: { code: string }[] }).errors[0].code;
    let res = await put('t', '{not json');
    expect(res.status).toBe(400);
    expect(await codeOf(res)).toBe('MANIFEST_INVALID');
    const unknownLayer = imageManifest(Buffer.from('{}'), [Buffer.from('never pushed')]);
    res = await put('t', unknownLayer);
    expect(res.status).toBe(400);
    expect(await codeOf(res)).toBe('MANIFEST_BLOB_UNKNOWN');
    const config = Buffer.from('{}');
    await pushBlob('lib/refuse', config);
    const ok = imageManifest(config, []);
    res = await put(sha('different'), ok);
    expect(res.status).toBe(400);
    expect(await codeOf(res)).toBe('DIGEST_INVALID');
    res = await put(
      't',
      JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }),
      MediaType.DockerManifestSchema1Signed,
    );
    expect(res.status).toBe(400);
    expect(await codeOf(res)).toBe('MANIFEST_INVALID');
    res = await put('t', Buffer.concat([ok.subarray(0, -1), Buffer.from(`,"x":"${'a'.repeat(5 * 1024 * 1024)}"}`)]));
    expect(res.status).toBe(413);
    expect(await codeOf(res)).toBe('MANIFEST_INVALID');
    expect((await fetch(url('/v2/lib/refuse/manifests/t'))).status).toBe(404);
    const tags = (await (await fetch(url('/v2/lib/refuse/tags/list'))).json()) as { tags: string[] };
    expect(tags.tags).toEqual([]);
  });

  it('refuses a manifest whose descriptors misstate what is stored, naming the descriptor, and stores nothing', async () => {
    const name = 'lib/lying';
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const layer = randomBytes(8000);
    await pushBlob(name, config);
    await pushBlob(name, layer);
    const child = await pushImage(name, 'child');
    const put = (ref: string, body: Buffer, type: string = MediaType.OciManifest) =>
      fetch(url(`/v2/${name}/manifests/${ref}`), { method: 'PUT', body, headers: { 'content-type': type } });
    const errorOf = async (res: Response) =>
      ((await res.json()) as { errors: { code: string; message: string; detail: unknown }[] }).errors[0];
    const image = (configSize: number, layerSize: number, layerType: string = MediaType.OciLayerTarGzip) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          config: { mediaType: MediaType.OciConfig, digest: sha(config), size: configSize },
          layers: [{ mediaType: layerType, digest: sha(layer), size: layerSize }],
        }),
      );

    let res = await put('small-layer', image(config.length, 1));
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toEqual({
      code: 'SIZE_INVALID',
      message: `layers[0] states 1 bytes, but ${sha(layer)} holds 8000`,
      detail: { digest: sha(layer), size: 1, stored: 8000 },
    });
    res = await put('big-config', image(config.length + 1, layer.length));
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/^config states/);

    // A layer that is a manifest of the repository, not a blob, is unknown as a blob.
    const asManifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: sha(config), size: config.length },
        layers: [{ mediaType: MediaType.OciManifest, digest: child.digest, size: child.manifest.length }],
      }),
    );
    res = await put('manifest-layer', asManifest);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('MANIFEST_BLOB_UNKNOWN');

    const index = (children: Record<string, unknown>[]) =>
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: children }));
    const childDescriptor = { mediaType: MediaType.OciManifest, digest: child.digest, size: child.manifest.length };
    res = await put('small-child', index([{ ...childDescriptor, size: 10 }]), MediaType.OciIndex);
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({
      code: 'SIZE_INVALID',
      message: expect.stringMatching(/^manifests\[0\]/),
    });
    res = await put(
      'typed-child',
      index([{ ...childDescriptor, mediaType: MediaType.DockerManifest }]),
      MediaType.OciIndex,
    );
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({
      code: 'MANIFEST_INVALID',
      message: expect.stringMatching(/^manifests\[0\]/),
    });
    // An index child must be a manifest: a blob of the repository is not one.
    const blobChild = { mediaType: MediaType.OciManifest, digest: sha(layer), size: layer.length };
    res = await put('blob-child', index([blobChild]), MediaType.OciIndex);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('MANIFEST_BLOB_UNKNOWN');

    const tags = (await (await fetch(url(`/v2/${name}/tags/list`))).json()) as { tags: string[] };
    expect(tags.tags).toEqual(['child']);
    // Stated truthfully, the same image and index are stored.
    expect((await put('good', image(config.length, layer.length))).status).toBe(201);
    expect((await put('good-index', index([childDescriptor]), MediaType.OciIndex)).status).toBe(201);
  });

  it('refuses image manifests without layers and documents that are both index and image', async () => {
    const config = Buffer.from('{}');
    await pushBlob('lib/schema', config);
    const codeOf = async (res: Response) => ((await res.json()) as { errors: { code: string }[] }).errors[0].code;
    const put = (ref: string, json: Record<string, unknown>, type: string) =>
      fetch(url(`/v2/lib/schema/manifests/${ref}`), {
        method: 'PUT',
        body: JSON.stringify({ schemaVersion: 2, mediaType: type, ...json }),
        headers: { 'content-type': type },
      });
    const configDescriptor = { mediaType: MediaType.OciConfig, digest: sha(config), size: config.length };
    for (const [ref, json, type] of [
      ['null-layers', { config: configDescriptor, layers: null }, MediaType.OciManifest],
      ['no-layers', { config: configDescriptor }, MediaType.OciManifest],
      [
        'docker-no-layers',
        { config: { ...configDescriptor, mediaType: MediaType.DockerConfig } },
        MediaType.DockerManifest,
      ],
      ['image-with-manifests', { config: configDescriptor, layers: [], manifests: [] }, MediaType.OciManifest],
      ['index-with-layers', { manifests: [], layers: [] }, MediaType.OciIndex],
      ['index-null-manifests', { manifests: null }, MediaType.OciIndex],
    ] as const) {
      const res = await put(ref, json, type);
      expect([ref, res.status]).toEqual([ref, 400]);
      expect(await codeOf(res)).toBe('MANIFEST_INVALID');
    }
    const tags = (await (await fetch(url('/v2/lib/schema/tags/list'))).json()) as { tags: string[] };
    expect(tags.tags).toEqual([]);
    expect((await put('empty-layers', { config: configDescriptor, layers: [] }, MediaType.OciManifest)).status).toBe(
      201,
    );
  });

  it('refuses a manifest whose annotations hold a NUL character, and stores nothing', async () => {
    const put = (ref: string, annotations: Record<string, string>) =>
      fetch(url(`/v2/lib/annotated/manifests/${ref}`), {
        method: 'PUT',
        body: JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [], annotations }),
        headers: { 'content-type': MediaType.OciIndex },
      });
    for (const [ref, annotations] of [
      ['nul-value', { 'org.opencontainers.image.created': 'now\u0000' }],
      ['nul-key', { 'org.example\u0000': 'x' }],
    ] as const) {
      const res = await put(ref, annotations);
      expect([ref, res.status]).toEqual([ref, 400]);
      expect(((await res.json()) as { errors: { code: string }[] }).errors[0].code).toBe('MANIFEST_INVALID');
    }
    expect((await fetch(url('/v2/lib/annotated/manifests/nul-value'))).status).toBe(404);
    expect((await put('plain', { 'org.opencontainers.image.created': 'now' })).status).toBe(201);
  });

  it('stores an index only when its children exist, and serves referrers with artifactType filtering', async () => {
    const child = await pushImage('lib/multi', 'amd64');
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [{ mediaType: MediaType.OciManifest, digest: child.digest, size: child.manifest.length }],
      }),
    );
    const put = await fetch(url('/v2/lib/multi/manifests/latest'), {
      method: 'PUT',
      body: index,
      headers: { 'content-type': MediaType.OciIndex },
    });
    expect(put.status).toBe(201);
    const orphanIndex = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [{ mediaType: MediaType.OciManifest, digest: sha('nothing'), size: 3 }],
      }),
    );
    const refused = await fetch(url('/v2/lib/multi/manifests/broken'), {
      method: 'PUT',
      body: orphanIndex,
      headers: { 'content-type': MediaType.OciIndex },
    });
    expect(refused.status).toBe(400);

    // Referrers, including ones whose subject was never pushed.
    const empty = Buffer.from('{}');
    await pushBlob('lib/multi', empty);
    const subjects = [child.digest, sha('not pushed')];
    for (const subject of subjects) {
      for (const artifactType of ['application/vnd.example.sbom', 'application/vnd.example.sig']) {
        const artifact = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: MediaType.OciManifest,
            artifactType,
            config: { mediaType: MediaType.OciEmpty, digest: sha(empty), size: 2 },
            layers: [],
            subject: { mediaType: MediaType.OciManifest, digest: subject, size: 10 },
          }),
        );
        const res = await fetch(url(`/v2/lib/multi/manifests/${sha(artifact)}`), {
          method: 'PUT',
          body: artifact,
          headers: { 'content-type': MediaType.OciManifest },
        });
        expect(res.status).toBe(201);
        expect(res.headers.get('oci-subject')).toBe(subject);
      }
    }
    for (const subject of subjects) {
      const all = await fetch(url(`/v2/lib/multi/referrers/${subject}`));
      expect(all.status).toBe(200);
      expect(all.headers.get('content-type')).toBe(MediaType.OciIndex);
      expect(all.headers.get('oci-filters-applied')).toBeNull();
      const body = (await all.json()) as { manifests: { artifactType: string }[] };
      expect(body.manifests.map((m) => m.artifactType).sort()).toEqual([
        'application/vnd.example.sbom',
        'application/vnd.example.sig',
      ]);
      const filtered = await fetch(url(`/v2/lib/multi/referrers/${subject}?artifactType=application/vnd.example.sig`));
      expect(filtered.headers.get('oci-filters-applied')).toBe('artifactType');
      expect(((await filtered.json()) as { manifests: unknown[] }).manifests).toHaveLength(1);
    }
    const none = (await (await fetch(url(`/v2/lib/multi/referrers/${sha('nobody')}`))).json()) as {
      manifests: unknown[];
    };
    expect(none.manifests).toEqual([]);
  });

  it('paginates the catalog', async () => {
    const first = await fetch(url('/v2/_catalog?n=2'));
    const body = (await first.json()) as { repositories: string[] };
    expect(body.repositories).toHaveLength(2);
    expect(first.headers.get('link')).toContain(`last=${encodeURIComponent(body.repositories[1])}`);
    const all = (await (await fetch(url('/v2/_catalog'))).json()) as { repositories: string[] };
    expect(all.repositories).toEqual([...all.repositories].sort());
    expect(all.repositories).toContain('lib/app');
    expect((await fetch(url('/v2/_catalog?n=abc'))).status).toBe(400);
  });

  it('refuses names that try to escape storage', async () => {
    for (const path of ['/v2/lib/..%2Fetc/tags/list', '/v2/lib%2F..%2F..%2Fx/tags/list', '/v2/Upper/tags/list']) {
      const res = await fetch(url(path));
      expect(res.status).toBe(400);
      expect(((await res.json()) as { errors: { code: string }[] }).errors[0].code).toBe('NAME_INVALID');
    }
  });

  it('records push, pull and delete events in the outbox', async () => {
    const img = await pushImage('lib/events', 'e1');
    await (await fetch(url('/v2/lib/events/manifests/e1'))).arrayBuffer();
    expect((await fetch(url(`/v2/lib/events/manifests/${img.digest}`), { method: 'DELETE' })).status).toBe(202);
    await reg.app.close();
    const rows = await reg.dataSource.query<{ type: string }[]>(
      `SELECT type FROM event_outbox WHERE payload->>'repository' = 'lib/events' ORDER BY id`,
    );
    expect(rows.map((r) => r.type).sort()).toEqual(['DELETE_ARTIFACT', 'PULL_ARTIFACT', 'PUSH_ARTIFACT']);
  });
});
