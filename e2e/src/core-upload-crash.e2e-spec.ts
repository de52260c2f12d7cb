import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CoreProcess,
  type TestDatabase,
  type TestImageLayout,
  buildImageLayout,
  createTestDatabase,
  listLayoutBlobs,
  readLayoutBlob,
  startWharfCore,
} from '@wharf/testkit';
import { Skopeo } from './support/clients.js';
import { RegistryHttp, patchCutByCrash, requireHeader, withDigest } from './support/http.js';
import { e2eTarget } from './support/target.js';

jest.setTimeout(300_000);

/** Core has no reference to compare with. */
const describeCore = e2eTarget() === 'wharf' ? describe : describe.skip;

describeCore('a push through core that survives core being killed inside a chunked PATCH', () => {
  let workDir: string;
  let dataDir: string;
  let database: TestDatabase;
  let core: CoreProcess;
  let image: TestImageLayout;

  const basic = () => `Basic ${Buffer.from(`${core.admin.username}:${core.admin.password}`).toString('base64')}`;

  /** A token for the repository, as a client asks the token service for one. */
  async function bearer(repository: string): Promise<Record<string, string>> {
    const query = new URLSearchParams({ service: 'harbor-registry', scope: `repository:${repository}:pull,push` });
    const response = await fetch(`${core.url}/service/token?${query.toString()}`, {
      headers: { authorization: basic() },
    });
    expect(response.status).toBe(200);
    return { Authorization: `Bearer ${((await response.json()) as { token: string }).token}` };
  }

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'wharf-e2e-core-crash-'));
    dataDir = join(workDir, 'data');
    database = await createTestDatabase('wharf_e2e_core_crash');
    core = await startWharfCore({ database, dataDir });
    image = await buildImageLayout(join(workDir, 'app'), {
      seed: 'e2e-core-crash',
      layerSizes: [6 * 1024 * 1024],
      ref: 'v1',
    });
  });

  afterAll(async () => {
    await Promise.allSettled([core?.stop()]);
    await Promise.allSettled([database?.drop(), rm(workDir, { recursive: true, force: true })]);
  });

  it('resumes within 5 s at the offset a status request gives after kill -9 and restart, and the image pulls verified', async () => {
    const created = await fetch(`${core.url}/api/v2.0/projects`, {
      method: 'POST',
      headers: { authorization: basic(), 'content-type': 'application/json' },
      body: JSON.stringify({ project_name: 'crash', metadata: { public: 'false' } }),
    });
    expect(created.status).toBe(201);
    const repository = 'crash/app';
    const http = new RegistryHttp(core.url);
    let auth = await bearer(repository);

    const config = await readLayoutBlob(image.path, image.config.digest);
    const configStart = await http.request('POST', `/v2/${repository}/blobs/uploads/`, { headers: auth });
    expect(configStart.status).toBe(202);
    const configPut = await http.request(
      'PUT',
      withDigest(http.resolve(requireHeader(configStart, 'location')), image.config.digest),
      { headers: { ...auth, 'Content-Type': 'application/octet-stream' }, body: config },
    );
    expect(configPut.status).toBe(201);

    const layer = await readLayoutBlob(image.path, image.layers[0].digest);
    const split = 2 * 1024 * 1024 + 17;
    const started = await http.request('POST', `/v2/${repository}/blobs/uploads/`, { headers: auth });
    expect(started.status).toBe(202);
    const uploadId = requireHeader(started, 'docker-upload-uuid');
    const first = await http.request('PATCH', http.resolve(requireHeader(started, 'location')), {
      headers: { ...auth, 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${split - 1}` },
      body: layer.subarray(0, split),
    });
    expect(first.status).toBe(202);
    const location = http.resolve(requireHeader(first, 'location'));

    const pidBefore = core.pid;
    await patchCutByCrash({
      url: location,
      headers: { ...auth, 'Content-Range': `${split}-${layer.length - 1}` },
      chunk: layer.subarray(split),
      sent: 2 * 1024 * 1024 + 512 * 1024,
      uploadFile: join(dataDir, 'registry', 'uploads', uploadId),
      storedAtLeast: split,
      crash: () => core.kill(),
    });
    await core.restart();
    expect(core.pid).not.toBe(pidBefore);

    // From here on, the client does what a client does after losing its connection: ask where the upload stands,
    // and send the rest from there.
    const resumedAt = Date.now();
    auth = await bearer(repository);
    const status = await http.request('GET', location, { headers: auth });
    expect(status.status).toBe(204);
    const offset = Number(/^0-(\d+)$/.exec(requireHeader(status, 'range'))![1]) + 1;
    expect(offset).toBeGreaterThanOrEqual(split);
    const rest = await http.request('PATCH', http.resolve(requireHeader(status, 'location')), {
      headers: {
        ...auth,
        'Content-Type': 'application/octet-stream',
        'Content-Range': `${offset}-${layer.length - 1}`,
      },
      body: layer.subarray(offset),
    });
    expect(rest.status).toBe(202);
    const committed = await http.request(
      'PUT',
      withDigest(http.resolve(requireHeader(rest, 'location')), image.layers[0].digest),
      {
        headers: auth,
      },
    );
    expect(committed.status).toBe(201);
    expect(Date.now() - resumedAt).toBeLessThan(5_000);

    const manifest = await readLayoutBlob(image.path, image.manifest.digest);
    const put = await http.request('PUT', `/v2/${repository}/manifests/v1`, {
      headers: { ...auth, 'Content-Type': image.manifest.mediaType },
      body: manifest,
    });
    expect(put.status).toBe(201);

    // skopeo checks every blob it pulls against its digest.
    const skopeo = await Skopeo.create(await mkdtemp(join(workDir, 'skopeo-')));
    const pulled = join(workDir, 'pulled');
    await skopeo.copy(`docker://${core.host}/${repository}:v1`, `oci:${pulled}:v1`, [
      '--src-creds',
      `${core.admin.username}:${core.admin.password}`,
    ]);
    const blobs = await listLayoutBlobs(pulled);
    for (const digest of [image.manifest.digest, ...image.blobDigests]) {
      expect(blobs.has(digest)).toBe(true);
      expect((await readFile(blobs.get(digest)!)).equals(await readLayoutBlob(image.path, digest))).toBe(true);
    }
  });
});
