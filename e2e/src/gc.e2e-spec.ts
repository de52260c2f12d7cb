import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CoreProcess,
  type ImageInfo,
  type PrivatePostgres,
  type PrivateRedis,
  type TestDatabase,
  OciLayoutWriter,
  createTestDatabase,
  logTail,
  repoRoot,
  startPrivatePostgres,
  startPrivateRedis,
  startWharfCore,
} from '@wharf/testkit';
import { Skopeo } from './support/clients.js';
import { sha256 } from './support/http.js';
import { e2eTarget } from './support/target.js';

jest.setTimeout(180_000);

interface Run {
  id: number;
  job_status: string;
}

/** What a run's log says it found: blobs with a row and their bytes, blob files with no row. */
interface Found {
  blobs: number;
  manifests: number;
  bytes: number;
  orphanFiles: number;
}

const PROJECT = 'gc';
/** Blob files with no row, as crashed uploads leave them: they keep the collection busy long enough to push during it. */
const ORPHANS = 30_000;

/**
 * Online garbage collection end to end: `wharf start core` and `wharf start jobservice` on a PostgreSQL and a Redis of
 * the test's own and filesystem storage; images pushed and pulled with skopeo, deleted and collected through the API,
 * and what the runs free measured on disk. Core and jobservice have no reference.
 */
const describeCore = e2eTarget() === 'wharf' ? describe : describe.skip;

describeCore('garbage collection with skopeo, core and jobservice', () => {
  let workDir: string;
  let postgres: PrivatePostgres;
  let redis: PrivateRedis;
  let database: TestDatabase;
  let core: CoreProcess;
  let jobservice: ChildProcess | undefined;
  let skopeo: Skopeo;
  let creds: string;
  let layoutPath: string;
  let blobsDir: string;
  let projectId: number;
  let base: ImageInfo['layers'][number];
  const images: Record<'kept' | 'keptToo' | 'doomed' | 'doomedToo' | 'untagged' | 'late' | 'revived', ImageInfo> =
    {} as never;

  async function api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; headers: Headers; body: T }> {
    const headers: Record<string, string> = { authorization: `Basic ${Buffer.from(creds).toString('base64')}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${core.url}/api/v2.0${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const isJson = (response.headers.get('content-type') ?? '').includes('json') && text.length > 0;
    return { status: response.status, headers: response.headers, body: (isJson ? JSON.parse(text) : text) as T };
  }

  /** `wharf start jobservice` on core's harbor.yml, as install.sh runs it; resolves once it is running. */
  async function startJobservice(configPath: string, logPath: string): Promise<ChildProcess> {
    const logFd = openSync(logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(join(repoRoot(), 'apps', 'cli', 'bin', 'wharf'), ['start', 'jobservice', '--config', configPath], {
        cwd: repoRoot(),
        stdio: ['ignore', logFd, logFd],
        env: { ...process.env, WHARF_NODE: process.env.WHARF_NODE ?? process.execPath },
      });
    } finally {
      closeSync(logFd);
    }
    const deadline = Date.now() + 30_000;
    while (!(await readFile(logPath, 'utf8')).includes('wharf jobservice running')) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`jobservice did not start:\n${await logTail(logPath)}`);
      }
      await sleep(100);
    }
    return child;
  }

  /** How many blob files storage holds, and their bytes (what `du --apparent-size` counts for the files). */
  async function blobFiles(): Promise<{ files: number; bytes: number }> {
    let files = 0;
    let bytes = 0;
    for (const entry of await readdir(blobsDir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      files += 1;
      bytes += (await stat(join(entry.parentPath, entry.name))).size;
    }
    return { files, bytes };
  }

  /** Bytes of the image's blobs (config and layers) but `without`; its manifest is kept in PostgreSQL, not in storage. */
  function blobBytes(image: ImageInfo, without: string[] = []): number {
    return [image.config, ...image.layers]
      .filter((blob) => !without.includes(blob.digest))
      .reduce((sum, blob) => sum + blob.size, 0);
  }

  async function push(image: ImageInfo, tag: string): Promise<void> {
    await skopeo.copy(`oci:${layoutPath}:${tag}`, `docker://${core.host}/${PROJECT}/app:${tag}`, [
      '--preserve-digests',
      '--dest-creds',
      creds,
    ]);
    expect(
      (await api<{ digest: string }>('GET', `/projects/${PROJECT}/repositories/app/artifacts/${tag}`)).body,
    ).toMatchObject({ digest: image.manifest.digest });
  }

  /** Pulls the image with skopeo (which checks every blob against its digest) and checks each byte it wrote. */
  async function expectPullable(image: ImageInfo, tag: string): Promise<void> {
    const dir = join(workDir, `pulled-${tag}-${randomBytes(4).toString('hex')}`);
    await skopeo.copy(`docker://${core.host}/${PROJECT}/app:${tag}`, `dir:${dir}`, [
      '--preserve-digests',
      '--src-creds',
      creds,
    ]);
    expect(sha256(await readFile(join(dir, 'manifest.json')))).toBe(image.manifest.digest);
    for (const blob of [image.config, ...image.layers]) {
      expect(sha256(await readFile(join(dir, blob.digest.slice('sha256:'.length))))).toBe(blob.digest);
    }
    await rm(dir, { recursive: true, force: true });
  }

  /** The project's storage usage, which its quota and its summary show alike. */
  async function quotaUsed(): Promise<number> {
    const quotas = await api<{ used: { storage: number } }[]>(
      'GET',
      `/quotas?reference=project&reference_id=${projectId}`,
    );
    expect(quotas.status).toBe(200);
    const summary = await api<{ quota: { used: { storage: number } } }>('GET', `/projects/${PROJECT}/summary`);
    expect(summary.status).toBe(200);
    expect(summary.body.quota.used.storage).toBe(quotas.body[0].used.storage);
    return quotas.body[0].used.storage;
  }

  async function startGc(parameters: Record<string, unknown>): Promise<number> {
    const response = await api('POST', '/system/gc/schedule', {
      schedule: { type: 'Manual' },
      parameters: { time_window: 0, ...parameters },
    });
    expect(response.status).toBe(201);
    return Number(response.headers.get('location')?.split('/').at(-1));
  }

  async function status(id: number): Promise<string> {
    const response = await api<Run>('GET', `/system/gc/${id}`);
    expect(response.status).toBe(200);
    return response.body.job_status;
  }

  async function finished(id: number): Promise<Run> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const response = await api<Run>('GET', `/system/gc/${id}`);
      if (['Success', 'Error', 'Stopped'].includes(response.body.job_status)) return response.body;
      if (Date.now() > deadline) throw new Error(`garbage collection ${id} still ${response.body.job_status}`);
      await sleep(100);
    }
  }

  /** Runs a collection to its end; answers what its log says it found. */
  async function collect(parameters: Record<string, unknown>): Promise<Found> {
    const id = await startGc(parameters);
    expect(await finished(id)).toMatchObject({ job_status: 'Success' });
    return found(id);
  }

  async function found(id: number): Promise<Found> {
    const log = (await api<string>('GET', `/system/gc/${id}/log`)).body;
    const eligible = /(\d+) blobs and (\d+) manifests eligible for deletion/.exec(log);
    const bytes = /the size is in byte (\d+)/.exec(log);
    const orphans = /(\d+) blob files with no record/.exec(log);
    if (!eligible || !bytes || !orphans) throw new Error(`unexpected log of garbage collection ${id}:\n${log}`);
    return {
      blobs: Number(eligible[1]),
      manifests: Number(eligible[2]),
      bytes: Number(bytes[1]),
      orphanFiles: Number(orphans[1]),
    };
  }

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'wharf-e2e-gc-'));
    [postgres, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis()]);
    database = await createTestDatabase('wharf_e2e_gc', postgres);
    const dataDir = join(workDir, 'data');
    core = await startWharfCore({
      database,
      dataDir,
      extraConfig: { external_redis: { host: `127.0.0.1:${redis.port}` } },
    });
    jobservice = await startJobservice(join(dataDir, 'harbor.yml'), join(workDir, 'jobservice.log'));
    creds = `${core.admin.username}:${core.admin.password}`;
    blobsDir = join(dataDir, 'registry', 'blobs');
    skopeo = await Skopeo.create(await mkdtemp(join(workDir, 'skopeo-')));

    // One layout, every image on the same base layer with layers of its own.
    layoutPath = join(workDir, 'images');
    const layout = await OciLayoutWriter.create(layoutPath);
    base = await layout.writeLayer('e2e-gc-base', 300 * 1024, 'base');
    const own: Record<Exclude<keyof typeof images, 'revived'>, number[]> = {
      kept: [40 * 1024],
      keptToo: [20 * 1024, 60 * 1024],
      doomed: [100 * 1024, 30 * 1024],
      doomedToo: [70 * 1024],
      untagged: [25 * 1024],
      late: [50 * 1024],
    };
    for (const [name, layerSizes] of Object.entries(own) as [keyof typeof own, number[]][]) {
      images[name] = await layout.addImage({ seed: `e2e-gc-${name}`, layerSizes, baseLayers: [base] });
      layout.tag(name, images[name].manifest);
    }
    // Pushed once the collection has deleted the blobs it marked: one of them, a layer of a deleted image, comes back.
    images.revived = await layout.addImage({
      seed: 'e2e-gc-revived',
      layerSizes: [10 * 1024],
      baseLayers: [base, images.doomed.layers[1]],
    });
    layout.tag('revived', images.revived.manifest);
    await layout.save();

    const created = await api('POST', '/projects', { project_name: PROJECT, metadata: { public: 'false' } });
    expect(created.status).toBe(201);
    const projects = await api<{ project_id: number; name: string }[]>('GET', `/projects?name=${PROJECT}`);
    projectId = projects.body.find((p) => p.name === PROJECT)!.project_id;
  });

  afterAll(async () => {
    if (jobservice && jobservice.exitCode === null) {
      const running = jobservice;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      const forced = setTimeout(() => running.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(forced);
    }
    await Promise.allSettled([core?.stop()]);
    await Promise.allSettled([database?.drop()]);
    await Promise.allSettled([postgres?.destroy(), redis?.stop(), rm(workDir, { recursive: true, force: true })]);
  });

  it('frees on disk exactly what the deleted images alone held, as the dry run said, while a push goes on', async () => {
    const first = ['kept', 'keptToo', 'doomed', 'doomedToo', 'untagged'] as const;
    for (const name of first) await push(images[name], name);
    const manifests = (...names: (keyof typeof images)[]) => names.reduce((sum, n) => sum + images[n].manifest.size, 0);
    const pushed = base.size + first.reduce((sum, name) => sum + blobBytes(images[name], [base.digest]), 0);
    // Configs and layers, the base layer once.
    expect(await blobFiles()).toEqual({ files: 13, bytes: pushed });
    // The project's usage counts manifests too, and each blob once.
    expect(await quotaUsed()).toBe(pushed + manifests(...first));

    for (const name of ['doomed', 'doomedToo'] as const) {
      const deleted = await api(
        'DELETE',
        `/projects/${PROJECT}/repositories/app/artifacts/${images[name].manifest.digest}`,
      );
      expect(deleted.status).toBe(200);
    }
    // An artifact left without a tag, which the collection deletes first.
    const untag = `/projects/${PROJECT}/repositories/app/artifacts/${images.untagged.manifest.digest}/tags/untagged`;
    expect((await api('DELETE', untag)).status).toBe(200);
    // What the deleted images held alone: configs and own layers; the base layer stays referenced.
    const deletedBytes = blobBytes(images.doomed, [base.digest]) + blobBytes(images.doomedToo, [base.digest]);
    expect(await quotaUsed()).toBe(pushed - deletedBytes + manifests('kept', 'keptToo', 'untagged'));
    const doomedBytes = deletedBytes + blobBytes(images.untagged, [base.digest]);

    // Blob files no row knows of, left long enough ago that the time window does not keep them.
    let orphanBytes = 0;
    const orphans = randomBytes(ORPHANS * 16);
    const prefixes = new Set<string>();
    const files: [string, Buffer][] = [];
    for (let i = 0; i < ORPHANS; i++) {
      const bytes = orphans.subarray(i * 16, i * 16 + 8 + (i % 9));
      const hex = sha256(bytes).slice('sha256:'.length);
      prefixes.add(hex.slice(0, 2));
      files.push([join(blobsDir, 'sha256', hex.slice(0, 2), hex), bytes]);
      orphanBytes += bytes.length;
    }
    for (const prefix of prefixes) await mkdir(join(blobsDir, 'sha256', prefix), { recursive: true });
    for (let i = 0; i < files.length; i += 500) {
      await Promise.all(files.slice(i, i + 500).map(([path, bytes]) => writeFile(path, bytes)));
    }
    const before = await blobFiles();
    expect(before.bytes).toBe(pushed + orphanBytes);

    const dry = await collect({ dry_run: true, delete_untagged: true, workers: 1 });
    expect(dry).toEqual({ blobs: 7, manifests: 1, bytes: doomedBytes, orphanFiles: ORPHANS });
    expect(await blobFiles()).toEqual(before);

    // The real run, with one worker. While it runs, an image on the same base is pushed; and once it has deleted the
    // blobs it marked, an image with one of them, which skopeo then uploads again.
    const id = await startGc({ dry_run: false, delete_untagged: true, workers: 1 });
    const deadline = Date.now() + 30_000;
    while ((await status(id)) !== 'Running') {
      if (Date.now() > deadline) throw new Error(`garbage collection ${id} never started`);
      await sleep(20);
    }
    await push(images.late, 'late');
    while (!/^deleted 7 blobs, /m.test((await api<string>('GET', `/system/gc/${id}/log`)).body)) {
      if (Date.now() > deadline) throw new Error(`garbage collection ${id} never deleted its blobs`);
      await sleep(20);
    }
    await push(images.revived, 'revived');
    // The collection had not finished its work when the pushes did.
    expect((await api<string>('GET', `/system/gc/${id}/log`)).body).not.toContain('gc finished');
    expect(await status(id)).toBe('Running');
    expect(await finished(id)).toMatchObject({ job_status: 'Success' });
    expect(await found(id)).toEqual(dry);

    const after = await blobFiles();
    const newBytes = blobBytes(images.late, [base.digest]) + blobBytes(images.revived, [base.digest]);
    expect(before.bytes - after.bytes).toBe(doomedBytes + orphanBytes - newBytes);
    expect(after.files).toBe(before.files - 7 - ORPHANS + 2 + 3);
    for (const name of ['kept', 'keptToo', 'late', 'revived'] as const) await expectPullable(images[name], name);
    await expect(
      skopeo.run([
        'inspect',
        '--raw',
        '--tls-verify=false',
        '--creds',
        creds,
        `docker://${core.host}/${PROJECT}/app@${images.doomed.manifest.digest}`,
      ]),
    ).rejects.toThrow(/manifest unknown/i);
    const untagged = await api(
      'GET',
      `/projects/${PROJECT}/repositories/app/artifacts/${images.untagged.manifest.digest}`,
    );
    expect(untagged.status).toBe(404);

    // Every blob left on disk is one of the project's, and its usage counts each once, with the manifests.
    expect(await quotaUsed()).toBe(after.bytes + manifests('kept', 'keptToo', 'late', 'revived'));
  });

  it('finds nothing more to free in a second run', async () => {
    const kept = ['kept', 'keptToo', 'late', 'revived'] as const;
    const before = await blobFiles();
    expect(await collect({ dry_run: false, delete_untagged: true, workers: 1 })).toEqual({
      blobs: 0,
      manifests: 0,
      bytes: 0,
      orphanFiles: 0,
    });
    expect(await blobFiles()).toEqual(before);
    expect(await quotaUsed()).toBe(before.bytes + kept.reduce((sum, n) => sum + images[n].manifest.size, 0));
    for (const name of kept) await expectPullable(images[name], name);
  });
});
