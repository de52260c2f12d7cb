import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type TestDatabase, createTestDatabase, startWharfCore } from '@wharf/testkit';
import pg from 'pg';
import { BENCH_PROJECT, type Credentials, robotAccess } from './core-access.js';
import { closeConnections, expectStatus } from './http.js';
import { flushRedisDatabase } from './redis.js';
import { OCI_LAYER, type Target, ensureSmallBlob, pushImage } from './registry-ops.js';
import { median } from './report.js';

const REPOSITORY = `${BENCH_PROJECT}/big`;

interface ApiBenchOptions {
  artifacts: number;
  requests: number;
}

const USAGE = `Usage: pnpm bench:api [--artifacts N] [--requests N] [--quick]

  --artifacts N   artifacts seeded in one repository (default 100000)
  --requests N    timed requests per workload (default 500)
  --quick         10000 artifacts and 200 requests, for a smoke test`;

function parseApiOptions(argv: readonly string[]): ApiBenchOptions {
  const options: ApiBenchOptions = { artifacts: 100_000, requests: 500 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const count = (): number => {
      const text = argv[++i];
      if (text === undefined || !/^[1-9][0-9]*$/.test(text)) {
        throw new Error(`${flag} needs a positive integer\n\n${USAGE}`);
      }
      return Number(text);
    };
    switch (flag) {
      case '--artifacts':
        options.artifacts = count();
        break;
      case '--requests':
        options.requests = count();
        break;
      case '--quick':
        options.artifacts = 10_000;
        options.requests = 200;
        break;
      default:
        throw new Error(`unknown argument "${flag}"\n\n${USAGE}`);
    }
  }
  if (options.artifacts < 200) throw new Error('--artifacts must be at least 200 (two pages of 100)');
  return options;
}

function log(message: string): void {
  console.error(`[bench:api ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function basic(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

/**
 * Seeds artifacts as copies of one pushed image, each with its own annotation (so its own digest), a tag and the
 * image's references, written in batches by PostgreSQL itself. The usage triggers run for every row, as for pushes.
 */
async function seedArtifacts(database: TestDatabase, seedDigest: string, total: number): Promise<void> {
  const client = new pg.Client({
    host: database.host,
    port: database.port,
    user: database.username,
    password: database.password,
    database: database.database,
  });
  await client.connect();
  try {
    const batch = 10_000;
    for (let from = 1; from < total; from += batch) {
      const to = Math.min(total - 1, from + batch - 1);
      await client.query(
        `WITH src AS (
           SELECT m.id, m.repository_id, m.payload, m.media_type FROM registry_manifest m
             JOIN registry_repository r ON r.id = m.repository_id
            WHERE r.name = $1 AND m.digest = $2),
         gen AS (
           SELECT g, src.repository_id, src.media_type,
                  convert_to(jsonb_set(convert_from(src.payload, 'UTF8')::jsonb, '{annotations}',
                                       jsonb_build_object('bench.n', g::text))::text, 'UTF8') AS payload
             FROM src, generate_series($3::int, $4::int) g),
         ins AS (
           INSERT INTO registry_manifest (repository_id, digest, media_type, size, payload, created_at)
           SELECT repository_id, 'sha256:' || encode(sha256(payload), 'hex'), media_type, length(payload), payload,
                  now() - make_interval(secs => g)
             FROM gen
           RETURNING id, repository_id, (convert_from(payload, 'UTF8')::jsonb -> 'annotations' ->> 'bench.n') AS n),
         refs AS (
           INSERT INTO registry_manifest_reference (manifest_id, position, kind, digest, media_type, size)
           SELECT ins.id, r.position, r.kind, r.digest, r.media_type, r.size
             FROM ins, registry_manifest_reference r WHERE r.manifest_id = (SELECT id FROM src))
         INSERT INTO registry_tag (repository_id, name, manifest_id) SELECT repository_id, 'v' || n, id FROM ins`,
        [REPOSITORY, seedDigest, from, to],
      );
      log(`  seeded ${to + 1} of ${total} artifacts`);
    }
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
}

interface Latencies {
  p50: number;
  p99: number;
  mean: number;
  count: number;
}

function summarize(samples: number[]): Latencies {
  const sorted = [...samples].sort((a, b) => a - b);
  const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] ?? 0;
  return {
    p50: median(sorted),
    p99,
    mean: sorted.reduce((sum, v) => sum + v, 0) / sorted.length,
    count: sorted.length,
  };
}

/** Sequential requests on one kept-alive connection, each timed from send to last byte. */
async function timeRequests(count: number, next: (i: number) => Promise<void>): Promise<Latencies> {
  for (let i = 0; i < Math.min(50, count); i++) await next(i);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const began = process.hrtime.bigint();
    await next(i);
    samples.push(Number(process.hrtime.bigint() - began) / 1e6);
  }
  return summarize(samples);
}

function random(max: number): number {
  return 1 + Math.floor(Math.random() * max);
}

async function main(): Promise<void> {
  const options = parseApiOptions(process.argv.slice(2));
  const redisDb = Number(process.env.WHARF_BENCH_REDIS_DB ?? 15);
  const startedAt = new Date();
  const loadStart = loadavg();
  await flushRedisDatabase('127.0.0.1', 6379, redisDb);
  const database = await createTestDatabase('wharf_bench_api');
  let core: Awaited<ReturnType<typeof startWharfCore>> | undefined;
  try {
    core = await startWharfCore({
      database,
      extraConfig: { external_redis: { registry_db_index: redisDb, harbor_db_index: redisDb } },
    });
    const { robot, headers } = await robotAccess(core.url, core.admin, [REPOSITORY]);
    const target: Target = { url: core.url, scratchDir: '', headers };
    log(`pushing the seed image to ${REPOSITORY}`);
    const layer = await ensureSmallBlob(target, REPOSITORY, Buffer.from('api benchmark layer'), OCI_LAYER);
    await pushImage(target, REPOSITORY, 'v0', [layer]);
    const seed = await expectStatus(200, 'HEAD', `${core.url}/v2/${REPOSITORY}/manifests/v0`, {
      ...headers,
      accept: 'application/vnd.oci.image.manifest.v1+json',
    });
    const seedDigest = String(seed.headers['docker-content-digest']);
    log(`seeding ${options.artifacts} artifacts`);
    await seedArtifacts(database, seedDigest, options.artifacts);

    const auth = { authorization: basic(robot) };
    const pages = Math.floor(options.artifacts / 100);
    const base = `${core.url}/api/v2.0/projects/${BENCH_PROJECT}/repositories/big`;
    const count = await expectStatus(200, 'GET', `${base}/artifacts?page=1&page_size=1`, auth);
    const total = Number(count.headers['x-total-count']);
    if (total !== options.artifacts) throw new Error(`the API lists ${total} artifacts, expected ${options.artifacts}`);

    log('timing: list artifacts (page_size 100, with tags)');
    const list = await timeRequests(options.requests, async () => {
      const res = await expectStatus(
        200,
        'GET',
        `${base}/artifacts?page=${random(pages)}&page_size=100&with_tag=true`,
        auth,
      );
      const items = JSON.parse(res.body.toString('utf8')) as { tags?: unknown[] }[];
      if (items.length !== 100 || !items.every((item) => Array.isArray(item.tags) && item.tags.length === 1)) {
        throw new Error('a page did not hold 100 artifacts with their tag');
      }
    });
    log('timing: get one artifact by tag');
    const get = await timeRequests(options.requests, async () => {
      await expectStatus(200, 'GET', `${base}/artifacts/v${random(options.artifacts) - 1}?with_tag=true`, auth);
    });
    log('timing: issue a registry token to a robot');
    const scope = encodeURIComponent(`repository:${REPOSITORY}:pull,push`);
    const token = await timeRequests(options.requests, async () => {
      await expectStatus(200, 'GET', `${core!.url}/service/token?service=harbor-registry&scope=${scope}`, auth);
    });

    const rows = [
      { name: 'list artifacts, page_size 100, with tags', latency: list, p99Target: 100 },
      { name: 'get one artifact (by tag, with tags)', latency: get, p99Target: 100 },
      { name: 'issue a registry token (robot)', latency: token, p99Target: 100, medianTarget: 5 },
    ];
    const loadEnd = loadavg();
    const ms = (v: number) => `${v.toFixed(2)} ms`;
    const lines = [
      `# API benchmark — ${startedAt.toISOString()}`,
      '',
      `${options.artifacts} artifacts in one repository; ${options.requests} sequential timed requests per workload ` +
        `(after 50 untimed), robot credentials; ${cpus().length} CPUs; load average ${loadStart.map((v) => v.toFixed(2)).join(' / ')} at start, ` +
        `${loadEnd.map((v) => v.toFixed(2)).join(' / ')} at end.`,
      '',
      '| Workload | p50 | p99 | mean | Target | Result |',
      '|---|---:|---:|---:|---|---|',
      ...rows.map((row) => {
        const pass =
          row.latency.p99 < row.p99Target && (row.medianTarget === undefined || row.latency.p50 < row.medianTarget);
        const target = `p99 < ${row.p99Target} ms${row.medianTarget ? `, median < ${row.medianTarget} ms` : ''}`;
        return `| ${row.name} | ${ms(row.latency.p50)} | ${ms(row.latency.p99)} | ${ms(row.latency.mean)} | ${target} | ${pass ? '✅ pass' : '❌ fail'} |`;
      }),
      '',
    ];
    console.log(lines.join('\n'));
    const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));
    await mkdir(resultsDir, { recursive: true });
    const file = join(
      resultsDir,
      `api-${startedAt
        .toISOString()
        .replace(/:/g, '-')
        .replace(/\.\d+Z$/, 'Z')}.json`,
    );
    await writeFile(
      file,
      `${JSON.stringify({ startedAt, options, machine: { cpus: cpus().length, node: process.version, loadStart, loadEnd }, rows }, null, 2)}\n`,
    );
    log(`results written to ${file}`);
  } finally {
    closeConnections();
    await core?.stop();
    await database.drop();
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exitCode = 1;
});
