import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import * as realFs from 'node:fs/promises';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';

/**
 * Direct I/O against the real filesystem under the temporary directory. Every open goes to the real call; the
 * module boundary only records the flags of each open (to tell which descriptors bypassed the page cache) and, for
 * the fallback cases, refuses O_DIRECT the way tmpfs or a network filesystem does (EINVAL), since such a
 * filesystem cannot be mounted here.
 */
const opened: { path: string; direct: boolean; writes: number }[] = [];
let refuseDirect: 'never' | 'open' | 'io' | 'short' = 'never';

function refusal(call: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`EINVAL: invalid argument, ${call} (simulated: no direct I/O here)`);
  error.code = 'EINVAL';
  return error;
}

jest.unstable_mockModule('node:fs/promises', () => ({
  ...realFs,
  open: async (path: string, flags?: string | number, mode?: number) => {
    const direct = typeof flags === 'number' && (flags & constants.O_DIRECT) !== 0;
    if (direct && refuseDirect === 'open') throw refusal('open');
    const handle = await realFs.open(path, flags, mode);
    const record = { path: String(path), direct, writes: 0 };
    opened.push(record);
    return new Proxy(handle, {
      get(target, property, receiver) {
        if (direct && refuseDirect === 'io' && (property === 'read' || property === 'write')) {
          return () => Promise.reject(refusal(String(property)));
        }
        if (property === 'write') record.writes++;
        if (direct && refuseDirect === 'short' && property === 'write') {
          // A direct write that stops part-way (as at the end of a device's space), at an aligned length.
          return (buffer: Buffer, offset: number, length: number, position: number) =>
            target.write(buffer, offset, Math.max(4096, Math.floor(length / 2 / 4096) * 4096), position);
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  },
}));

const { FilesystemDriver } = await import('./filesystem.driver.js');
const { isAlignedIoBuffer, takeIoBuffer, returnIoBuffer } = await import('./io-buffers.js');

const MiB = 1024 * 1024;
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-fs-direct-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

beforeEach(() => {
  opened.length = 0;
  refuseDirect = 'never';
});

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes `data` in network-sized pieces through successive writers that end at the given offsets. */
async function upload(driver: InstanceType<typeof FilesystemDriver>, path: string, data: Buffer, cuts: number[]) {
  let start = 0;
  for (const [index, end] of cuts.entries()) {
    const writer = await driver.writer(path, index > 0);
    for (let offset = start; offset < end; offset += 64 * 1024 + 3) {
      await writer.write(data.subarray(offset, Math.min(end, offset + 64 * 1024 + 3)));
    }
    await (end === data.length ? writer.commit() : writer.close());
    start = end;
  }
}

async function send(driver: InstanceType<typeof FilesystemDriver>, path: string, offset: number, length: number) {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  await driver.sendTo(path, offset, length, sink);
  return Buffer.concat(chunks);
}

describe('FilesystemDriver direct I/O', () => {
  it('hands out pooled buffers that direct I/O can use', () => {
    const buffers = [takeIoBuffer(), takeIoBuffer()];
    expect(buffers.every((buffer) => isAlignedIoBuffer(buffer) && buffer.length === MiB)).toBe(true);
    buffers.forEach(returnIoBuffer);
    expect(isAlignedIoBuffer(Buffer.allocUnsafeSlow(MiB))).toBe(false);
  });

  it('writes whole aligned batches around the page cache and keeps every byte across unaligned appends', async () => {
    const driver = new FilesystemDriver(root, { directIO: true });
    const data = randomBytes(9 * MiB + 4321);
    const path = 'uploads/direct/data';
    await upload(driver, path, data, [3 * MiB + 5, 3 * MiB + 4096, 7 * MiB + 1, data.length]);
    expect(sha256(await readFile(join(root, path)))).toBe(sha256(data));

    const full = join(root, path);
    const direct = opened.filter((record) => record.path === full && record.direct);
    // The writers with a whole aligned batch (the first, the third from an aligned end, the fourth after cutting its
    // first batch short at a boundary) opened a direct descriptor and wrote through it; the second (4091 bytes from
    // an unaligned end) had none.
    expect(direct.length).toBe(3);
    expect(direct.every((record) => record.writes > 0)).toBe(true);
    expect(driver.directIO.enabled).toBe(true);
  });

  it('reads large ranges around the page cache, from unaligned offsets up to the last byte', async () => {
    const driver = new FilesystemDriver(root, { directIO: true });
    const data = randomBytes(5 * MiB + 777);
    await driver.putContent('blobs/read/data', data);
    const full = join(root, 'blobs/read/data');
    for (const [offset, length] of [
      [0, data.length],
      [1, MiB],
      [MiB + 4095, 2 * MiB + 3],
      [data.length - MiB - 1, MiB + 1],
    ]) {
      opened.length = 0;
      const received = await send(driver, 'blobs/read/data', offset, length);
      expect(received.equals(data.subarray(offset, offset + length))).toBe(true);
      expect(opened.filter((record) => record.path === full).map((record) => record.direct)).toEqual([true]);
    }
    // A small range is read through the page cache.
    opened.length = 0;
    expect((await send(driver, 'blobs/read/data', 10, 1000)).equals(data.subarray(10, 1010))).toBe(true);
    expect(opened.filter((record) => record.path === full).map((record) => record.direct)).toEqual([false]);
  });

  it('falls back to the page cache for good when the filesystem refuses direct descriptors (simulated EINVAL)', async () => {
    const driver = new FilesystemDriver(root, { directIO: true });
    refuseDirect = 'open';
    const data = randomBytes(4 * MiB + 99);
    await upload(driver, 'uploads/refused-open/data', data, [2 * MiB + 1, data.length]);
    expect(driver.directIO.enabled).toBe(false);
    expect((await send(driver, 'uploads/refused-open/data', 3, 3 * MiB)).equals(data.subarray(3, 3 * MiB + 3))).toBe(
      true,
    );
    expect(sha256(await readFile(join(root, 'uploads/refused-open/data')))).toBe(sha256(data));
    expect(opened.filter((record) => record.direct)).toEqual([]);
  });

  it('falls back to the page cache when direct reads and writes are refused on an open descriptor (simulated EINVAL)', async () => {
    const writing = new FilesystemDriver(root, { directIO: true });
    refuseDirect = 'io';
    const data = randomBytes(3 * MiB + 5);
    await upload(writing, 'uploads/refused-io/data', data, [MiB + 17, data.length]);
    expect(writing.directIO.enabled).toBe(false);
    expect(sha256(await readFile(join(root, 'uploads/refused-io/data')))).toBe(sha256(data));

    const reading = new FilesystemDriver(root, { directIO: true });
    expect((await send(reading, 'uploads/refused-io/data', 5, 2 * MiB)).equals(data.subarray(5, 2 * MiB + 5))).toBe(
      true,
    );
    expect(reading.directIO.enabled).toBe(false);
  });

  it('writes whole pooled buffers straight through the direct descriptor, and finishes a short direct write', async () => {
    const data = randomBytes(3 * MiB + 4096 + 5);
    for (const mode of ['never', 'short'] as const) {
      refuseDirect = mode;
      opened.length = 0;
      const driver = new FilesystemDriver(root, { directIO: true });
      const path = `uploads/pooled-${mode}/data`;
      const writer = await driver.writer(path, false);
      for (let offset = 0; offset < data.length; offset += MiB) {
        // As an upload hands them on: each piece in a pooled buffer, which the caller reuses once write() resolves.
        const buffer = takeIoBuffer();
        const length = data.copy(buffer, 0, offset, Math.min(data.length, offset + MiB));
        await writer.write(buffer.subarray(0, length));
        buffer.fill(0xee);
        returnIoBuffer(buffer);
      }
      await writer.commit();
      expect(sha256(await readFile(join(root, path)))).toBe(sha256(data));
      const direct = opened.find((record) => record.direct && record.path === join(root, path));
      expect(direct?.writes).toBeGreaterThanOrEqual(3);
      expect(driver.directIO.enabled).toBe(true);
    }
  });

  it('uses no direct descriptor unless direct I/O is asked for', async () => {
    const driver = new FilesystemDriver(root);
    expect(driver.directIO.enabled).toBe(false);
    const data = randomBytes(3 * MiB);
    await upload(driver, 'uploads/off/data', data, [data.length]);
    expect((await send(driver, 'uploads/off/data', 0, data.length)).equals(data)).toBe(true);
    expect(opened.filter((record) => record.direct)).toEqual([]);
  });
});
