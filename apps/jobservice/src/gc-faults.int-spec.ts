import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { access, mkdir, readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ExecutionRepository, RegistryRepository, createDataSource } from '@wharf/db';
import { JobName, WORKER_LOST_MESSAGE, isRerunnable } from '@wharf/jobs';
import {
  type CoreProcess,
  type JobServiceProcess,
  type PrivateRedis,
  type TestDatabase,
  createTestDatabase,
  startPrivateRedis,
  startWharfCore,
  startWharfJobService,
} from '@wharf/testkit';

const JOBSERVICE_DB = 2;
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const CONFIG_TYPE = 'application/vnd.oci.image.config.v1+json';
const LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';
/** Blobs of images deleted long ago: what the sweep frees, enough that it takes a few seconds. */
const UNREFERENCED = 30_000;
/** Tagged images seeded through the engine's writer, sharing layers from a pool. */
const KEPT_IMAGES = 120;
const SHARED_LAYERS = 40;
/** Images pushed the same way and then deleted through the API. */
const DELETED_IMAGES = 20;
/** Old untagged images, deleted by the collection itself (delete_untagged). */
const UNTAGGED_IMAGES = 20;
const ORPHAN_FILES = 100;
const ORPHAN_UPLOADS = 20;
const TIME_WINDOW_HOURS = 1;

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const blobPath = (root: string, digest: string) => {
  const hex = digest.slice('sha256:'.length);
  return join(root, 'blobs', 'sha256', hex.slice(0, 2), hex);
};

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

interface Image {
  repository: string;
  tag: string;
  digest: string;
  payload: Buffer;
  blobs: string[];
}

/**
 * A garbage collection whose jobservice process is killed (SIGKILL) mid-sweep, on a real core and real jobservice
 * processes, PostgreSQL, a Redis of the test's own and filesystem storage: the run is not left Running, the next run
 * finishes, and the registry holds every byte a manifest names, none that nothing names, and the right quota usage.
 */
describe('garbage collection whose worker is killed mid-sweep', () => {
  let database: TestDatabase;
  let redis: PrivateRedis;
  let core: CoreProcess;
  let dataSource: ReturnType<typeof createDataSource>;
  let executions: ExecutionRepository;
  let registry: RegistryRepository;
  let storageRoot: string;
  const jobservices: JobServiceProcess[] = [];
  const tokens = new Map<string, string>();

  const basic = () => `Basic ${Buffer.from(`${core.admin.username}:${core.admin.password}`).toString('base64')}`;
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${core.url}/api/v2.0${path}`, {
      method,
      headers: { authorization: basic(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  async function token(repository: string, actions = 'pull'): Promise<string> {
    const key = `${repository}:${actions}`;
    let value = tokens.get(key);
    if (!value) {
      const query = new URLSearchParams({ service: 'harbor-registry', scope: `repository:${key}` });
      const response = await fetch(`${core.url}/service/token?${query.toString()}`, {
        headers: { authorization: basic() },
      });
      expect(response.status).toBe(200);
      value = ((await response.json()) as { token: string }).token;
      tokens.set(key, value);
    }
    return value;
  }

  const v2 = async (method: string, repository: string, path: string, init: RequestInit = {}, actions = 'pull') =>
    fetch(`${core.url}/v2/${repository}/${path}`, {
      ...init,
      method,
      headers: { authorization: `Bearer ${await token(repository, actions)}`, ...init.headers },
    });

  /** Bytes into storage, then linked, as the engine writes a blob. */
  async function blob(repository: string, content: Buffer): Promise<string> {
    const digest = sha256(content);
    const path = blobPath(storageRoot, digest);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
    await registry.linkBlob(repository, digest, content.length);
    return digest;
  }

  async function image(repository: string, layers: Buffer[], tag?: string): Promise<Image> {
    const configJson = Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', nonce: randomUUID() }));
    const config = { mediaType: CONFIG_TYPE, digest: await blob(repository, configJson), size: configJson.length };
    const descriptors = [];
    for (const content of layers) {
      descriptors.push({ mediaType: LAYER_TYPE, digest: await blob(repository, content), size: content.length });
    }
    const payload = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPE, config, layers: descriptors }),
    );
    const digest = sha256(payload);
    await registry.putManifest({
      repository,
      digest,
      mediaType: MANIFEST_TYPE,
      artifactType: CONFIG_TYPE,
      payload,
      references: [{ kind: 'config', ...config }, ...descriptors.map((d) => ({ kind: 'layer' as const, ...d }))],
      tag,
    });
    return {
      repository,
      tag: tag ?? digest,
      digest,
      payload,
      blobs: [config.digest, ...descriptors.map((d) => d.digest)],
    };
  }

  async function startJobservice(): Promise<JobServiceProcess> {
    const service = await startWharfJobService(core);
    jobservices.push(service);
    return service;
  }

  async function runGc(): Promise<{ executionId: number; taskId: number }> {
    const response = await api('POST', '/system/gc/schedule', {
      schedule: { type: 'Manual' },
      parameters: { delete_untagged: true, dry_run: false, workers: 2, time_window: TIME_WINDOW_HOURS },
    });
    expect(response.status).toBe(201);
    const executionId = Number(response.headers.get('location')?.split('/').at(-1));
    const tasks = await executions.listTasks(executionId);
    expect(tasks.items).toHaveLength(1);
    return { executionId, taskId: tasks.items[0].id };
  }

  async function ended(taskId: number, timeoutMs: number) {
    return until(
      `task ${taskId} to end`,
      async () => {
        const task = await executions.getTask(taskId);
        return task && ['Success', 'Error', 'Stopped'].includes(task.status) ? task : undefined;
      },
      timeoutMs,
    );
  }

  async function count(sql: string, parameters: unknown[] = []): Promise<number> {
    const [row] = await dataSource.query<{ n: number }[]>(sql, parameters);
    return Number(row.n);
  }

  beforeAll(async () => {
    database = await createTestDatabase('wharf_gc_faults');
    redis = await startPrivateRedis();
    core = await startWharfCore({
      database,
      extraConfig: {
        external_redis: { host: `127.0.0.1:${redis.port}`, jobservice_db_index: JOBSERVICE_DB },
        jobservice: { worker_lost_after: '2s' },
        upload_purging: { enabled: false },
      },
    });
    storageRoot = join(dirname(core.logPath), 'registry');
    dataSource = createDataSource({ ...database, database: database.database });
    await dataSource.initialize();
    executions = new ExecutionRepository(dataSource);
    registry = new RegistryRepository(dataSource);
  }, 120_000);

  afterAll(async () => {
    for (const service of jobservices) await service.kill();
    await core?.stop();
    await dataSource?.destroy();
    await redis?.stop();
    await database?.drop();
  });

  it('is run again after a kill -9 mid-sweep, and the next run leaves no dangling reference, no garbage and the right usage', async () => {
    // ---- A registry: tagged images sharing layers, images deleted through the API, old untagged images, many blobs
    // ---- of images deleted long ago, blob files and uploads nothing records.
    for (const name of ['apps', 'bulk']) {
      expect((await api('POST', '/projects', { project_name: name, metadata: { public: 'false' } })).status).toBe(201);
    }
    const shared = Array.from({ length: SHARED_LAYERS }, () => randomBytes(2048));
    const kept: Image[] = [];
    for (let i = 0; i < KEPT_IMAGES; i++) {
      const layers = [shared[i % SHARED_LAYERS], shared[(i * 7 + 3) % SHARED_LAYERS], randomBytes(1024)];
      kept.push(await image(`apps/app${i % 4}`, layers, `v${i}`));
    }
    const doomed: Image[] = [];
    for (let i = 0; i < DELETED_IMAGES; i++) {
      doomed.push(await image(`apps/app${i % 4}`, [shared[i % SHARED_LAYERS], randomBytes(1536)], `old${i}`));
    }
    for (const { repository, digest } of doomed) {
      const name = encodeURIComponent(repository.slice('apps/'.length));
      expect((await api('DELETE', `/projects/apps/repositories/${name}/artifacts/${digest}`)).status).toBe(200);
    }
    const untagged: Image[] = [];
    for (let i = 0; i < UNTAGGED_IMAGES; i++) untagged.push(await image(`bulk/r${i % 5}`, [randomBytes(3072)]));

    // Blobs of images deleted long ago: rows, links and bytes, written in bulk.
    const unreferenced: string[] = [];
    const sizes: number[] = [];
    const files: { path: string; content: Buffer }[] = [];
    for (let i = 0; i < UNREFERENCED; i++) {
      const content = randomBytes(256 + (i % 256));
      const digest = sha256(content);
      unreferenced.push(digest);
      sizes.push(content.length);
      files.push({ path: blobPath(storageRoot, digest), content });
    }
    const writeAll = async (list: { path: string; content: Buffer }[]) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < list.length) {
            const { path, content } = list[next++];
            await mkdir(dirname(path), { recursive: true });
            await writeFile(path, content);
          }
        }),
      );
    };
    await writeAll(files);
    for (let i = 0; i < UNREFERENCED; i += 5000) {
      await dataSource.query(
        `INSERT INTO registry_blob (digest, size) SELECT * FROM unnest($1::text[], $2::bigint[])`,
        [unreferenced.slice(i, i + 5000), sizes.slice(i, i + 5000)],
      );
      await dataSource.query(
        `INSERT INTO registry_repository_blob (repository_id, digest)
         SELECT (SELECT id FROM registry_repository WHERE name = 'bulk/r' || (n % 5)), d
           FROM unnest($1::text[]) WITH ORDINALITY AS u (d, n)`,
        [unreferenced.slice(i, i + 5000)],
      );
    }
    // Everything so far is older than the time window.
    await dataSource.query(`UPDATE registry_blob SET touched_at = now() - interval '3 hours'`);
    await dataSource.query(`UPDATE registry_manifest SET created_at = now() - interval '3 hours'`);

    // Bytes no row records (an upload that crashed between moving its bytes and linking them), and upload files no
    // session names, old; and one of each, and an unreferenced blob, younger than the window, which are kept.
    const threeHoursAgo = new Date(Date.now() - 3 * 3600_000);
    const orphans = Array.from({ length: ORPHAN_FILES }, () => randomBytes(512));
    const orphanDigests = orphans.map((content) => sha256(content));
    await writeAll(orphans.map((content) => ({ path: blobPath(storageRoot, sha256(content)), content })));
    for (const digest of orphanDigests) await utimes(blobPath(storageRoot, digest), threeHoursAgo, threeHoursAgo);
    const uploads = Array.from({ length: ORPHAN_UPLOADS }, () => randomUUID());
    for (const id of uploads) {
      await mkdir(join(storageRoot, 'uploads', id), { recursive: true });
      await writeFile(join(storageRoot, 'uploads', id, 'data'), randomBytes(700));
      await utimes(join(storageRoot, 'uploads', id, 'data'), threeHoursAgo, threeHoursAgo);
    }
    const freshOrphan = randomBytes(600);
    await writeAll([{ path: blobPath(storageRoot, sha256(freshOrphan)), content: freshOrphan }]);
    const freshUpload = randomUUID();
    await mkdir(join(storageRoot, 'uploads', freshUpload), { recursive: true });
    await writeFile(join(storageRoot, 'uploads', freshUpload, 'data'), randomBytes(700));
    const freshBlob = await blob('bulk/r0', randomBytes(900));

    // An image to push while the sweep runs, made of blobs the collection chooses and reaches last (it sweeps in
    // digest order): they are referenced again before their turn, and kept.
    const late = await dataSource.query<{ digest: string; size: string }[]>(
      `SELECT b.digest, b.size FROM registry_blob b JOIN registry_repository_blob l ON l.digest = b.digest
        WHERE l.repository_id = (SELECT id FROM registry_repository WHERE name = 'bulk/r1')
          AND b.digest = ANY($1::text[]) ORDER BY b.digest DESC LIMIT 3`,
      [unreferenced],
    );
    const lateManifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST_TYPE,
        config: { mediaType: CONFIG_TYPE, digest: late[0].digest, size: Number(late[0].size) },
        layers: late.slice(1).map((b) => ({ mediaType: LAYER_TYPE, digest: b.digest, size: Number(b.size) })),
      }),
    );
    await token('bulk/r1', 'pull,push');
    // The blob the sweep deletes first: once its file is gone, the first batch's bytes are being deleted.
    const keptBlobs = new Set(kept.flatMap((k) => k.blobs));
    const candidates = [...unreferenced, ...doomed.flatMap((d) => d.blobs), ...untagged.flatMap((u) => u.blobs)]
      .filter((digest) => !keptBlobs.has(digest))
      .sort();
    const firstSwept = blobPath(storageRoot, candidates[0]);

    // ---- A collection through the API, run by a jobservice process that is killed while the sweep deletes bytes.
    const first = await startJobservice();
    const { executionId, taskId } = await runGc();
    await until(
      'the collection to mark blobs',
      async () =>
        (await count(`SELECT count(*) AS n FROM registry_blob WHERE gc_state <> 'none'`)) > 0 ? true : undefined,
      60_000,
      5,
    );
    const pushing = v2(
      'PUT',
      'bulk/r1',
      'manifests/late',
      { body: lateManifest, headers: { 'content-type': MANIFEST_TYPE } },
      'pull,push',
    );
    await until(
      'the sweep to delete bytes',
      () =>
        access(firstSwept).then(
          () => undefined,
          () => true,
        ),
      60_000,
      5,
    );
    await first.kill();
    expect((await pushing).status).toBe(201);
    kept.push({
      repository: 'bulk/r1',
      tag: 'late',
      digest: sha256(lateManifest),
      payload: lateManifest,
      blobs: late.map((b) => b.digest),
    });
    const [crashed] = await dataSource.query<{ unswept: number; deleting: number; marked: number }[]>(
      `SELECT count(*)::int AS unswept, count(*) FILTER (WHERE gc_state = 'deleting')::int AS deleting,
              count(*) FILTER (WHERE gc_state = 'delete')::int AS marked
         FROM registry_blob WHERE digest = ANY($1::text[])`,
      [unreferenced],
    );
    // Killed mid-sweep: blobs deleted or being deleted, and others still to sweep.
    expect(UNREFERENCED - crashed.unswept + crashed.deleting).toBeGreaterThan(0);
    expect(crashed.unswept - crashed.deleting).toBeGreaterThan(0);
    expect((await executions.getTask(taskId))!.status).toBe('Running');

    // ---- The run is not left Running: a jobservice started again takes the lost job, which runs again as the GC
    // ---- job's declaration promises (more than one attempt: rerunnable), or ends in Error if it were not.
    await startJobservice();
    const rerun = await ended(taskId, 120_000);
    const log = (await executions.taskLog(taskId))!.text;
    if (isRerunnable(JobName.GarbageCollection)) {
      expect(rerun.status).toBe('Success');
      expect(rerun.runCount).toBe(2);
      expect(log).toContain(`${WORKER_LOST_MESSAGE}; running it again\n`);
      expect(log).toMatch(/gc finished, deleted/);
    } else {
      expect(rerun.status).toBe('Error');
      expect(rerun.statusMessage).toBe(WORKER_LOST_MESSAGE);
    }
    expect((await executions.getExecution(executionId))!.status).toBe(rerun.status);

    // ---- A new run finishes, with nothing left to free.
    const next = await runGc();
    const nextTask = await ended(next.taskId, 120_000);
    expect(nextTask.status).toBe('Success');
    expect((await executions.taskLog(next.taskId))!.text).toContain(
      'gc finished, deleted 0 manifests, 0 blobs (0.00 MB), 0 orphan blob files (0.00 MB) and 0 abandoned uploads',
    );

    // ---- Every blob a manifest names is in storage with the bytes of its digest.
    const referenced = await dataSource.query<{ digest: string }[]>(
      `SELECT DISTINCT digest FROM registry_manifest_reference WHERE kind <> 'manifest'`,
    );
    expect(referenced.length).toBeGreaterThan(SHARED_LAYERS + KEPT_IMAGES);
    for (const { digest } of referenced) {
      const bytes = await readFile(blobPath(storageRoot, digest)).catch(() => undefined);
      expect({ digest, stored: bytes === undefined ? 'missing' : sha256(bytes) }).toEqual({ digest, stored: digest });
    }
    // ---- Every kept image is whole through the registry: its manifest by tag, and each blob's bytes.
    for (const { repository, tag, digest, payload, blobs } of kept) {
      const manifest = await v2('GET', repository, `manifests/${tag}`, { headers: { accept: MANIFEST_TYPE } });
      expect({ tag, status: manifest.status }).toEqual({ tag, status: 200 });
      expect(Buffer.from(await manifest.arrayBuffer()).equals(payload)).toBe(true);
      expect(manifest.headers.get('docker-content-digest')).toBe(digest);
      for (const each of blobs) {
        const response = await v2('GET', repository, `blobs/${each}`);
        expect({ each, status: response.status }).toEqual({ each, status: 200 });
        expect(sha256(Buffer.from(await response.arrayBuffer()))).toBe(each);
      }
    }
    // ---- Nothing is left marked, and nothing unreferenced and older than the window is left, rows or bytes.
    expect(await count(`SELECT count(*) AS n FROM registry_blob WHERE gc_state <> 'none'`)).toBe(0);
    expect(
      await count(
        `SELECT count(*) AS n FROM registry_blob b
          WHERE b.touched_at < now() - $1::double precision * interval '1 hour'
            AND NOT EXISTS (SELECT 1 FROM registry_manifest_reference r WHERE r.digest = b.digest)`,
        [TIME_WINDOW_HOURS],
      ),
    ).toBe(0);
    expect(
      await count(`SELECT count(*) AS n FROM registry_manifest WHERE id NOT IN (SELECT manifest_id FROM registry_tag)`),
    ).toBe(0);
    const lateBlobs = new Set(late.map((b) => b.digest));
    const stillStored = [];
    for (const digest of [
      ...unreferenced,
      ...orphanDigests,
      ...untagged.flatMap((u) => u.blobs),
      ...doomed.flatMap((d) => d.blobs),
    ]) {
      if (lateBlobs.has(digest) || kept.some((k) => k.blobs.includes(digest))) continue;
      if (
        await readFile(blobPath(storageRoot, digest)).then(
          () => true,
          () => false,
        )
      )
        stillStored.push(digest);
    }
    expect(stillStored).toEqual([]);
    // Every blob file in storage has its row, but the orphan younger than the window; the young blob and upload stay,
    // the old uploads are gone.
    const rows = new Set(
      (await dataSource.query<{ digest: string }[]>(`SELECT digest FROM registry_blob`)).map((r) => r.digest),
    );
    const unrecorded: string[] = [];
    for (const prefix of await readdir(join(storageRoot, 'blobs', 'sha256'))) {
      for (const hex of await readdir(join(storageRoot, 'blobs', 'sha256', prefix))) {
        if (!rows.has(`sha256:${hex}`)) unrecorded.push(`sha256:${hex}`);
      }
    }
    expect(unrecorded).toEqual([sha256(freshOrphan)]);
    expect(rows.has(freshBlob)).toBe(true);
    expect((await readdir(join(storageRoot, 'uploads'))).sort()).toEqual([freshUpload]);

    // ---- Each project's quota usage is what its manifests reference, each blob once.
    const usage = await dataSource.query<{ name: string; used: string; expected: string }[]>(
      `SELECT p.name, q.used_storage AS used,
              (SELECT coalesce(sum(size), 0) FROM (
                 SELECT DISTINCT x.digest, x.size FROM (
                   SELECT m.digest, m.size FROM registry_manifest m WHERE m.project_id = p.project_id
                   UNION ALL
                   SELECT r.digest, r.size FROM registry_manifest_reference r
                     JOIN registry_manifest m ON m.id = r.manifest_id
                    WHERE m.project_id = p.project_id AND r.kind <> 'manifest') x) d) AS expected
         FROM project p JOIN quota q ON q.project_id = p.project_id WHERE p.name IN ('apps', 'bulk') ORDER BY p.name`,
    );
    expect(usage.map((u) => [u.name, Number(u.used)])).toEqual(usage.map((u) => [u.name, Number(u.expected)]));
    expect(Number(usage[1].used)).toBeGreaterThan(0);

    // The crash itself, for the record of what the next run had to finish.
    process.stderr.write(
      `killed with ${UNREFERENCED - crashed.unswept} of ${UNREFERENCED} blobs deleted, ${crashed.deleting} being ` +
        `deleted and ${crashed.marked} marked\n`,
    );
  }, 300_000);
});
