import { createHash, type Hash, randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

const MiB = 1024 * 1024;

export interface BlobFile {
  path: string;
  size: number;
  digest: string;
}

export interface ChunkedBlob {
  chunks: { path: string; start: number; end: number }[];
  size: number;
  digest: string;
}

export interface Sizes {
  smallBytes: number;
  smallCount: number;
  mediumBytes: number;
  largeBytes: number;
  chunkBytes: number;
  concurrentPushes: number;
  concurrentPulls: number;
  mediumPullRepeats: number;
  largePullRepeats: number;
  wrkSeconds: number;
  wrkConnections: number;
  tagCount: number;
  tagListRepeats: number;
}

export function sizesFor(quick: boolean): Sizes {
  return quick
    ? {
        smallBytes: MiB,
        smallCount: 8,
        mediumBytes: 8 * MiB,
        largeBytes: 32 * MiB,
        chunkBytes: 4 * MiB,
        concurrentPushes: 4,
        concurrentPulls: 8,
        mediumPullRepeats: 2,
        largePullRepeats: 1,
        wrkSeconds: 3,
        wrkConnections: 64,
        tagCount: 300,
        tagListRepeats: 5,
      }
    : {
        smallBytes: MiB,
        smallCount: 32,
        mediumBytes: 64 * MiB,
        largeBytes: 512 * MiB,
        chunkBytes: 16 * MiB,
        concurrentPushes: 8,
        concurrentPulls: 32,
        // Single transfers of 64 MiB last a few tens of milliseconds; repeating them keeps timer noise out.
        mediumPullRepeats: 8,
        largePullRepeats: 2,
        wrkSeconds: 10,
        wrkConnections: 64,
        tagCount: 3000,
        tagListRepeats: 20,
      };
}

export interface TestData {
  small: BlobFile[];
  medium: BlobFile;
  large: BlobFile;
  chunked: ChunkedBlob;
  concurrent: BlobFile[];
}

/** Writes random bytes to `path` in pieces and hashes them on the way, so nothing is read back. */
async function writeRandom(path: string, size: number, hashes: Hash[]): Promise<void> {
  const file = await open(path, 'w');
  try {
    const piece = Buffer.allocUnsafe(Math.min(size, 4 * MiB));
    for (let written = 0; written < size;) {
      const length = Math.min(piece.length, size - written);
      const view = piece.subarray(0, length);
      randomFillSync(view);
      for (const hash of hashes) hash.update(view);
      await file.write(view, 0, length);
      written += length;
    }
  } finally {
    await file.close();
  }
}

async function blobFile(dir: string, name: string, size: number): Promise<BlobFile> {
  const path = join(dir, name);
  const hash = createHash('sha256');
  await writeRandom(path, size, [hash]);
  return { path, size, digest: `sha256:${hash.digest('hex')}` };
}

/** Generates every blob the workloads push, each distinct so no registry can skip bytes it already holds. */
export async function generateTestData(dir: string, sizes: Sizes): Promise<TestData> {
  const small: BlobFile[] = [];
  for (let i = 0; i < sizes.smallCount; i++) small.push(await blobFile(dir, `small-${i}.bin`, sizes.smallBytes));
  const medium = await blobFile(dir, 'medium.bin', sizes.mediumBytes);
  const large = await blobFile(dir, 'large.bin', sizes.largeBytes);
  const concurrent: BlobFile[] = [];
  for (let i = 0; i < sizes.concurrentPushes; i++) {
    concurrent.push(await blobFile(dir, `concurrent-${i}.bin`, sizes.mediumBytes));
  }
  const whole = createHash('sha256');
  const chunks: ChunkedBlob['chunks'] = [];
  for (let start = 0; start < sizes.largeBytes; start += sizes.chunkBytes) {
    const length = Math.min(sizes.chunkBytes, sizes.largeBytes - start);
    const path = join(dir, `chunk-${chunks.length}.bin`);
    await writeRandom(path, length, [whole]);
    chunks.push({ path, start, end: start + length - 1 });
  }
  return {
    small,
    medium,
    large,
    concurrent,
    chunked: { chunks, size: sizes.largeBytes, digest: `sha256:${whole.digest('hex')}` },
  };
}
