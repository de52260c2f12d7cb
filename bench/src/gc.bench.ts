import { execFile, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type StorageOptions } from '@wharf/storage';
import { S3Driver } from '@wharf/storage/s3';
import { type TestDatabase, createTestDatabase, startWharfRegistry } from '@wharf/testkit';
import pg from 'pg';
import { closeConnections, expectStatus } from './http.js';

/*
 * pnpm bench:gc: Wharf's online garbage collection.
 *  (a) A registry of `--blobs` blob rows (`--files` of them real files), half referenced by tagged manifests, the
 *      other half not, all older than the time window: the mark's time, the sweep's rate, and the p99 of manifest
 *      GETs and of small pushes while the collection runs, against the same load with no collection.
 *  (b) The same `--compare-blobs` blobs (half unreferenced) in the reference, Debian's `docker-registry` (CNCF
 *      Distribution 2.8) and in Wharf: the reference's offline `garbage-collect` against Wharf's online run.
 *  With `--storage s3`, instead: Wharf's collection of those blobs stored in the s3rver emulator.
 */

const execFileAsync = promisify(execFile);
const REFERENCE_BINARY = process.env.WHARF_REFERENCE_REGISTRY ?? '/usr/bin/docker-registry';
const GC_CHILD = join(dirname(fileURLToPath(import.meta.url)), 'gc-child.js');
const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';
const CONFIG_TYPE = 'application/vnd.docker.container.image.v1+json';
const LAYER_TYPE = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const BLOB_BYTES = 1024;
const LAYERS_PER_IMAGE = 9;

interface GcBenchOptions {
  blobs: number;
  files: number;
  compareBlobs: number;
  workers: number;
  loadSeconds: number;
  only: 'all' | 'online' | 'compare';
  storage: 'filesystem' | 's3';
}

const USAGE = `Usage: pnpm bench:gc [--quick] [--blobs N] [--files N] [--compare-blobs N] [--workers N] [--load-seconds N] [--only online|compare] [--storage s3]

  --quick            20,000 blob rows (2,000 files), 2,000 blobs compared, 5 s of idle load: a smoke run
  --blobs N          blob rows of the online run (default 1,000,000), half of them unreferenced
  --files N          how many of those are real files (default 100,000)
  --compare-blobs N  blobs of the side-by-side run with docker-registry (default 20,000)
  --workers N        the collection's workers, 1 to 10 (default 4)
  --load-seconds N   how long the load without collection is measured (default 20)
  --only W           run only the online run or only the comparison
  --storage s3       instead of both: Wharf's collection of the --compare-blobs blobs stored in s3rver (S3
                     emulated), 1,000 of them referenced and the rest not`;

function parseOptions(argv: string[]): GcBenchOptions {
  const options: GcBenchOptions = {
    blobs: 1_000_000,
    files: 100_000,
    compareBlobs: 20_000,
    workers: 4,
    loadSeconds: 20,
    only: 'all',
    storage: 'filesystem',
  };
  const quick = argv.includes('--quick');
  if (quick) Object.assign(options, { blobs: 20_000, files: 2_000, compareBlobs: 2_000, loadSeconds: 5 });
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--quick') continue;
    const value = argv[++i];
    const count = () => {
      if (value === undefined || !/^\d+$/.test(value)) throw new Error(`${flag} needs a whole number\n\n${USAGE}`);
      return Number(value);
    };
    if (flag === '--blobs') options.blobs = count();
    else if (flag === '--files') options.files = count();
    else if (flag === '--compare-blobs') options.compareBlobs = count();
    else if (flag === '--workers') options.workers = count();
    else if (flag === '--load-seconds') options.loadSeconds = count();
    else if (flag === '--only' && (value === 'online' || value === 'compare')) options.only = value;
    else if (flag === '--storage' && (value === 'filesystem' || value === 's3')) options.storage = value;
    else throw new Error(`unknown option ${flag}\n\n${USAGE}`);
  }
  if (options.files > options.blobs) throw new Error('--files cannot exceed --blobs');
  return options;
}

function log(message: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** The digest the seeding SQL gives blob number i: sha256 of i as 8 big-endian bytes (PostgreSQL's int8send). */
function seededDigest(i: number): string {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64BE(BigInt(i));
  return sha256(bytes);
}

/** Writes files `count` at a time, creating their directories. */
async function writeFiles(files: Iterable<{ path: string; data: Buffer }>, parallel = 64): Promise<void> {
  const made = new Map<string, Promise<unknown>>();
  const iterator = files[Symbol.iterator]();
  const worker = async () => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) {
      const directory = dirname(next.value.path);
      let making = made.get(directory);
      if (!making) {
        making = mkdir(directory, { recursive: true });
        made.set(directory, making);
      }
      await making;
      await writeFile(next.value.path, next.value.data);
    }
  };
  // Every writer has stopped before a failure is thrown, so that the caller can remove the directory.
  const outcomes = await Promise.allSettled(Array.from({ length: parallel }, worker));
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) throw failed.reason;
}

async function connect(database: TestDatabase): Promise<pg.Client> {
  const client = new pg.Client({
    host: database.host,
    port: database.port,
    user: database.username,
    password: database.password,
    database: database.database,
  });
  await client.connect();
  return client;
}

interface GcRun {
  blobsDeleted: number;
  bytesFreed: number;
  manifestsDeleted: number;
  orphanFiles: number;
  markMs: number;
  sweepMs: number;
  pausedMs: number;
  totalMs: number;
  /** The sweep's deletion of the marked blobs alone, from its log line (the rest of the sweep walks storage). */
  deleteMs: number;
}

const filesystem = (rootDirectory: string): StorageOptions => ({ driver: 'filesystem', rootDirectory });

/** A collection in a process of its own (gc-child.ts), as a job worker runs it, with the collector's defaults. */
function runGc(database: TestDatabase, storage: StorageOptions, workers: number): Promise<GcRun> {
  const { host, port, database: name, username, password } = database;
  const args = JSON.stringify({
    database: { host, port, database: name, username, password },
    storage,
    options: { deleteUntagged: false, dryRun: false, workers, timeWindowHours: 2 },
  });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GC_CHILD, args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      process.stderr.write(chunk);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const deleted = /deleted \d+ blobs, [\d.]+ MB, in ([\d.]+) s/.exec(err);
      if (code === 0) resolve({ ...(JSON.parse(out) as GcRun), deleteMs: Number(deleted?.[1] ?? NaN) * 1000 });
      else reject(new Error(`the collection exited with ${code}: ${err.slice(-2000)}`));
    });
  });
}

// ---- (a) online collection under load --------------------------------------------------------------------------

/**
 * Seeds `blobs` rows in SQL: blob i (1-based) is referenced when i <= blobs / 2, by tagged manifests of 10
 * references each in 100 repositories; everything was touched 3 hours ago. The `files` blobs around the middle (half
 * referenced, half not) get real files in the storage layout.
 */
async function seedOnline(database: TestDatabase, storageRoot: string, blobs: number, files: number): Promise<void> {
  const client = await connect(database);
  try {
    const referenced = Math.floor(blobs / 2);
    await client.query(`INSERT INTO registry_repository (name) SELECT 'bench/r' || i FROM generate_series(0, 99) i`);
    await client.query(
      `INSERT INTO registry_blob (digest, size, touched_at)
       SELECT 'sha256:' || encode(sha256(int8send(i)), 'hex'), ${BLOB_BYTES}, now() - interval '3 hours'
         FROM generate_series(1, $1::bigint) i`,
      [blobs],
    );
    await client.query(
      `INSERT INTO registry_repository_blob (repository_id, digest)
       SELECT (SELECT min(id) FROM registry_repository) + i % 100, 'sha256:' || encode(sha256(int8send(i)), 'hex')
         FROM generate_series(1, $1::bigint) i`,
      [blobs],
    );
    const manifests = Math.floor(referenced / 10);
    await client.query(
      `INSERT INTO registry_manifest (repository_id, digest, media_type, size, payload, created_at)
       SELECT (SELECT min(id) FROM registry_repository) + k % 100, 'sha256:' || encode(sha256(('m' || k)::bytea), 'hex'),
              '${MANIFEST_TYPE}', 2, '\\x7b7d', now() - interval '3 hours'
         FROM generate_series(0, $1::bigint - 1) k`,
      [manifests],
    );
    await client.query(
      `INSERT INTO registry_manifest_reference (manifest_id, position, kind, digest, media_type, size)
       SELECT m.id, p, CASE WHEN p = 0 THEN 'config' ELSE 'layer' END,
              'sha256:' || encode(sha256(int8send((m.id - first.id) * 10 + p + 1)), 'hex'),
              CASE WHEN p = 0 THEN '${CONFIG_TYPE}' ELSE '${LAYER_TYPE}' END, ${BLOB_BYTES}
         FROM registry_manifest m CROSS JOIN (SELECT min(id) AS id FROM registry_manifest) first
        CROSS JOIN generate_series(0, 9) p`,
    );
    await client.query(
      `INSERT INTO registry_tag (repository_id, name, manifest_id) SELECT repository_id, 't' || id, id FROM registry_manifest`,
    );
    await client.query(`ANALYZE`);
  } finally {
    await client.end();
  }
  const first = Math.max(1, Math.floor(blobs / 2) - Math.floor(files / 2) + 1);
  const content = Buffer.alloc(BLOB_BYTES, 7);
  function* blobFiles() {
    for (let i = first; i < first + files; i++) {
      const hex = seededDigest(i);
      yield { path: join(storageRoot, 'blobs', 'sha256', hex.slice(0, 2), hex), data: content };
    }
  }
  await writeFiles(blobFiles());
}

interface Latencies {
  manifestGet: number[];
  push: number[];
}

function p99(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)];
}

/**
 * Manifest GETs from 4 clients and small pushes (a 4 KiB blob, then a manifest naming it) from 1, until `until`
 * resolves. Each push is a new image, so the collection can take none of its blobs.
 */
async function load(url: string, manifests: number, until: Promise<unknown>): Promise<Latencies> {
  const latencies: Latencies = { manifestGet: [], push: [] };
  let running = true;
  void until.finally(() => (running = false));
  const timed = async (into: number[], work: () => Promise<unknown>) => {
    const started = performance.now();
    await work();
    into.push(performance.now() - started);
  };
  const getter = async () => {
    while (running) {
      const id = 1 + Math.floor(Math.random() * manifests);
      await timed(latencies.manifestGet, () =>
        expectStatus(200, 'GET', `${url}/v2/bench/r${(id - 1) % 100}/manifests/t${id}`, { accept: MANIFEST_TYPE }),
      );
    }
  };
  const pusher = async () => {
    while (running) {
      const blob = randomBytes(4096);
      const digest = `sha256:${sha256(blob)}`;
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST_TYPE,
        config: { mediaType: CONFIG_TYPE, digest, size: blob.length },
        layers: [],
      });
      await timed(latencies.push, async () => {
        await expectStatus(201, 'POST', `${url}/v2/bench/pushed/blobs/uploads/?digest=${digest}`, {}, blob);
        await expectStatus(
          201,
          'PUT',
          `${url}/v2/bench/pushed/manifests/${sha256(manifest).slice(0, 12)}`,
          {
            'content-type': MANIFEST_TYPE,
          },
          manifest,
        );
      });
    }
  };
  await Promise.all([getter(), getter(), getter(), getter(), pusher()]);
  return latencies;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function online(options: GcBenchOptions, root: string): Promise<string[]> {
  const database = await createTestDatabase('wharf_bench_gc');
  const dataDir = join(root, 'wharf');
  const registry = await startWharfRegistry({ database, dataDir });
  try {
    const storageRoot = join(dataDir, 'registry');
    log(`seeding ${options.blobs} blob rows (${options.files} files)`);
    const seedStarted = performance.now();
    await seedOnline(database, storageRoot, options.blobs, options.files);
    log(`seeded in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);
    const manifests = Math.floor(options.blobs / 2 / 10);
    await load(registry.url, manifests, delay(2000));
    log(`load without collection for ${options.loadSeconds} s`);
    const idle = await load(registry.url, manifests, delay(options.loadSeconds * 1000));
    log('load during the collection');
    const gc = runGc(database, filesystem(storageRoot), options.workers);
    const during = await load(
      registry.url,
      manifests,
      gc.catch(() => undefined),
    );
    const result = await gc;
    const sweepSeconds = result.sweepMs / 1000;
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    const getIdle = p99(idle.manifestGet);
    const getDuring = p99(during.manifestGet);
    const pushIdle = p99(idle.push);
    const pushDuring = p99(during.push);
    return [
      `### Online collection: ${options.blobs.toLocaleString('en')} blob rows, ${options.files.toLocaleString('en')} files, ${options.workers} workers`,
      '',
      '| figure | value | target |',
      '|---|---|---|',
      `| mark | ${(result.markMs / 1000).toFixed(2)} s | < 60 s at 1,000,000 rows |`,
      `| sweep | ${(result.sweepMs / 1000).toFixed(2)} s | |`,
      `| blobs deleted | ${result.blobsDeleted} (${(result.bytesFreed / 1024 / 1024).toFixed(1)} MiB) | |`,
      `| paused to yield to the registry (no batch runs meanwhile) | ${(result.pausedMs / 1000).toFixed(2)} s | |`,
      `| sweep rate | ${Math.round(result.blobsDeleted / sweepSeconds)} blobs/s, ${(result.bytesFreed / 1024 / 1024 / sweepSeconds).toFixed(1)} MiB/s | ≥ 2,000 blobs/s |`,
      `| manifest GET p99 idle / during | ${getIdle.toFixed(1)} / ${getDuring.toFixed(1)} ms (${ratio(getDuring, getIdle)}×, ${idle.manifestGet.length} / ${during.manifestGet.length} requests) | ≤ 1.5× |`,
      `| small push p99 idle / during | ${pushIdle.toFixed(1)} / ${pushDuring.toFixed(1)} ms (${ratio(pushDuring, pushIdle)}×, ${idle.push.length} / ${during.push.length} pushes) | ≤ 1.5× |`,
      '',
    ];
  } finally {
    closeConnections();
    await registry.stop();
    await database.drop();
  }
}

// ---- (b) side by side with docker-registry ---------------------------------------------------------------------

interface Blob {
  hex: string;
  data: Buffer;
}

interface Image {
  manifest: Buffer;
  hex: string;
  config: Blob;
  layers: Blob[];
}

function newBlob(): Blob {
  const data = randomBytes(BLOB_BYTES);
  return { hex: sha256(data), data };
}

/**
 * `count` blobs: images of a config and 9 layers holding `referenced` of them (half by default), and the rest
 * unreferenced layers.
 */
function compareContent(count: number, referenced = count / 2): { images: Image[]; loose: Blob[] } {
  const images: Image[] = [];
  for (let i = 0; i < Math.floor(referenced / (LAYERS_PER_IMAGE + 1)); i++) {
    const config = newBlob();
    const layers = Array.from({ length: LAYERS_PER_IMAGE }, newBlob);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST_TYPE,
        config: { mediaType: CONFIG_TYPE, size: BLOB_BYTES, digest: `sha256:${config.hex}` },
        layers: layers.map((l) => ({ mediaType: LAYER_TYPE, size: BLOB_BYTES, digest: `sha256:${l.hex}` })),
      }),
    );
    images.push({ manifest, hex: sha256(manifest), config, layers });
  }
  const loose = Array.from({ length: count - images.length * (LAYERS_PER_IMAGE + 1) }, newBlob);
  return { images, loose };
}

const REPOSITORY = 'bench/compare';

/** The content as Distribution lays it out: blob data, the repository's layer links, revisions and tags. */
async function writeDistribution(root: string, content: { images: Image[]; loose: Blob[] }): Promise<void> {
  const v2 = join(root, 'docker', 'registry', 'v2');
  const repo = join(v2, 'repositories', ...REPOSITORY.split('/'));
  const link = (hex: string) => Buffer.from(`sha256:${hex}`);
  function* files() {
    const blobs = [...content.loose, ...content.images.flatMap((i) => [i.config, ...i.layers])];
    for (const blob of blobs) {
      yield { path: join(v2, 'blobs', 'sha256', blob.hex.slice(0, 2), blob.hex, 'data'), data: blob.data };
      yield { path: join(repo, '_layers', 'sha256', blob.hex, 'link'), data: link(blob.hex) };
    }
    for (const [n, image] of content.images.entries()) {
      yield { path: join(v2, 'blobs', 'sha256', image.hex.slice(0, 2), image.hex, 'data'), data: image.manifest };
      yield { path: join(repo, '_manifests', 'revisions', 'sha256', image.hex, 'link'), data: link(image.hex) };
      const tag = join(repo, '_manifests', 'tags', `t${n}`);
      yield { path: join(tag, 'current', 'link'), data: link(image.hex) };
      yield { path: join(tag, 'index', 'sha256', image.hex, 'link'), data: link(image.hex) };
    }
  }
  await writeFiles(files());
}

const blobsOf = (content: { images: Image[]; loose: Blob[] }): Blob[] => [
  ...content.loose,
  ...content.images.flatMap((i) => [i.config, ...i.layers]),
];

/** The same content in Wharf: rows as its pushes would write them (touched 3 hours ago); the blobs' bytes apart. */
async function writeWharfRows(database: TestDatabase, content: { images: Image[]; loose: Blob[] }): Promise<void> {
  const client = await connect(database);
  try {
    const blobs = blobsOf(content);
    const [{ id }] = (
      await client.query<{ id: string }>(`INSERT INTO registry_repository (name) VALUES ($1) RETURNING id`, [
        REPOSITORY,
      ])
    ).rows;
    for (let i = 0; i < blobs.length; i += 5000) {
      const page = blobs.slice(i, i + 5000).map((b) => `sha256:${b.hex}`);
      await client.query(
        `INSERT INTO registry_blob (digest, size, touched_at)
         SELECT d, ${BLOB_BYTES}, now() - interval '3 hours' FROM unnest($1::text[]) d`,
        [page],
      );
      await client.query(
        `INSERT INTO registry_repository_blob (repository_id, digest) SELECT $2, d FROM unnest($1::text[]) d`,
        [page, id],
      );
    }
    for (const [n, image] of content.images.entries()) {
      const [{ manifest }] = (
        await client.query<{ manifest: string }>(
          `INSERT INTO registry_manifest (repository_id, digest, media_type, size, payload, created_at)
           VALUES ($1, $2, $3, $4, $5, now() - interval '3 hours') RETURNING id AS manifest`,
          [id, `sha256:${image.hex}`, MANIFEST_TYPE, image.manifest.length, image.manifest],
        )
      ).rows;
      const references = [image.config, ...image.layers].map((b) => `sha256:${b.hex}`);
      await client.query(
        `INSERT INTO registry_manifest_reference (manifest_id, position, kind, digest, media_type, size)
         SELECT $1, p - 1, CASE WHEN p = 1 THEN 'config' ELSE 'layer' END, d,
                CASE WHEN p = 1 THEN '${CONFIG_TYPE}' ELSE '${LAYER_TYPE}' END, ${BLOB_BYTES}
           FROM unnest($2::text[]) WITH ORDINALITY AS r (d, p)`,
        [manifest, references],
      );
      await client.query(`INSERT INTO registry_tag (repository_id, name, manifest_id) VALUES ($1, $2, $3)`, [
        id,
        `t${n}`,
        manifest,
      ]);
    }
    await client.query(`ANALYZE`);
  } finally {
    await client.end();
  }
}

/** The blobs' files in Wharf's layout. */
async function writeWharfFiles(storageRoot: string, content: { images: Image[]; loose: Blob[] }): Promise<void> {
  function* files() {
    for (const blob of blobsOf(content)) {
      yield { path: join(storageRoot, 'blobs', 'sha256', blob.hex.slice(0, 2), blob.hex), data: blob.data };
    }
  }
  await writeFiles(files());
}

async function countFiles(directory: string): Promise<number> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).length;
}

async function compare(options: GcBenchOptions, root: string): Promise<string[]> {
  const content = compareContent(options.compareBlobs);
  const total = content.loose.length + content.images.length * (LAYERS_PER_IMAGE + 1);

  const referenceRoot = join(root, 'reference');
  await writeDistribution(join(referenceRoot, 'data'), content);
  const config = join(referenceRoot, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(referenceRoot, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      '  addr: 127.0.0.1:0',
      '',
    ].join('\n'),
  );
  const referenceBlobs = join(referenceRoot, 'data', 'docker', 'registry', 'v2', 'blobs');
  const referenceBefore = await countFiles(referenceBlobs);
  log(`docker-registry garbage-collect over ${total} blobs`);
  const referenceStarted = performance.now();
  await execFileAsync(REFERENCE_BINARY, ['garbage-collect', config], { maxBuffer: 256 * 1024 * 1024 });
  const referenceMs = performance.now() - referenceStarted;
  const referenceDeleted = referenceBefore - (await countFiles(referenceBlobs));

  const database = await createTestDatabase('wharf_bench_gc_compare');
  const dataDir = join(root, 'wharf-compare');
  // Started once to migrate the database, then stopped: the comparison is of the collections alone.
  const registry = await startWharfRegistry({ database, dataDir });
  await registry.stop();
  try {
    const storageRoot = join(dataDir, 'registry');
    await writeWharfRows(database, content);
    await writeWharfFiles(storageRoot, content);
    log(`Wharf's online collection over ${total} blobs`);
    const wharfStarted = performance.now();
    const result = await runGc(database, filesystem(storageRoot), options.workers);
    const wharfMs = performance.now() - wharfStarted;
    return [
      `### Side by side: ${total.toLocaleString('en')} blobs, ${content.loose.length.toLocaleString('en')} unreferenced`,
      '',
      '| | blobs deleted | time | reference / Wharf |',
      '|---|---|---|---|',
      `| docker-registry garbage-collect (offline, its process) | ${referenceDeleted} | ${(referenceMs / 1000).toFixed(2)} s | |`,
      `| Wharf's collection run (online, ${options.workers} workers), as a job runs it | ${result.blobsDeleted} | ${(result.totalMs / 1000).toFixed(2)} s | ${(referenceMs / result.totalMs).toFixed(1)}× (target ≥ 5×) |`,
      `| the same, with starting a Node.js process for it | | ${(wharfMs / 1000).toFixed(2)} s | ${(referenceMs / wharfMs).toFixed(1)}× |`,
      '',
    ];
  } finally {
    await database.drop();
  }
}

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}

/**
 * s3rver, the S3 emulator the storage tests use, borrowed from @wharf/storage's development dependencies so that the
 * benchmark adds none of its own.
 */
function s3rver(options: Record<string, unknown>): S3rverInstance {
  const require = createRequire(new URL('../../packages/storage/package.json', import.meta.url));
  const S3rver = require('s3rver') as new (options: Record<string, unknown>) => S3rverInstance;
  return new S3rver(options);
}

/**
 * Wharf's collection of the `--compare-blobs` blobs, stored in s3rver: the sweep's rate on S3. 1,000 of them are
 * referenced and kept, so that the walk after the sweep lists one page: on Node 20 s3rver fails every listing
 * continued past its first 1,000 keys (its continuation tokens are DES-encrypted, which OpenSSL 3 no longer has).
 */
async function s3Sweep(options: GcBenchOptions, root: string): Promise<string[]> {
  const content = compareContent(options.compareBlobs, Math.min(1000, options.compareBlobs / 2));
  const total = content.loose.length + content.images.length * (LAYERS_PER_IMAGE + 1);
  const bucket = 'wharf-bench-gc';
  const emulator = s3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: join(root, 's3rver'),
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await emulator.run();
  const storage: StorageOptions = {
    driver: 's3',
    bucket,
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${port}`,
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    forcePathStyle: true,
    rootDirectory: 'registry',
    redirect: false,
  };
  const database = await createTestDatabase('wharf_bench_gc_s3');
  try {
    // Started once to migrate the database, then stopped: the collection runs alone.
    const registry = await startWharfRegistry({ database, dataDir: join(root, 'wharf-s3') });
    await registry.stop();
    await writeWharfRows(database, content);
    log(`writing ${total} blobs into s3rver`);
    const driver = new S3Driver(storage);
    try {
      const blobs = blobsOf(content);
      let next = 0;
      const writer = async () => {
        while (next < blobs.length) {
          const blob = blobs[next++];
          await driver.putContent(`blobs/sha256/${blob.hex.slice(0, 2)}/${blob.hex}`, blob.data);
        }
      };
      await Promise.all(Array.from({ length: 16 }, writer));
    } finally {
      driver.destroy();
    }
    log(`Wharf's online collection over ${total} blobs in s3rver`);
    const result = await runGc(database, storage, options.workers);
    const sweepSeconds = result.sweepMs / 1000;
    return [
      `### S3 (s3rver): ${total.toLocaleString('en')} blobs, ${content.loose.length.toLocaleString('en')} unreferenced, ${options.workers} workers`,
      '',
      '| figure | value |',
      '|---|---|',
      `| blobs deleted | ${result.blobsDeleted} |`,
      `| mark | ${(result.markMs / 1000).toFixed(2)} s |`,
      `| deleting the marked blobs (DeleteObjects) | ${(result.deleteMs / 1000).toFixed(2)} s, ${Math.round(result.blobsDeleted / (result.deleteMs / 1000))} blobs/s |`,
      `| sweep (deletes, then the listing of every blob object) | ${sweepSeconds.toFixed(2)} s, ${Math.round(result.blobsDeleted / sweepSeconds)} blobs/s |`,
      `| the whole run | ${(result.totalMs / 1000).toFixed(2)} s |`,
      '',
    ];
  } finally {
    await database.drop();
    await emulator.close();
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const root = await mkdtemp(join(tmpdir(), 'wharf-bench-gc-'));
  const report = [
    `## pnpm bench:gc (${new Date().toISOString().slice(0, 16)}Z, ${cpus().length} cores, load ${loadavg()[0].toFixed(2)})`,
    '',
  ];
  try {
    if (options.storage === 's3') {
      report.push(...(await s3Sweep(options, root)));
    } else {
      if (options.only !== 'compare') report.push(...(await online(options, root)));
      if (options.only !== 'online') report.push(...(await compare(options, root)));
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  report.push(`load at the end ${loadavg()[0].toFixed(2)}`);
  process.stdout.write(`${report.join('\n')}\n`);
}

await main();
