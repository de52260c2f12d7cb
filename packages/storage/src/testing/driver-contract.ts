import { createHash, randomBytes } from 'node:crypto';
import { type Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { InvalidPathError, PathNotFoundError, type StorageDriver } from '../types.js';

/** A storage backend under test. */
export interface StorageDriverContractBackend {
  /** A driver over the backend; every call gives a fresh instance, as another process would hold. */
  createDriver(): StorageDriver;
  /** Releases the backend (temporary directories, servers, clients). */
  cleanup(): Promise<void>;
}

const MiB = 1024 * 1024;

export async function readStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Splits data into pieces of awkward sizes, from one byte to more than the drivers' batch sizes. */
function oddChunks(data: Buffer): Buffer[] {
  const sizes = [1, 7919, 65_537, 1_048_577, 333_333, 13, 4_194_305, 2_097_143, 511];
  const chunks: Buffer[] = [];
  let offset = 0;
  for (let index = 0; offset < data.length; index++) {
    const size = sizes[index % sizes.length] ?? 1;
    chunks.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

const INVALID_PATHS = ['', '/abs', 'a//b', 'a/', 'a/./b', './a', 'a/../b', '..', 'a\\b', 'a\0b', '.wharf-tmp-x'];

/**
 * The behaviour every StorageDriver must show. Each test works under its own random directory, so
 * drivers may share one backend across tests.
 */
export interface StorageDriverContractOptions {
  /** Whether the driver offers the optional sendTo fast path (its tests are skipped, and say so, otherwise). */
  sendTo: boolean;
}

export function describeStorageDriverContract(
  name: string,
  setup: () => Promise<StorageDriverContractBackend>,
  options: StorageDriverContractOptions = { sendTo: false },
) {
  describe(`StorageDriver contract: ${name}`, () => {
    let backend: StorageDriverContractBackend;
    let driver: StorageDriver;
    let base = '';
    const at = (path: string) => `${base}/${path}`;

    beforeAll(async () => {
      backend = await setup();
      driver = backend.createDriver();
    });
    afterAll(async () => {
      await backend?.cleanup();
    });
    beforeEach(() => {
      base = `contract-${randomBytes(6).toString('hex')}`;
    });

    describe('content', () => {
      it('stores, stats and reads back content', async () => {
        const before = Date.now();
        const content = Buffer.from('hello, registry');
        expect(await driver.stat(at('file'))).toBeNull();
        await driver.putContent(at('dir/file'), content);
        const info = await driver.stat(at('dir/file'));
        expect({ path: info?.path, size: info?.size }).toEqual({ path: at('dir/file'), size: content.length });
        // Clocks of a remote backend may differ a little from ours.
        expect(info?.modTime.getTime()).toBeGreaterThan(before - 5 * 60_000);
        expect(await driver.getContent(at('dir/file'))).toEqual(content);
      });

      it('overwrites content and stores empty objects', async () => {
        await driver.putContent(at('file'), Buffer.from('a much longer first version'));
        await driver.putContent(at('file'), Buffer.from('v2'));
        expect((await driver.getContent(at('file'))).toString()).toBe('v2');
        expect((await driver.stat(at('file')))?.size).toBe(2);
        await driver.putContent(at('empty'), Buffer.alloc(0));
        expect((await driver.stat(at('empty')))?.size).toBe(0);
        expect((await driver.getContent(at('empty'))).length).toBe(0);
      });

      it('reports missing paths', async () => {
        expect(await driver.stat(at('missing'))).toBeNull();
        await expect(driver.getContent(at('missing'))).rejects.toBeInstanceOf(PathNotFoundError);
        await expect(driver.reader(at('missing'))).rejects.toBeInstanceOf(PathNotFoundError);
        await expect(driver.reader(at('missing'), 10, 5)).rejects.toBeInstanceOf(PathNotFoundError);
        await expect(driver.reader(at('missing'), 0, 0)).rejects.toBeInstanceOf(PathNotFoundError);
        await expect(driver.writer(at('missing'), true)).rejects.toBeInstanceOf(PathNotFoundError);
      });

      it('does not report a directory as an object', async () => {
        await driver.putContent(at('dir/file'), Buffer.from('x'));
        expect(await driver.stat(at('dir'))).toBeNull();
        await expect(driver.getContent(at('dir'))).rejects.toBeInstanceOf(PathNotFoundError);
      });
    });

    describe('reader', () => {
      const content = Buffer.from('0123456789abcdefghij');

      it('reads all, from an offset, and a bounded range', async () => {
        await driver.putContent(at('blob'), content);
        expect((await readStream(await driver.reader(at('blob')))).toString()).toBe(content.toString());
        expect((await readStream(await driver.reader(at('blob'), 10))).toString()).toBe('abcdefghij');
        expect((await readStream(await driver.reader(at('blob'), 3, 4))).toString()).toBe('3456');
        expect((await readStream(await driver.reader(at('blob'), 0, 1))).toString()).toBe('0');
        expect((await readStream(await driver.reader(at('blob'), 19, 1))).toString()).toBe('j');
      });

      it('stops at the end of the object', async () => {
        await driver.putContent(at('blob'), content);
        expect((await readStream(await driver.reader(at('blob'), 15, 100))).toString()).toBe('fghij');
        expect((await readStream(await driver.reader(at('blob'), 20))).length).toBe(0);
        expect((await readStream(await driver.reader(at('blob'), 25, 3))).length).toBe(0);
        expect((await readStream(await driver.reader(at('blob'), 5, 0))).length).toBe(0);
      });

      it('reads an empty object', async () => {
        await driver.putContent(at('empty'), Buffer.alloc(0));
        expect((await readStream(await driver.reader(at('empty')))).length).toBe(0);
      });

      it('refuses negative or fractional ranges', async () => {
        await driver.putContent(at('blob'), content);
        await expect(driver.reader(at('blob'), -1)).rejects.toBeInstanceOf(RangeError);
        await expect(driver.reader(at('blob'), 1.5)).rejects.toBeInstanceOf(RangeError);
        await expect(driver.reader(at('blob'), 0, -2)).rejects.toBeInstanceOf(RangeError);
      });

      it('reads a range across a large object', async () => {
        const large = randomBytes(3 * MiB + 17);
        await driver.putContent(at('large'), large);
        const offset = MiB - 3;
        const length = 2 * MiB + 11;
        const part = await readStream(await driver.reader(at('large'), offset, length));
        expect(part.equals(large.subarray(offset, offset + length))).toBe(true);
      });
    });

    (options.sendTo ? describe : describe.skip)('sendTo', () => {
      function collector(delayEveryWriteMs = 0): { sink: Writable; received: () => Buffer } {
        const chunks: Buffer[] = [];
        const sink = new Writable({
          highWaterMark: 64 * 1024,
          write(chunk: Buffer, _encoding, done) {
            // Copy: the driver may reuse its buffer once this write has completed.
            chunks.push(Buffer.from(chunk));
            if (delayEveryWriteMs > 0) setTimeout(done, delayEveryWriteMs);
            else done();
          },
        });
        return { sink, received: () => Buffer.concat(chunks) };
      }

      it('writes exactly the requested range to a slow destination', async () => {
        const large = randomBytes(3 * MiB + 5);
        await driver.putContent(at('send'), large);
        const whole = collector(2);
        await driver.sendTo!(at('send'), 0, large.length, whole.sink);
        expect(whole.received().equals(large)).toBe(true);
        const part = collector();
        await driver.sendTo!(at('send'), MiB + 1, MiB + 7, part.sink);
        expect(part.received().equals(large.subarray(MiB + 1, 2 * MiB + 8))).toBe(true);
      });

      it('rejects a range beyond the object and a missing path', async () => {
        await driver.putContent(at('short'), Buffer.from('twelve bytes'));
        await expect(driver.sendTo!(at('short'), 0, 100, collector().sink)).rejects.toThrow(/early/);
        await expect(driver.sendTo!(at('absent'), 0, 1, collector().sink)).rejects.toBeInstanceOf(PathNotFoundError);
      });

      it('rejects when the destination fails', async () => {
        await driver.putContent(at('to-broken'), randomBytes(2 * MiB));
        const broken = new Writable({
          write(_chunk, _encoding, done) {
            done(new Error('connection reset'));
          },
        });
        broken.on('error', () => undefined);
        await expect(driver.sendTo!(at('to-broken'), 0, 2 * MiB, broken)).rejects.toThrow('connection reset');
      });
    });

    describe('writer', () => {
      it('writes chunks, tracks the size and commits', async () => {
        const writer = await driver.writer(at('upload'), false);
        expect(writer.size).toBe(0);
        await writer.write(Buffer.from('abc'));
        await writer.write(Buffer.alloc(0));
        await writer.write(Buffer.from('defg'));
        expect(writer.size).toBe(7);
        await writer.commit();
        expect((await driver.getContent(at('upload'))).toString()).toBe('abcdefg');
        expect((await driver.stat(at('upload')))?.size).toBe(7);
      });

      it('creates an empty object when committed without writes', async () => {
        const writer = await driver.writer(at('nothing'), false);
        await writer.commit();
        expect((await driver.stat(at('nothing')))?.size).toBe(0);
      });

      it('keeps bytes in order when writes are not awaited one by one', async () => {
        const writer = await driver.writer(at('unawaited'), false);
        const pieces = Array.from({ length: 50 }, (_, index) => Buffer.from(`${index},`));
        await Promise.all(pieces.map((piece) => writer.write(piece)));
        await writer.commit();
        expect((await driver.getContent(at('unawaited'))).toString()).toBe(Buffer.concat(pieces).toString());
      });

      it('keeps bytes in order when large and small writes are not awaited one by one', async () => {
        const writer = await driver.writer(at('unawaited-large'), false);
        const sizes = [128 * 1024, 1, 300 * 1024, 1024 * 1024, 128 * 1024 - 1, 2 * 1024 * 1024 + 3, 128 * 1024, 77];
        const pieces = sizes.map((size) => randomBytes(size));
        await Promise.all(pieces.map((piece) => writer.write(piece)));
        expect(writer.size).toBe(sizes.reduce((sum, size) => sum + size, 0));
        await writer.commit();
        expect((await driver.getContent(at('unawaited-large'))).equals(Buffer.concat(pieces))).toBe(true);
      });

      it('is done with a large chunk once its write resolves, so the caller may reuse that buffer', async () => {
        const writer = await driver.writer(at('reuse-large'), false);
        const buffer = randomBytes(3 * 1024 * 1024);
        const original = Buffer.from(buffer);
        await writer.write(buffer);
        buffer.fill(7);
        await writer.write(buffer.subarray(0, 256 * 1024));
        await writer.commit();
        const stored = await driver.getContent(at('reuse-large'));
        expect(stored.subarray(0, original.length).equals(original)).toBe(true);
        expect(stored.subarray(original.length).equals(Buffer.alloc(256 * 1024, 7))).toBe(true);
      });

      it('copies written chunks, so the caller may reuse its buffer', async () => {
        const writer = await driver.writer(at('reuse'), false);
        const buffer = Buffer.from('aaaa');
        await writer.write(buffer);
        buffer.fill('b');
        await writer.write(buffer);
        await writer.commit();
        expect((await driver.getContent(at('reuse'))).toString()).toBe('aaaabbbb');
      });

      it('appends to a closed object from a new writer of another driver instance', async () => {
        const first = await driver.writer(at('resumable'), false);
        await first.write(Buffer.from('first-'));
        await first.close();

        const elsewhere = backend.createDriver();
        const second = await elsewhere.writer(at('resumable'), true);
        expect(second.size).toBe(6);
        await second.write(Buffer.from('second-'));
        expect(second.size).toBe(13);
        await second.close();

        const third = await backend.createDriver().writer(at('resumable'), true);
        expect(third.size).toBe(13);
        await third.write(Buffer.from('third'));
        await third.commit();
        expect((await driver.getContent(at('resumable'))).toString()).toBe('first-second-third');
      });

      it('appends to a closed multi-megabyte object', async () => {
        const data = randomBytes(13 * MiB + 101);
        const cuts = [6 * MiB + 7, 6 * MiB + 8, 12 * MiB - 1, data.length];
        let start = 0;
        for (const [index, end] of cuts.entries()) {
          const writer = await backend.createDriver().writer(at('big-resumable'), index > 0);
          expect(writer.size).toBe(start);
          for (const chunk of oddChunks(data.subarray(start, end))) await writer.write(chunk);
          expect(writer.size).toBe(end);
          await (end === data.length ? writer.commit() : writer.close());
          expect((await driver.stat(at('big-resumable')))?.size).toBe(end);
          start = end;
        }
        expect(sha256(await readStream(await driver.reader(at('big-resumable'))))).toBe(sha256(data));
      });

      it('leaves a closed object unchanged when an append writer writes nothing', async () => {
        await driver.putContent(at('unchanged'), Buffer.from('content'));
        const writer = await driver.writer(at('unchanged'), true);
        expect(writer.size).toBe(7);
        await writer.close();
        expect((await driver.getContent(at('unchanged'))).toString()).toBe('content');
      });

      it('truncates an existing object when not appending', async () => {
        await driver.putContent(at('replaced'), Buffer.from('old content that is long'));
        const writer = await driver.writer(at('replaced'), false);
        expect(writer.size).toBe(0);
        await writer.write(Buffer.from('new'));
        await writer.commit();
        expect((await driver.getContent(at('replaced'))).toString()).toBe('new');
      });

      it('cancel discards the object', async () => {
        const writer = await driver.writer(at('cancelled'), false);
        await writer.write(randomBytes(2 * MiB));
        await writer.cancel();
        expect(await driver.stat(at('cancelled'))).toBeNull();

        const first = await driver.writer(at('cancelled-after-close'), false);
        await first.write(Buffer.from('partial'));
        await first.close();
        const resumed = await backend.createDriver().writer(at('cancelled-after-close'), true);
        await resumed.write(Buffer.from(' more'));
        await resumed.cancel();
        expect(await driver.stat(at('cancelled-after-close'))).toBeNull();
      });

      it('refuses use after commit, close or cancel', async () => {
        const committed = await driver.writer(at('done'), false);
        await committed.commit();
        await expect(committed.write(Buffer.from('x'))).rejects.toThrow(/committed/);
        await expect(committed.commit()).rejects.toThrow(/committed/);
        const closed = await driver.writer(at('closed'), false);
        await closed.close();
        await expect(closed.write(Buffer.from('x'))).rejects.toThrow(/closed/);
        const cancelled = await driver.writer(at('cancelled'), false);
        await cancelled.cancel();
        await expect(cancelled.close()).rejects.toThrow(/cancelled/);
      });

      it('streams a 40 MiB object in odd-sized chunks', async () => {
        const data = randomBytes(40 * MiB + 3);
        const writer = await driver.writer(at('large/data'), false);
        let expectedSize = 0;
        for (const chunk of oddChunks(data)) {
          await writer.write(chunk);
          expectedSize += chunk.length;
          expect(writer.size).toBe(expectedSize);
        }
        await writer.commit();
        expect((await driver.stat(at('large/data')))?.size).toBe(data.length);
        const hash = createHash('sha256');
        for await (const chunk of await driver.reader(at('large/data'))) hash.update(chunk as Buffer);
        expect(hash.digest('hex')).toBe(sha256(data));
      });

      it('runs concurrent writers to different paths', async () => {
        const contents = Array.from({ length: 6 }, (_, index) => randomBytes(MiB + index * 333_331));
        const writers = await Promise.all(contents.map((_, index) => driver.writer(at(`concurrent/${index}`), false)));
        await Promise.all(
          writers.map(async (writer, index) => {
            for (const chunk of oddChunks(contents[index] ?? Buffer.alloc(0))) await writer.write(chunk);
            await writer.commit();
          }),
        );
        for (const [index, content] of contents.entries()) {
          expect(sha256(await driver.getContent(at(`concurrent/${index}`)))).toBe(sha256(content));
        }
      });
    });

    describe('move', () => {
      it('moves an object to a new directory', async () => {
        await driver.putContent(at('uploads/1/data'), Buffer.from('blob'));
        await driver.move(at('uploads/1/data'), at('blobs/sha256:ab/data'));
        expect(await driver.stat(at('uploads/1/data'))).toBeNull();
        expect((await driver.getContent(at('blobs/sha256:ab/data'))).toString()).toBe('blob');
      });

      it('overwrites the destination', async () => {
        await driver.putContent(at('src'), Buffer.from('new'));
        await driver.putContent(at('dst'), Buffer.from('old and longer'));
        await driver.move(at('src'), at('dst'));
        expect((await driver.getContent(at('dst'))).toString()).toBe('new');
        expect(await driver.stat(at('src'))).toBeNull();
      });

      it('moves a committed multi-part object', async () => {
        const data = randomBytes(11 * MiB + 5);
        const writer = await driver.writer(at('uploads/big'), false);
        for (const chunk of oddChunks(data)) await writer.write(chunk);
        await writer.commit();
        await driver.move(at('uploads/big'), at('blobs/big'));
        expect(sha256(await driver.getContent(at('blobs/big')))).toBe(sha256(data));
      });

      it('fails for a missing source and leaves the destination alone', async () => {
        await driver.putContent(at('dst'), Buffer.from('kept'));
        await expect(driver.move(at('missing'), at('dst'))).rejects.toBeInstanceOf(PathNotFoundError);
        expect((await driver.getContent(at('dst'))).toString()).toBe('kept');
      });

      it('fails for a missing source whether or not the destination directory exists', async () => {
        await expect(driver.move(at('missing'), at('nowhere/yet/dst'))).rejects.toBeInstanceOf(PathNotFoundError);
        expect(await driver.stat(at('nowhere/yet/dst'))).toBeNull();
        await driver.putContent(at('there/other'), Buffer.from('x'));
        await expect(driver.move(at('missing'), at('there/dst'))).rejects.toBeInstanceOf(PathNotFoundError);
        expect(await driver.list(at('there'))).toEqual([at('there/other')]);
      });

      it('moves objects at once into a directory none of them found, to names of their own and to one name', async () => {
        const names = Array.from({ length: 24 }, (_, i) => `n${String(i).padStart(2, '0')}`);
        for (const name of names) await driver.putContent(at(`uploads/${name}`), Buffer.from(name));
        await Promise.all(names.slice(0, 16).map((name) => driver.move(at(`uploads/${name}`), at(`new/${name}`))));
        await Promise.all(names.slice(16).map((name) => driver.move(at(`uploads/${name}`), at('same/one'))));
        expect(await driver.list(at('new'))).toEqual(names.slice(0, 16).map((name) => at(`new/${name}`)));
        expect(names.slice(16)).toContain((await driver.getContent(at('same/one'))).toString());
      });

      it('moves objects one after another into a directory it created', async () => {
        for (const name of ['a', 'b', 'c']) {
          await driver.putContent(at(`uploads/${name}`), Buffer.from(name));
          await driver.move(at(`uploads/${name}`), at(`blobs/sha256/fe/${name}`));
        }
        expect(await driver.list(at('blobs/sha256/fe'))).toEqual(
          ['a', 'b', 'c'].map((n) => at(`blobs/sha256/fe/${n}`)),
        );
      });
    });

    describe('list', () => {
      it('returns direct children, files and directories, as full paths', async () => {
        await driver.putContent(at('repo/a'), Buffer.from('1'));
        await driver.putContent(at('repo/b'), Buffer.from('2'));
        await driver.putContent(at('repo/sub/c'), Buffer.from('3'));
        await driver.putContent(at('repo/sub/deeper/d'), Buffer.from('4'));
        await driver.putContent(at('repo-sibling/e'), Buffer.from('5'));
        expect(await driver.list(at('repo'))).toEqual([at('repo/a'), at('repo/b'), at('repo/sub')]);
        expect(await driver.list(at('repo/sub'))).toEqual([at('repo/sub/c'), at('repo/sub/deeper')]);
      });

      it('walks every file at any depth, with its size and time, and lists the same paths', async () => {
        const before = Date.now();
        await driver.putContent(at('repo/a'), Buffer.from('1'));
        await driver.putContent(at('repo/sub/deeper/d'), Buffer.from('four'));
        await driver.putContent(at('repo-sibling/e'), Buffer.from('5'));
        const walked: { path: string; size: number }[] = [];
        for await (const file of driver.walk(at('repo'))) {
          expect(file.modTime.getTime()).toBeGreaterThan(before - 5000);
          walked.push({ path: file.path, size: file.size });
        }
        walked.sort((x, y) => x.path.localeCompare(y.path));
        expect(walked).toEqual([
          { path: at('repo/a'), size: 1 },
          { path: at('repo/sub/deeper/d'), size: 4 },
        ]);
        const listed: string[] = [];
        for await (const file of driver.listFiles(at('repo'))) {
          listed.push(file.path);
          // What a listing gives beyond the path must be what walk() says.
          const walkedFile = walked.find((w) => w.path === file.path);
          if (file.size !== undefined) expect(file.size).toBe(walkedFile?.size);
          if (file.modTime !== undefined) expect(file.modTime.getTime()).toBeGreaterThan(before - 5000);
        }
        expect(listed.sort()).toEqual([at('repo/a'), at('repo/sub/deeper/d')]);
        for await (const file of driver.listFiles(at('nothing-here'))) throw new Error(`listed ${file.path}`);
        for await (const file of driver.walk(at('nothing-here'))) throw new Error(`walked ${file.path}`);
      });

      it('finds directories that only hold deeper directories', async () => {
        await driver.putContent(at('blobs/sha256/ab/abcdef/data'), Buffer.from('1'));
        await driver.putContent(at('blobs/sha256/cd/cdef01/data'), Buffer.from('2'));
        expect(await driver.list(at('blobs/sha256'))).toEqual([at('blobs/sha256/ab'), at('blobs/sha256/cd')]);
        expect(await driver.list(at('blobs'))).toEqual([at('blobs/sha256')]);
      });

      it('fails for a missing directory', async () => {
        await expect(driver.list(at('nothing-here'))).rejects.toBeInstanceOf(PathNotFoundError);
      });
    });

    describe('delete', () => {
      it('deletes a file', async () => {
        await driver.putContent(at('dir/file'), Buffer.from('x'));
        await driver.putContent(at('dir/other'), Buffer.from('y'));
        await driver.delete(at('dir/file'));
        expect(await driver.stat(at('dir/file'))).toBeNull();
        expect(await driver.list(at('dir'))).toEqual([at('dir/other')]);
      });

      it('deletes a whole tree and nothing beside it', async () => {
        await driver.putContent(at('tree/a'), Buffer.from('1'));
        await driver.putContent(at('tree/sub/b'), Buffer.from('2'));
        await driver.putContent(at('tree/sub/deeper/c'), Buffer.from('3'));
        await driver.putContent(at('tree-2/d'), Buffer.from('4'));
        await driver.delete(at('tree'));
        expect(await driver.stat(at('tree/a'))).toBeNull();
        expect(await driver.stat(at('tree/sub/deeper/c'))).toBeNull();
        await expect(driver.list(at('tree'))).rejects.toBeInstanceOf(PathNotFoundError);
        expect((await driver.getContent(at('tree-2/d'))).toString()).toBe('4');
      });

      it('accepts deleting what does not exist', async () => {
        await expect(driver.delete(at('never/was'))).resolves.toBeUndefined();
      });

      it('deletes many files at once, more than one request holds, counting a missing one as deleted', async () => {
        const paths = Array.from({ length: 1001 }, (_, i) => at(`many/${String(i % 7)}/f${String(i)}`));
        for (let i = 0; i < paths.length; i += 50) {
          await Promise.all(paths.slice(i, i + 50).map((path) => driver.putContent(path, Buffer.from('x'))));
        }
        await driver.putContent(at('many/kept'), Buffer.from('k'));
        const failures = await driver.deleteFiles([...paths, at('many/never-was')]);
        expect(failures).toEqual([]);
        const left: string[] = [];
        for await (const file of driver.walk(at('many'))) left.push(file.path);
        expect(left).toEqual([at('many/kept')]);
        await expect(driver.deleteFiles([])).resolves.toEqual([]);
      });
    });

    describe('paths', () => {
      it.each(INVALID_PATHS)('refuses %j in every operation', async (path) => {
        const checks: Array<() => Promise<unknown>> = [
          () => driver.stat(path),
          () => driver.reader(path),
          () => driver.getContent(path),
          () => driver.putContent(path, Buffer.from('x')),
          () => driver.writer(path, false),
          () => driver.writer(path, true),
          () => driver.list(path),
          () => driver.move(path, at('ok')),
          () => driver.move(at('ok'), path),
          () => driver.delete(path),
          () => driver.deleteFiles([at('ok'), path]),
          () => driver.redirectURL(path, { method: 'GET', expiresInSeconds: 60 }),
        ];
        await driver.putContent(at('ok'), Buffer.from('x'));
        for (const check of checks) await expect(check()).rejects.toBeInstanceOf(InvalidPathError);
        expect((await driver.getContent(at('ok'))).toString()).toBe('x');
      });

      it('accepts digests and dots inside segments', async () => {
        const path = at('blobs/sha256:0a1b/..data/.hidden/v1.2');
        await driver.putContent(path, Buffer.from('ok'));
        expect((await driver.getContent(path)).toString()).toBe('ok');
      });
    });
  });
}
