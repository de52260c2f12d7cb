import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type RegistryProcess,
  type TestDatabase,
  createTestDatabase,
  logTail,
  startReferenceRegistry,
  startWharfCore,
  startWharfRegistry,
} from '@wharf/testkit';
import { robotAccess } from './core-access.js';
import { run } from './curl.js';
import { generateTestData, sizesFor } from './data.js';
import { closeConnections } from './http.js';
import { flushRedisDatabase } from './redis.js';
import { type BenchOptions, parseOptions } from './options.js';
import { flushDirtyPages, peakResidentBytes } from './proc.js';
import { type Metrics, type Side, WORKLOAD_REPOSITORIES, type Workload, workloads } from './workloads.js';
import { buildRows, markdownTable, rowDefinitions } from './report.js';
import { WARM_REPO, warmUp } from './warm-up.js';

const GiB = 1024 ** 3;
// A Redis database of the benchmark's own, emptied before every Wharf start; others may share Redis.
let redisDbIndex = 15;

function parseRedisIndex(text: string): number {
  if (!/^\d{1,4}$/.test(text)) throw new Error(`WHARF_BENCH_REDIS_DB must be a Redis database index, got "${text}"`);
  return Number(text);
}
type SideName = 'wharf' | 'reference';

function log(message: string): void {
  // Progress goes to stderr so stdout carries only the report.
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

interface Running {
  registry: RegistryProcess;
  database?: TestDatabase;
  scratchDir: string;
  /** Headers of every /v2 request (a bearer token in core mode). */
  headers: Record<string, string>;
}

const running = new Set<Running>();
let scratchRoot: string | undefined;

async function startSide(name: SideName, options: BenchOptions, parentDir: string, round: number): Promise<Running> {
  const scratchDir = await mkdtemp(join(parentDir, `${name}-${round}-`));
  if (name === 'reference' || options.referenceOnly) {
    const entry: Running = { registry: await startReferenceRegistry(), scratchDir, headers: {} };
    running.add(entry);
    return entry;
  }
  await flushRedisDatabase('127.0.0.1', 6379, redisDbIndex);
  const database = await createTestDatabase('wharf_bench');
  try {
    const extraConfig = {
      external_redis: { registry_db_index: redisDbIndex, harbor_db_index: redisDbIndex },
      ...(options.directIO ? { storage_service: { filesystem: { direct_io: true } } } : {}),
    };
    if (options.throughCore) {
      const core = await startWharfCore({ database, extraConfig });
      const entry: Running = { registry: core, database, scratchDir, headers: {} };
      running.add(entry);
      const access = await robotAccess(core.url, core.admin, [...WORKLOAD_REPOSITORIES, WARM_REPO]);
      entry.headers = access.headers;
      return entry;
    }
    const registry = await startWharfRegistry({ database, extraConfig });
    const entry: Running = { registry, database, scratchDir, headers: {} };
    running.add(entry);
    return entry;
  } catch (error) {
    await database.drop();
    throw error;
  }
}

async function stopSide(entry: Running): Promise<void> {
  running.delete(entry);
  await entry.registry.stop();
  await entry.database?.drop();
  await rm(entry.scratchDir, { recursive: true, force: true });
}

async function stopAll(): Promise<void> {
  await Promise.allSettled([...running].map((entry) => stopSide(entry)));
}

async function cleanUp(): Promise<void> {
  await stopAll();
  if (scratchRoot) await rm(scratchRoot, { recursive: true, force: true });
  scratchRoot = undefined;
}

/** Runs one workload; a failure names the workload and side, and says whether the server died. */
async function measure(workload: Workload, side: Side, name: string): Promise<Metrics> {
  try {
    await workload.prepare?.(side);
    // Pages either server left dirty are written back now, not during this measurement.
    const flushed = await flushDirtyPages();
    if (flushed >= 16 * 1024 ** 2)
      log(`  flushed ${(flushed / 1024 ** 2).toFixed(0)} MiB of dirty pages before ${workload.id}`);
    return await workload.run(side);
  } catch (error) {
    const { pid, logPath } = side.registry;
    const dead = !existsSync(`/proc/${pid}`);
    const detail = dead
      ? `\n${name} (pid ${pid}) is no longer running; end of ${logPath}:\n${await logTail(logPath)}`
      : '';
    throw new Error(`${workload.id} on ${name} failed: ${(error as Error).message}${detail}`, { cause: error });
  }
}

/** Which side went first in how many rounds (round 1 starts with Wharf). */
function firstIn(rounds: number, names: Record<SideName, string>): string {
  const wharfFirst = Math.ceil(rounds / 2);
  if (wharfFirst === rounds - wharfFirst) return `each side first in ${wharfFirst}`;
  return `${names.wharf} first in ${wharfFirst}, ${names.reference} in ${rounds - wharfFirst}`;
}

async function toolVersion(command: string, args: string[]): Promise<string> {
  const { stdout, stderr } = await run(command, args).catch(() => ({ stdout: '', stderr: 'not installed' }));
  return (stdout || stderr).split('\n')[0].trim();
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  redisDbIndex = parseRedisIndex(process.env.WHARF_BENCH_REDIS_DB ?? String(redisDbIndex));
  for (const tool of ['curl', 'wrk']) {
    const { code } = await run(tool, ['--version']).catch(() => ({ code: -1 }));
    if (code === -1 || code === 127) throw new Error(`${tool} is required (apt-get install -y ${tool})`);
  }
  const names = options.referenceOnly
    ? { wharf: 'Reference A', reference: 'Reference B' }
    : {
        wharf: `${options.throughCore ? 'Wharf (core, token auth)' : 'Wharf'}${options.directIO ? ', direct I/O' : ''}`,
        reference: 'Distribution 2.8',
      };
  const sizes = sizesFor(options.quick);
  const startedAt = new Date();
  const loadStart = loadavg();
  const scratch = await mkdtemp(join(tmpdir(), 'wharf-bench-'));
  scratchRoot = scratch;
  const results: { round: number; order: SideName[]; wharf: Metrics; reference: Metrics }[] = [];
  try {
    log(`generating test data in ${scratch}`);
    const data = await generateTestData(scratch, sizes);
    const selected = workloads(data, sizes).filter((workload) => options.only.includes(workload.id));

    for (let round = 1; round <= options.rounds; round++) {
      // Alternate who goes first so drift on a shared machine falls on both sides alike.
      const order: SideName[] = round % 2 === 1 ? ['wharf', 'reference'] : ['reference', 'wharf'];
      log(`round ${round}/${options.rounds}: ${order.map((n) => names[n]).join(' then ')}`);
      const entries = {} as Record<SideName, Running>;
      for (const name of order) entries[name] = await startSide(name, options, scratch, round);
      const sides = {} as Record<SideName, Side>;
      const metrics: Record<SideName, Metrics> = { wharf: {}, reference: {} };
      for (const name of order) {
        const { registry, scratchDir, headers } = entries[name];
        sides[name] = {
          registry,
          target: { url: registry.url, scratchDir, headers },
          transferCpu: { push: { seconds: 0, bytes: 0 }, pull: { seconds: 0, bytes: 0 } },
          pullStorageReads: 0,
        };
      }
      for (const name of order) {
        log(`  warming up ${names[name]}`);
        await warmUp(sides[name].target);
      }
      for (const workload of selected) {
        for (const name of order) {
          const measured = await measure(workload, sides[name], names[name]);
          Object.assign(metrics[name], measured);
          const shown = Object.entries(measured).map(([key, value]) => `${key}=${value.toFixed(2)}`);
          log(`  ${names[name]}: ${shown.join(' ')}`);
        }
      }
      for (const name of order) {
        const side = sides[name];
        metrics[name]['rss.peak'] = (await peakResidentBytes(side.registry.pid)) / 1024 ** 2;
        for (const kind of ['push', 'pull'] as const) {
          const { seconds, bytes } = side.transferCpu[kind];
          if (bytes > 0) metrics[name][`cpu.${kind}`] = seconds / (bytes / GiB);
        }
        const pulled = side.transferCpu.pull.bytes;
        if (pulled > 0) metrics[name]['cache.pull'] = 100 * Math.max(0, 1 - side.pullStorageReads / pulled);
      }
      results.push({ round, order, wharf: metrics.wharf, reference: metrics.reference });
      log(`round ${round}: stopping both registries and removing their data`);
      for (const name of order) await stopSide(entries[name]);
    }
  } finally {
    closeConnections();
    await cleanUp();
  }

  const loadEnd = loadavg();
  const rows = buildRows(rowDefinitions(sizes), results);
  const table = markdownTable(rows, names);
  const load = (values: number[]): string => values.map((v) => v.toFixed(2)).join(' / ');
  console.log(
    [
      `# Registry benchmark — ${startedAt.toISOString()}`,
      '',
      `${names.wharf} vs ${names.reference}; ${options.rounds} alternating round(s) (${firstIn(options.rounds, names)})` +
        `${options.quick ? ', quick sizes' : ''}; ` +
        `${cpus().length} CPUs; load average (1/5/15 min) ${load(loadStart)} at start, ${load(loadEnd)} at end.`,
      `Figures are medians over the rounds; the ratio column also shows the per-round range. |ratio − 1| < 0.15 is a tie.`,
      '',
      table,
      '',
    ].join('\n'),
  );

  const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));
  await mkdir(resultsDir, { recursive: true });
  const file = join(
    resultsDir,
    `${startedAt
      .toISOString()
      .replace(/:/g, '-')
      .replace(/\.\d+Z$/, 'Z')}.json`,
  );
  await writeFile(
    file,
    `${JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        options,
        sizes,
        machine: { cpus: cpus().length, node: process.version, loadavgStart: loadStart, loadavgEnd: loadEnd },
        tools: {
          reference: await toolVersion('/usr/bin/docker-registry', ['--version']),
          curl: await toolVersion('curl', ['--version']),
          wrk: await toolVersion('wrk', ['--version']),
        },
        sides: names,
        rows,
        rounds: results,
      },
      null,
      2,
    )}\n`,
  );
  log(`results written to ${file}`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping registries`);
    void cleanUp().finally(() => process.exit(130));
  });
}

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  await cleanUp();
  process.exitCode = 1;
});
