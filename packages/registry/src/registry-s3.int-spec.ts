import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MediaType } from '@wharf/oci';
import { S3_MIN_PART_SIZE } from '@wharf/storage';
import { type TestDatabase, createTestDatabase } from '@wharf/testkit';
import { type EmulatedS3, startEmulatedS3 } from './testing/emulated-s3.js';
import { startTestRegistry, type TestRegistry } from './testing/test-registry.js';

const MiB = 1024 * 1024;
const SLOW = 120_000;

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const bytesOf = async (res: Response) => Buffer.from(await res.arrayBuffer());

describe('registry engine on S3 storage (S3 emulated by s3rver)', () => {
  let s3: EmulatedS3;
  let database: TestDatabase;
  let reg: TestRegistry;
  const url = (path: string, base = reg.url) => `${base}${path}`;

  async function pushBlob(base: string, name: string, data: Buffer): Promise<string> {
    const digest = sha(data);
    const res = await fetch(url(`/v2/${name}/blobs/uploads/?digest=${digest}`, base), {
      method: 'POST',
      body: data,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(res.status).toBe(201);
    return digest;
  }

  async function openUpload(base: string, name: string): Promise<string> {
    const res = await fetch(url(`/v2/${name}/blobs/uploads/`, base), { method: 'POST' });
    expect(res.status).toBe(202);
    return res.headers.get('location')!;
  }

  async function patchChunk(base: string, location: string, data: Buffer, start: number): Promise<Response> {
    return fetch(url(location, base), {
      method: 'PATCH',
      body: data,
      headers: { 'content-range': `${start}-${start + data.length - 1}`, 'content-type': 'application/octet-stream' },
    });
  }

  async function uploadedRange(base: string, location: string): Promise<string | null> {
    const res = await fetch(url(location, base));
    expect(res.status).toBe(204);
    return res.headers.get('range');
  }

  beforeAll(async () => {
    s3 = await startEmulatedS3();
    database = await createTestDatabase('wharf_registry_s3_spec');
    reg = await startTestRegistry({ storage: s3.driver() }, database);
  }, SLOW);
  afterAll(async () => {
    await reg?.close();
    await s3?.stop();
    await database?.drop();
  }, SLOW);

  it(
    'uploads a blob monolithically into the bucket and serves it with HEAD, GET and ranges',
    async () => {
      const data = randomBytes(300_000);
      const digest = await pushBlob(reg.url, 'lib/mono', data);
      const stored = await s3.driver().stat(`blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`);
      expect(stored?.size).toBe(data.length);

      const head = await fetch(url(`/v2/lib/mono/blobs/${digest}`), { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(data.length));
      expect(head.headers.get('docker-content-digest')).toBe(digest);
      const get = await fetch(url(`/v2/lib/mono/blobs/${digest}`));
      expect(get.status).toBe(200);
      expect((await bytesOf(get)).equals(data)).toBe(true);
      const ranged = await fetch(url(`/v2/lib/mono/blobs/${digest}`), { headers: { range: 'bytes=100-199' } });
      expect(ranged.status).toBe(206);
      expect(ranged.headers.get('content-range')).toBe(`bytes 100-199/${data.length}`);
      expect((await bytesOf(ranged)).equals(data.subarray(100, 200))).toBe(true);
      const suffix = await fetch(url(`/v2/lib/mono/blobs/${digest}`), { headers: { range: 'bytes=-10' } });
      expect(suffix.status).toBe(206);
      expect((await bytesOf(suffix)).equals(data.subarray(data.length - 10))).toBe(true);
      const open = await fetch(url(`/v2/lib/mono/blobs/${digest}`), { headers: { range: 'bytes=299990-' } });
      expect(open.status).toBe(206);
      expect((await bytesOf(open)).equals(data.subarray(299_990))).toBe(true);
      const beyond = await fetch(url(`/v2/lib/mono/blobs/${digest}`), { headers: { range: 'bytes=300000-' } });
      expect(beyond.status).toBe(416);
      expect((await fetch(url(`/v2/lib/elsewhere/blobs/${digest}`), { method: 'HEAD' })).status).toBe(404);

      // Larger than two parts: written as a multipart upload rather than a single PUT.
      const large = randomBytes(2 * S3_MIN_PART_SIZE + 1);
      const largeDigest = await pushBlob(reg.url, 'lib/mono', large);
      const largeGet = await fetch(url(`/v2/lib/mono/blobs/${largeDigest}`));
      expect(largeGet.headers.get('content-length')).toBe(String(large.length));
      expect((await bytesOf(largeGet)).equals(large)).toBe(true);
    },
    SLOW,
  );

  it('completes an upload that received no bytes as the empty blob', async () => {
    const location = await openUpload(reg.url, 'lib/empty');
    const digest = sha(Buffer.alloc(0));
    const done = await fetch(url(`${location}?digest=${digest}`), { method: 'PUT' });
    expect(done.status).toBe(201);
    const head = await fetch(url(`/v2/lib/empty/blobs/${digest}`), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('0');
    const get = await fetch(url(`/v2/lib/empty/blobs/${digest}`));
    expect(get.status).toBe(200);
    expect((await bytesOf(get)).length).toBe(0);
  });

  it(
    'runs a chunked upload of over 12 MiB in small and part-crossing chunks, with status checks, and reads it back',
    async () => {
      // Chunk sizes around the 5 MiB part size: two small chunks, one that crosses a part boundary, a small one
      // appended to an object already over 5 MiB, and a final chunk with the PUT.
      const sizes = [MiB + 3, 2 * MiB, 6 * MiB, 3 * MiB - 7, MiB + 100];
      const data = randomBytes(sizes.reduce((a, b) => a + b, 0));
      expect(data.length).toBeGreaterThan(12 * MiB);
      const multipartBefore = s3.completedUploads.length;
      const location = await openUpload(reg.url, 'lib/chunked');
      expect(await uploadedRange(reg.url, location)).toBe('0-0');

      let offset = 0;
      for (const size of sizes.slice(0, -1)) {
        const res = await patchChunk(reg.url, location, data.subarray(offset, offset + size), offset);
        expect(res.status).toBe(202);
        offset += size;
        expect(res.headers.get('range')).toBe(`0-${offset - 1}`);
        expect(res.headers.get('location')).toBe(location);
        expect(await uploadedRange(reg.url, location)).toBe(`0-${offset - 1}`);
      }

      // A chunk that does not continue where the upload stands is refused and changes nothing.
      const gap = await patchChunk(reg.url, location, data.subarray(offset + 1), offset + 1);
      expect(gap.status).toBe(416);
      expect(await uploadedRange(reg.url, location)).toBe(`0-${offset - 1}`);

      const digest = sha(data);
      const done = await fetch(url(`${location}?digest=${digest}`), {
        method: 'PUT',
        body: data.subarray(offset),
        headers: { 'content-range': `${offset}-${data.length - 1}`, 'content-type': 'application/octet-stream' },
      });
      expect(done.status).toBe(201);
      expect(done.headers.get('location')).toBe(`/v2/lib/chunked/blobs/${digest}`);
      expect(done.headers.get('docker-content-digest')).toBe(digest);
      expect(s3.refusedCompletions).toEqual([]);
      // The bytes went to S3 as multipart uploads, every part but the last at least 5 MiB as S3 requires.
      const multipart = s3.completedUploads.slice(multipartBefore);
      expect(multipart.some((parts) => parts.length > 1)).toBe(true);
      for (const parts of multipart) {
        for (const size of parts.slice(0, -1)) expect(size).toBeGreaterThanOrEqual(S3_MIN_PART_SIZE);
      }

      const get = await fetch(url(`/v2/lib/chunked/blobs/${digest}`));
      expect(get.status).toBe(200);
      expect(get.headers.get('content-length')).toBe(String(data.length));
      expect((await bytesOf(get)).equals(data)).toBe(true);
      const acrossPart = await fetch(url(`/v2/lib/chunked/blobs/${digest}`), {
        headers: { range: `bytes=${5 * MiB - 10}-${5 * MiB + 9}` },
      });
      expect(acrossPart.status).toBe(206);
      expect((await bytesOf(acrossPart)).equals(data.subarray(5 * MiB - 10, 5 * MiB + 10))).toBe(true);
      expect((await fetch(url(location))).status).toBe(404);
      expect(await s3.driver().stat(`uploads/${location.split('/').pop()!}`)).toBeNull();
    },
    SLOW,
  );

  it(
    'resumes a chunked upload on a second engine, with a new S3 driver, after the first engine has closed',
    async () => {
      const data = randomBytes(13 * MiB + 12_345);
      const first = await startTestRegistry({ storage: s3.driver() }, database);
      let location: string;
      let offset = 0;
      try {
        location = await openUpload(first.url, 'lib/resumed');
        for (const size of [6 * MiB, MiB + 1]) {
          const res = await patchChunk(first.url, location, data.subarray(offset, offset + size), offset);
          expect(res.status).toBe(202);
          offset += size;
        }
      } finally {
        await first.close();
      }

      const second = await startTestRegistry({ storage: s3.driver() }, database);
      try {
        expect(await uploadedRange(second.url, location)).toBe(`0-${offset - 1}`);
        const stale = await patchChunk(second.url, location, data.subarray(0, MiB), 0);
        expect(stale.status).toBe(416);
        const next = await patchChunk(second.url, location, data.subarray(offset, offset + 2 * MiB), offset);
        expect(next.status).toBe(202);
        offset += 2 * MiB;
        expect(next.headers.get('range')).toBe(`0-${offset - 1}`);

        const digest = sha(data);
        const done = await fetch(url(`${location}?digest=${digest}`, second.url), {
          method: 'PUT',
          body: data.subarray(offset),
          headers: { 'content-range': `${offset}-${data.length - 1}` },
        });
        expect(done.status).toBe(201);
        expect(s3.refusedCompletions).toEqual([]);
        const get = await fetch(url(`/v2/lib/resumed/blobs/${digest}`, second.url));
        expect((await bytesOf(get)).equals(data)).toBe(true);
        // The first engine's database and bucket are shared, so the blob is visible to every engine.
        const elsewhere = await fetch(url(`/v2/lib/resumed/blobs/${digest}`), { method: 'HEAD' });
        expect(elsewhere.headers.get('content-length')).toBe(String(data.length));
      } finally {
        await second.close();
      }
    },
    SLOW,
  );

  it(
    'reports, and continues from, what a writer that died left in the bucket, without waiting for its lease',
    async () => {
      const data = randomBytes(3 * MiB + 333);
      const [recorded, lost] = [MiB + 3, 2 * MiB];
      const location = await openUpload(reg.url, 'lib/died');
      const id = location.split('/').pop()!;
      expect((await patchChunk(reg.url, location, data.subarray(0, recorded), 0)).status).toBe(202);
      // A writer in a process that died after its object was complete and before it could record it: the object
      // holds more than the session, whose lease still runs and names a holder whose lock nobody holds.
      await s3.driver().putContent(`uploads/${id}`, data.subarray(0, recorded + lost));
      await reg.dataSource.query(
        `UPDATE registry_upload SET lease_owner = gen_random_uuid(), lease_until = now() + interval '10 minutes',
           lease_holder = 12345 WHERE id = $1`,
        [id],
      );

      expect(await uploadedRange(reg.url, location)).toBe(`0-${recorded + lost - 1}`);
      const next = await patchChunk(reg.url, location, data.subarray(recorded + lost), recorded + lost);
      expect(next.status).toBe(202);
      expect(next.headers.get('range')).toBe(`0-${data.length - 1}`);
      const done = await fetch(url(`${location}?digest=${sha(data)}`), { method: 'PUT' });
      expect(done.status).toBe(201);
      expect((await bytesOf(await fetch(url(`/v2/lib/died/blobs/${sha(data)}`)))).equals(data)).toBe(true);
    },
    SLOW,
  );

  it('pushes an image manifest and pulls it and its blobs back', async () => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } }));
    const layers = [randomBytes(4096), randomBytes(70_000)];
    for (const blob of [config, ...layers]) await pushBlob(reg.url, 'lib/app', blob);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: sha(config), size: config.length },
        layers: layers.map((l) => ({ mediaType: MediaType.OciLayerTarGzip, digest: sha(l), size: l.length })),
      }),
    );
    const put = await fetch(url('/v2/lib/app/manifests/v1'), {
      method: 'PUT',
      body: manifest,
      headers: { 'content-type': MediaType.OciManifest },
    });
    expect(put.status).toBe(201);
    expect(put.headers.get('docker-content-digest')).toBe(sha(manifest));

    for (const reference of ['v1', sha(manifest)]) {
      const get = await fetch(url(`/v2/lib/app/manifests/${reference}`), {
        headers: { accept: MediaType.OciManifest },
      });
      expect(get.status).toBe(200);
      expect(get.headers.get('content-type')).toBe(MediaType.OciManifest);
      expect(get.headers.get('docker-content-digest')).toBe(sha(manifest));
      expect((await bytesOf(get)).equals(manifest)).toBe(true);
    }
    const pulled = JSON.parse(manifest.toString()) as { config: { digest: string }; layers: { digest: string }[] };
    for (const descriptor of [pulled.config, ...pulled.layers]) {
      const blob = await fetch(url(`/v2/lib/app/blobs/${descriptor.digest}`));
      expect(blob.status).toBe(200);
      expect(sha(await bytesOf(blob))).toBe(descriptor.digest);
    }
    const tags = (await (await fetch(url('/v2/lib/app/tags/list'))).json()) as { tags: string[] };
    expect(tags.tags).toEqual(['v1']);
  });

  it('advertises OCI-Chunk-Min-Length on new upload sessions only when configured', async () => {
    expect(
      (await fetch(url('/v2/lib/min/blobs/uploads/'), { method: 'POST' })).headers.get('oci-chunk-min-length'),
    ).toBeNull();
    const minimum = await startTestRegistry({ storage: s3.driver(), chunkMinLength: S3_MIN_PART_SIZE }, database);
    try {
      const res = await fetch(url('/v2/lib/min/blobs/uploads/', minimum.url), { method: 'POST' });
      expect(res.status).toBe(202);
      expect(res.headers.get('oci-chunk-min-length')).toBe(String(S3_MIN_PART_SIZE));
    } finally {
      await minimum.close();
    }
  });

  describe('blob GET redirects', () => {
    let data: Buffer;
    let digest: string;

    beforeAll(async () => {
      data = randomBytes(200_000);
      digest = await pushBlob(reg.url, 'lib/redirect', data);
    });

    it(
      'redirects with 307 to a presigned URL that serves the same bytes, when engine and driver allow it',
      async () => {
        const redirecting = await startTestRegistry(
          { storage: s3.driver({ redirect: true }), redirect: true },
          database,
        );
        try {
          const blobUrl = url(`/v2/lib/redirect/blobs/${digest}`, redirecting.url);
          const res = await fetch(blobUrl, { redirect: 'manual' });
          expect(res.status).toBe(307);
          const location = res.headers.get('location')!;
          expect(location.startsWith(`${s3.endpoint}/`)).toBe(true);
          expect(location).toMatch(/X-Amz-Signature=/);
          const direct = await fetch(location);
          expect(direct.status).toBe(200);
          expect((await bytesOf(direct)).equals(data)).toBe(true);
          // A client that follows redirects gets the blob, ranges included.
          const followed = await fetch(blobUrl, { headers: { range: 'bytes=1000-1999' } });
          expect(followed.status).toBe(206);
          expect((await bytesOf(followed)).equals(data.subarray(1000, 2000))).toBe(true);
          const head = await fetch(blobUrl, { method: 'HEAD' });
          expect(head.status).toBe(200);
          expect(head.headers.get('content-length')).toBe(String(data.length));
          const unknown = await fetch(url(`/v2/lib/redirect/blobs/${sha('never pushed')}`, redirecting.url), {
            redirect: 'manual',
          });
          expect(unknown.status).toBe(404);
        } finally {
          await redirecting.close();
        }
      },
      SLOW,
    );

    it(
      'serves the bytes itself when the engine or the driver has redirects off',
      async () => {
        const engineOff = await startTestRegistry(
          { storage: s3.driver({ redirect: true }), redirect: false },
          database,
        );
        const driverOff = await startTestRegistry(
          { storage: s3.driver({ redirect: false }), redirect: true },
          database,
        );
        try {
          for (const registry of [engineOff, driverOff]) {
            const res = await fetch(url(`/v2/lib/redirect/blobs/${digest}`, registry.url), { redirect: 'manual' });
            expect(res.status).toBe(200);
            expect(res.headers.get('location')).toBeNull();
            expect(res.headers.get('docker-content-digest')).toBe(digest);
            expect((await bytesOf(res)).equals(data)).toBe(true);
          }
        } finally {
          await engineOff.close();
          await driverOff.close();
        }
      },
      SLOW,
    );
  });
});
