import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Testkit from '@wharf/testkit';
import { robotAccess } from './core-access.js';
import { type BlobFile } from './data.js';
import { closeConnections } from './http.js';
import { type Target, pushMonolithic } from './registry-ops.js';

/**
 * A paired comparison of two builds of Wharf on the one workload whose differences are smallest and whose figures
 * swing most on a shared machine: sequential monolithic pushes of 1 MiB blobs through core (POST, then PUT with the
 * body, with a robot's token). Both cores run at once, each from its own checkout (built), and batches of 32 pushes
 * alternate between them (ABBA…), so that each pair of batches meets the same machine. Prints each side's time per
 * blob per batch and the median of the paired ratios.
 *
 *   node bench/dist/push-ab.bench.js <checkout A> <checkout B> [batches]
 */

const MiB = 1024 * 1024;
const BATCH = 32;
/** The first batches of each side warm up its JIT, its connections and its storage directories. */
const WARM_BATCHES = 2;

interface SideUnderTest {
  name: string;
  registry: Testkit.CoreProcess;
  database: Testkit.TestDatabase;
  target: Target;
}

function usage(): never {
  console.error('usage: node bench/dist/push-ab.bench.js <checkout A> <checkout B> [batches, default 24]');
  process.exit(2);
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function start(checkout: string, scratchDir: string): Promise<SideUnderTest> {
  const entry = pathToFileURL(join(checkout, 'packages/testkit/dist/index.js')).href;
  // Each side is started by its own checkout's testkit, so it runs that checkout's launcher and build.
  const testkit = (await import(entry)) as typeof Testkit;
  const database = await testkit.createTestDatabase('wharf_bench');
  try {
    const registry = await testkit.startWharfCore({ database });
    const { headers } = await robotAccess(registry.url, registry.admin, ['bench/data']);
    return { name: checkout, registry, database, target: { url: registry.url, scratchDir, headers } };
  } catch (error) {
    await database.drop();
    throw error;
  }
}

async function freshBlobs(dir: string, prefix: string): Promise<BlobFile[]> {
  const blobs: BlobFile[] = [];
  for (let i = 0; i < BATCH; i++) {
    const data = randomBytes(MiB);
    const path = join(dir, `${prefix}-${i}`);
    await writeFile(path, data);
    blobs.push({ path, size: data.length, digest: `sha256:${createHash('sha256').update(data).digest('hex')}` });
  }
  return blobs;
}

async function main(): Promise<void> {
  const [first, second, batchesArg] = process.argv.slice(2);
  if (!first || !second) usage();
  const batches = batchesArg === undefined ? 24 : Number(batchesArg);
  if (!Number.isInteger(batches) || batches <= WARM_BATCHES) usage();
  const scratchDir = await mkdtemp(join(tmpdir(), 'wharf-push-ab-'));
  const sides: SideUnderTest[] = [];
  try {
    for (const checkout of [first, second]) sides.push(await start(resolve(checkout), scratchDir));
    const perBlob: number[][] = [[], []];
    for (let batch = 0; batch < batches; batch++) {
      for (const index of batch % 2 === 0 ? [0, 1] : [1, 0]) {
        const blobs = await freshBlobs(scratchDir, `side${index}`);
        const timed = await pushMonolithic(sides[index].target, 'bench/data', blobs, false);
        perBlob[index].push((timed.seconds * 1000) / BATCH);
      }
    }
    for (const [index, side] of sides.entries()) {
      const times = perBlob[index];
      console.log(`${side.name}: ms per blob by batch ${times.map((t) => t.toFixed(1)).join(' ')}`);
      console.log(`  median after ${WARM_BATCHES} warm-up batches: ${median(times.slice(WARM_BATCHES)).toFixed(2)} ms`);
    }
    const ratios = perBlob[0].slice(WARM_BATCHES).map((time, i) => time / perBlob[1][i + WARM_BATCHES]);
    console.log(
      `time of A / time of B, per pair of batches: median ${median(ratios).toFixed(3)} ` +
        `(${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}); above 1: B is faster`,
    );
  } finally {
    closeConnections();
    for (const side of sides) {
      await side.registry.stop();
      await side.database.drop();
    }
    await rm(scratchDir, { recursive: true, force: true });
  }
}

await main();
