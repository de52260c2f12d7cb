import { mkdtemp, readFile, rm } from 'node:fs/promises';
import * as realFs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

/**
 * Background flushes that outlive the writer that started them. They serve bytes written through the page cache,
 * so the driver here has direct I/O off (the default). A disk that fails a writeback cannot be produced
 * on this machine, so the failing case replaces fdatasync on the handles of chosen files (the boundary to the
 * kernel) with one that fails like a disk error would; every other call is the real one.
 */
const failingDatasync = new Map<string, { delayMs: number; code: string }>();
/** Files whose write at exactly this offset fails, a moment later, as a disk error would. */
const failingWriteAt = new Map<string, number>();
/** Every path opened read-only (how directories are opened to be synced), while recording. */
let openedReadOnly: string[] | undefined;

function simulatedDiskError(code: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: i/o error, fdatasync (simulated disk error)`);
  error.code = code;
  return error;
}

jest.unstable_mockModule('node:fs/promises', () => ({
  ...realFs,
  open: async (path: string, flags?: string | number, mode?: number) => {
    const handle = await realFs.open(path, flags, mode);
    if (flags === 'r') openedReadOnly?.push(String(path));
    const failure = failingDatasync.get(String(path));
    const failWriteAt = failingWriteAt.get(String(path));
    if (!failure && failWriteAt === undefined) return handle;
    return new Proxy(handle, {
      get(target, property, receiver) {
        if (property === 'write' && failWriteAt !== undefined) {
          return (buffer: Buffer, offset: number, length: number, position: number) =>
            position === failWriteAt
              ? new Promise((_resolve, reject) => setTimeout(() => reject(simulatedDiskError('EIO')), 20))
              : target.write(buffer, offset, length, position);
        }
        if (property === 'datasync' && failure) {
          return () =>
            new Promise<void>((_resolve, reject) =>
              setTimeout(() => reject(simulatedDiskError(failure.code)), failure.delayMs),
            );
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  },
}));

const { FilesystemDriver } = await import('./filesystem.driver.js');

const MiB = 1024 * 1024;
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-fs-writeback-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function pattern(size: number, seed: number): Buffer {
  const buffer = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) buffer[i] = (i * 31 + seed) & 0xff;
  return buffer;
}

describe('FilesystemDriver background flushes', () => {
  it('keeps every byte when chunks are appended by successive writers while flushes run', async () => {
    const driver = new FilesystemDriver(root, { directIO: false });
    const parts = [pattern(12 * MiB + 123, 1), pattern(9 * MiB, 2), pattern(3 * MiB + 7, 3)];
    let append = false;
    for (const [index, part] of parts.entries()) {
      const writer = await driver.writer('uploads/one/data', append);
      // Small network-sized pieces, as a request body arrives.
      for (let offset = 0; offset < part.length; offset += 64 * 1024) {
        await writer.write(part.subarray(offset, offset + 64 * 1024));
      }
      if (index === parts.length - 1) await writer.commit();
      else await writer.close();
      append = true;
    }
    expect((await readFile(join(root, 'uploads/one/data'))).equals(Buffer.concat(parts))).toBe(true);
  });

  it('reports a flush that fails after its writer closed to the next writer of the file (simulated disk error)', async () => {
    const driver = new FilesystemDriver(root, { directIO: false });
    const path = 'uploads/failing/data';
    failingDatasync.set(join(root, path), { delayMs: 150, code: 'EIO' });
    try {
      const first = await driver.writer(path, false);
      await first.write(pattern(10 * MiB, 4));
      // The flush is still running: closing (the end of a PATCH) does not wait for it.
      await expect(first.close()).resolves.toBeUndefined();
      failingDatasync.delete(join(root, path));

      const second = await driver.writer(path, true);
      await second.write(pattern(MiB, 5));
      await expect(second.commit()).rejects.toMatchObject({ code: 'EIO' });
    } finally {
      failingDatasync.delete(join(root, path));
    }
  });

  it('fails a later close once the inherited flush is known to have failed (simulated disk error)', async () => {
    const driver = new FilesystemDriver(root, { directIO: false });
    const path = 'uploads/failing-close/data';
    failingDatasync.set(join(root, path), { delayMs: 50, code: 'EIO' });
    try {
      const first = await driver.writer(path, false);
      await first.write(pattern(10 * MiB, 6));
      await first.close();
      failingDatasync.delete(join(root, path));
      await new Promise((resolve) => setTimeout(resolve, 200));

      const second = await driver.writer(path, true);
      await second.write(pattern(1000, 7));
      await expect(second.close()).rejects.toMatchObject({ code: 'EIO' });
      // Reported once, not forgotten: the file's next writer hears of it too.
      const third = await driver.writer(path, true);
      await expect(third.commit()).rejects.toMatchObject({ code: 'EIO' });
    } finally {
      failingDatasync.delete(join(root, path));
    }
  });

  it('leaves a prefix of the written bytes, to resume from, when a write fails (simulated disk error)', async () => {
    const driver = new FilesystemDriver(root, { directIO: false });
    const path = 'uploads/failing-write/data';
    const data = pattern(6 * MiB, 9);
    failingWriteAt.set(join(root, path), 3 * MiB);
    try {
      const writer = await driver.writer(path, false);
      // Handed over without waiting, as the receiving side does with its buffers.
      const writes = [0, 1, 2, 3, 4, 5].map((i) => writer.write(data.subarray(i * MiB, (i + 1) * MiB)));
      await Promise.allSettled(writes);
      await expect(writer.close()).rejects.toMatchObject({ code: 'EIO' });
      const stored = await readFile(join(root, path));
      expect(stored.length).toBe(3 * MiB);
      expect(stored.equals(data.subarray(0, stored.length))).toBe(true);
    } finally {
      failingWriteAt.delete(join(root, path));
    }
  });

  it('syncs the directories above a new blob prefix once, and then only the parent of each new prefix', async () => {
    const storage = join(root, 'durable-directories');
    const driver = new FilesystemDriver(storage, { directIO: false });
    const moveRecording = async (to: string): Promise<string[]> => {
      await driver.putContent(`uploads/${to.replaceAll('/', '-')}`, Buffer.from(to));
      openedReadOnly = [];
      try {
        await driver.move(`uploads/${to.replaceAll('/', '-')}`, to);
        return openedReadOnly.map((path) => path.slice(storage.length) || '/').sort();
      } finally {
        openedReadOnly = undefined;
      }
    };
    // A fresh root: every directory up to it holds a new name.
    expect(await moveRecording('blobs/sha256/ab/one')).toEqual(['/', '/blobs', '/blobs/sha256', '/blobs/sha256/ab']);
    // A new prefix beside it: its parent, and the prefix itself for the moved name.
    expect(await moveRecording('blobs/sha256/cd/two')).toEqual(['/blobs/sha256', '/blobs/sha256/cd']);
    // An existing prefix: only the directory holding the moved name.
    expect(await moveRecording('blobs/sha256/ab/three')).toEqual(['/blobs/sha256/ab']);
    expect((await readFile(join(storage, 'blobs/sha256/cd/two'))).toString()).toBe('blobs/sha256/cd/two');
  });

  it('syncs the directories above a new directory that putContent creates, once', async () => {
    const storage = join(root, 'durable-put');
    const driver = new FilesystemDriver(storage, { directIO: false });
    const putRecording = async (path: string): Promise<string[]> => {
      openedReadOnly = [];
      try {
        await driver.putContent(path, Buffer.from(path));
        return openedReadOnly.map((opened) => opened.slice(storage.length) || '/').sort();
      } finally {
        openedReadOnly = undefined;
      }
    };
    expect(await putRecording('meta/x/first')).toEqual(['/', '/meta', '/meta/x']);
    expect(await putRecording('meta/x/second')).toEqual(['/meta/x']);
    expect(await readFile(join(storage, 'meta/x/second'), 'utf8')).toBe('meta/x/second');
    // Removed behind the driver's back: every directory made again is synced into its parent, as new ones are.
    await rm(join(storage, 'meta'), { recursive: true });
    expect(await putRecording('meta/x/third')).toEqual(['/', '/meta', '/meta/x']);
    expect(await readFile(join(storage, 'meta/x/third'), 'utf8')).toBe('meta/x/third');
  });

  it('makes a file another writer moved into place durable, with the directories above it', async () => {
    const storage = join(root, 'durable-found');
    await realFs.mkdir(join(storage, 'blobs/sha256/zz'), { recursive: true });
    await realFs.writeFile(join(storage, 'blobs/sha256/zz/found'), 'found');
    const driver = new FilesystemDriver(storage, { directIO: false });
    const recording = async (): Promise<string[]> => {
      openedReadOnly = [];
      try {
        await driver.ensureDurable('blobs/sha256/zz/found');
        return openedReadOnly.map((path) => path.slice(storage.length) || '/').sort();
      } finally {
        openedReadOnly = undefined;
      }
    };
    expect(await recording()).toEqual(['/', '/blobs', '/blobs/sha256', '/blobs/sha256/zz']);
    // The directories above are known durable now: only the file's own directory is synced again.
    expect(await recording()).toEqual(['/blobs/sha256/zz']);
  });

  it('syncs every directory a move makes again after they were removed behind its back', async () => {
    const storage = join(root, 'durable-removed');
    const driver = new FilesystemDriver(storage, { directIO: false });
    await driver.putContent('uploads/one', Buffer.from('one'));
    await driver.move('uploads/one', 'blobs/sha256/ab/one');
    await rm(join(storage, 'blobs'), { recursive: true });
    await driver.putContent('uploads/two', Buffer.from('two'));
    openedReadOnly = [];
    try {
      await driver.move('uploads/two', 'blobs/sha256/ab/two');
      expect(openedReadOnly.map((path) => path.slice(storage.length) || '/').sort()).toEqual([
        '/',
        '/blobs',
        '/blobs/sha256',
        '/blobs/sha256/ab',
      ]);
    } finally {
      openedReadOnly = undefined;
    }
  });

  it('forgets a failed flush once its upload is deleted (simulated disk error)', async () => {
    const driver = new FilesystemDriver(root, { directIO: false });
    const path = 'uploads/deleted/data';
    failingDatasync.set(join(root, path), { delayMs: 20, code: 'EIO' });
    try {
      const first = await driver.writer(path, false);
      await first.write(pattern(10 * MiB, 8));
      await first.close();
      failingDatasync.delete(join(root, path));
      await new Promise((resolve) => setTimeout(resolve, 100));
      await driver.delete('uploads/deleted');

      const fresh = await driver.writer(path, false);
      await fresh.write(Buffer.from('new upload'));
      await expect(fresh.commit()).resolves.toBeUndefined();
      expect(await readFile(join(root, path), 'utf8')).toBe('new upload');
    } finally {
      failingDatasync.delete(join(root, path));
    }
  });
});
