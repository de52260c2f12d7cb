import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { OciError, OciErrorCode } from '@wharf/oci';
import { type FileWriter, IO_BUFFER_BYTES } from '@wharf/storage';
import { HashingThread } from './hashing-thread.js';
import { receive } from './receive.js';
import { UploadHash } from './upload-hash.js';

/** A writer that keeps a copy of what it is given (the caller reuses its buffers) and can be told to fail. */
class RecordingWriter implements FileWriter {
  readonly chunks: Buffer[] = [];
  failAfter = Infinity;
  get size(): number {
    return this.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  }
  async write(chunk: Buffer): Promise<void> {
    // Let the hashing thread read the same buffer meanwhile, as a disk write would.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.size + chunk.length > this.failAfter) throw new Error('disk full (simulated)');
    this.chunks.push(Buffer.from(chunk));
  }
  async close(): Promise<void> {}
  async commit(): Promise<void> {}
  async cancel(): Promise<void> {}
}

function pieces(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += size) out.push(data.subarray(offset, offset + size));
  return out;
}

async function* generate(chunks: Buffer[]): AsyncGenerator<Buffer> {
  for (const chunk of chunks) {
    await new Promise((resolve) => setImmediate(resolve));
    yield chunk;
  }
}

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

describe('receive', () => {
  const thread = new HashingThread();
  afterAll(() => thread.stop());

  const sizes = [0, 1, IO_BUFFER_BYTES - 1, IO_BUFFER_BYTES, IO_BUFFER_BYTES + 1, 3 * IO_BUFFER_BYTES + 333_333];
  for (const size of sizes) {
    for (const kind of ['stream', 'iterable'] as const) {
      it(`stores and hashes ${size} bytes from a ${kind}, whole or to be continued`, async () => {
        const data = randomBytes(size);
        for (const whole of [true, false]) {
          // With and without a declared length: a small whole content of declared length is hashed in place.
          for (const limit of [undefined, size]) {
            const chunks = pieces(data, 65_536 + 17);
            const body = kind === 'stream' ? Readable.from(chunks, { objectMode: false }) : generate(chunks);
            const writer = new RecordingWriter();
            const hash = new UploadHash('sha256', thread);
            expect(await receive(body, { writer, hash, whole, limit })).toBe(size);
            expect(Buffer.concat(writer.chunks).equals(data)).toBe(true);
            expect(await hash.digest()).toBe(sha256(data));
          }
        }
      });
    }
  }

  it('writes a small whole body of declared length in 128 KiB pieces while it is still arriving', async () => {
    const piece = 128 * 1024;
    const data = randomBytes(IO_BUFFER_BYTES - 5);
    const chunks = pieces(data, 65_536 + 17);
    let yielded = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for (const chunk of chunks) {
        await new Promise((resolve) => setImmediate(resolve));
        yielded++;
        yield chunk;
      }
    }
    const writer = new RecordingWriter();
    const calls: { length: number; yielded: number }[] = [];
    const write = writer.write.bind(writer);
    writer.write = (chunk: Buffer) => {
      calls.push({ length: chunk.length, yielded });
      return write(chunk);
    };
    const hash = new UploadHash('sha256', thread);
    expect(await receive(counted(), { writer, hash, whole: true, limit: data.length })).toBe(data.length);
    expect(calls.map((call) => call.length)).toEqual([...Array<number>(7).fill(piece), data.length - 7 * piece]);
    // Each whole piece went to the writer as soon as it had arrived, long before the body's end.
    expect(calls[0].yielded).toBeLessThanOrEqual(3);
    expect(calls[6].yielded).toBeLessThan(chunks.length);
    expect(Buffer.concat(writer.chunks).equals(data)).toBe(true);
    expect(await hash.digest()).toBe(sha256(data));

    // Without a declared length the body is written as it always was: its one buffer, once complete.
    const unknownLength = new RecordingWriter();
    await receive(generate(chunks), { writer: unknownLength, hash: new UploadHash('sha256', thread), whole: true });
    expect(unknownLength.chunks.map((chunk) => chunk.length)).toEqual([data.length]);
  });

  it('hashes a small whole body of declared length here, chunk by chunk, without the hashing thread', async () => {
    const noThread = {
      open: () => {
        throw new Error('the hashing thread was asked');
      },
    } as unknown as HashingThread;
    for (const size of [1, 65_536 + 17, IO_BUFFER_BYTES]) {
      const data = randomBytes(size);
      const chunks = pieces(data, 4096 + 1);
      const hash = new UploadHash('sha512', noThread);
      const inPlace = jest.spyOn(hash, 'updateInPlace');
      const buffered = jest.spyOn(hash, 'update');
      const writer = new RecordingWriter();
      expect(await receive(Readable.from(chunks), { writer, hash, whole: true, limit: size })).toBe(size);
      expect(Buffer.concat(writer.chunks).equals(data)).toBe(true);
      expect(await hash.digest()).toBe(`sha512:${createHash('sha512').update(data).digest('hex')}`);
      // Each chunk as it came, not the one buffer at the end.
      expect(inPlace).toHaveBeenCalledTimes(chunks.length);
      expect(buffered).not.toHaveBeenCalled();
      expect(hash.usable).toBe(false);
    }
    // A declared length over one buffer, or bytes still to be continued, go to the thread.
    const large = new UploadHash('sha256', noThread);
    const data = randomBytes(IO_BUFFER_BYTES + 1);
    await expect(
      receive(Readable.from(pieces(data, 65_536)), { hash: large, whole: true, limit: data.length }),
    ).rejects.toThrow('the hashing thread was asked');
    const partial = new UploadHash('sha256', noThread);
    await expect(
      receive(Readable.from([randomBytes(100)]), { hash: partial, whole: false, limit: 100 }),
    ).rejects.toThrow('the hashing thread was asked');
  });

  it('takes a hash in place only for content not begun and within one buffer', async () => {
    expect(new UploadHash('sha256', thread).hashInPlace(undefined)).toBe(false);
    expect(new UploadHash('sha256', thread).hashInPlace(IO_BUFFER_BYTES + 1)).toBe(false);
    const begun = new UploadHash('sha256', thread);
    await begun.update(randomBytes(10), false);
    expect(begun.hashInPlace(10)).toBe(false);
    begun.dispose();
    const inPlace = new UploadHash('sha256', thread);
    expect(inPlace.hashInPlace(0)).toBe(true);
    await expect(inPlace.update(randomBytes(1), false)).rejects.toThrow('in place');
    expect(await inPlace.digest()).toBe(sha256(Buffer.alloc(0)));
  });

  it('takes chunks larger than a buffer, as a file stream gives them', async () => {
    const data = randomBytes(5 * IO_BUFFER_BYTES + 5);
    const hash = new UploadHash('sha256', thread);
    const received = await receive(Readable.from(pieces(data, 2 * IO_BUFFER_BYTES + 1)), { hash, whole: false });
    expect(received).toBe(data.length);
    expect(await hash.digest()).toBe(sha256(data));
  });

  it('refuses a body longer than declared, and stops reading it', async () => {
    const stream = Readable.from(pieces(randomBytes(3 * IO_BUFFER_BYTES), 65_536));
    const hash = new UploadHash('sha256', thread);
    const failure = await receive(stream, { writer: new RecordingWriter(), hash, whole: true, limit: IO_BUFFER_BYTES })
      .then(() => null)
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OciError);
    expect((failure as OciError).code).toBe('SIZE_INVALID');
    expect(stream.destroyed).toBe(true);
    hash.dispose();
  });

  it('fails with the writer’s error, after every buffer it was given has been settled', async () => {
    const writer = new RecordingWriter();
    writer.failAfter = 2 * IO_BUFFER_BYTES;
    const hash = new UploadHash('sha256', thread);
    const data = randomBytes(6 * IO_BUFFER_BYTES);
    await expect(receive(Readable.from(pieces(data, 65_536)), { writer, hash, whole: true })).rejects.toThrow(
      'disk full (simulated)',
    );
    // What was stored is a prefix of the body: nothing was written out of order or from a reused buffer.
    expect(Buffer.concat(writer.chunks).equals(data.subarray(0, writer.size))).toBe(true);
    hash.dispose();
  });

  it('takes a stream that already ended as an empty body, and refuses one already broken', async () => {
    const ended = Readable.from([]);
    for await (const _ of ended) void _;
    const hash = new UploadHash('sha256', thread);
    expect(await receive(ended, { hash, whole: true })).toBe(0);
    expect(await hash.digest()).toBe(sha256(Buffer.alloc(0)));

    const broken = new Readable({ read() {} });
    broken.destroy();
    await expect(receive(broken, { hash: new UploadHash('sha256', thread), whole: true })).rejects.toThrow(
      'ended before all of it arrived',
    );
  });

  it('stops receiving when told to while the body arrives, reading on and dropping the rest of a stream', async () => {
    const stream = new Readable({ read() {} });
    const writer = new RecordingWriter();
    // Writes held: the stream pauses once enough buffers wait.
    let releaseWrites!: () => void;
    const held = new Promise<void>((resolve) => (releaseWrites = resolve));
    const write = writer.write.bind(writer);
    writer.write = async (chunk: Buffer) => {
      await held;
      return write(chunk);
    };
    const hash = new UploadHash('sha256', thread);
    const refused = new AbortController();
    const done = receive(stream, { writer, hash, whole: true, signal: refused.signal });
    for (let i = 0; i < 5; i++) stream.push(randomBytes(IO_BUFFER_BYTES));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stream.isPaused()).toBe(true);
    const reason = new OciError(OciErrorCode.BLOB_UPLOAD_UNKNOWN, 'upload session not found');
    refused.abort(reason);
    // The rest flows to its end while the writes are still held: dropped, neither written nor hashed.
    expect(stream.isPaused()).toBe(false);
    const ended = new Promise((resolve) => stream.once('end', resolve));
    stream.push(randomBytes(IO_BUFFER_BYTES));
    stream.push(null);
    // Read to its end: a stream destroyed on the way would never emit it.
    await ended;
    // The failure comes once nothing reads the buffers any more.
    releaseWrites();
    expect(await done.catch((error: unknown) => error)).toBe(reason);
    expect(writer.size).toBeLessThanOrEqual(5 * IO_BUFFER_BYTES);
    hash.dispose();
  });

  it('does not touch a body it was told to stop receiving before it began, and ignores a signal after the end', async () => {
    const stream = new Readable({ read() {} });
    const early = new AbortController();
    early.abort(new Error('refused (simulated)'));
    await expect(
      receive(stream, { hash: new UploadHash('sha256', thread), whole: true, signal: early.signal }),
    ).rejects.toThrow('refused (simulated)');
    expect(stream.listenerCount('data')).toBe(0);
    expect(stream.readableFlowing).toBe(null);

    const late = new AbortController();
    const data = randomBytes(IO_BUFFER_BYTES + 7);
    const writer = new RecordingWriter();
    const hash = new UploadHash('sha256', thread);
    const body = Readable.from(pieces(data, 65_536));
    body.once('end', () => late.abort(new Error('too late (simulated)')));
    expect(await receive(body, { writer, hash, whole: true, signal: late.signal })).toBe(data.length);
    expect(Buffer.concat(writer.chunks).equals(data)).toBe(true);

    const iterable = new AbortController();
    let yielded = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for (const chunk of pieces(randomBytes(4 * 65_536), 65_536)) {
        await new Promise((resolve) => setImmediate(resolve));
        if (++yielded === 2) iterable.abort(new Error('refused mid-body (simulated)'));
        yield chunk;
      }
    }
    const partial = new UploadHash('sha256', thread);
    await expect(receive(counted(), { hash: partial, whole: true, signal: iterable.signal })).rejects.toThrow(
      'refused mid-body (simulated)',
    );
    expect(yielded).toBe(2);
    partial.dispose();
  });

  it('fails when the body breaks off', async () => {
    const stream = new Readable({ read() {} });
    const hash = new UploadHash('sha256', thread);
    const done = receive(stream, { writer: new RecordingWriter(), hash, whole: true });
    stream.push(randomBytes(IO_BUFFER_BYTES + 10));
    stream.destroy(new Error('connection reset (simulated)'));
    await expect(done).rejects.toThrow('connection reset (simulated)');
    hash.dispose();
  });
});
