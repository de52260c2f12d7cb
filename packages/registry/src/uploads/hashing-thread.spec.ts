import { createHash, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { IO_BUFFER_BYTES, returnIoBuffer, takeIoBuffer } from '@wharf/storage';
import { HashingFailedError, HashingThread } from './hashing-thread.js';
import { UploadHash } from './upload-hash.js';

function expected(data: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** Puts bytes into a pooled buffer, so that the thread reads them from the shared memory where they lie. */
function pooled(bytes: Buffer): { view: Buffer; release: () => void } {
  const buffer = takeIoBuffer();
  bytes.copy(buffer);
  return { view: buffer.subarray(0, bytes.length), release: () => returnIoBuffer(buffer) };
}

describe('HashingThread', () => {
  const thread = new HashingThread();
  afterAll(() => thread.stop());

  it('hashes pooled buffers in place and other buffers by copy, in order', async () => {
    const data = randomBytes(3 * IO_BUFFER_BYTES + 12_345);
    const hash = thread.open('sha256');
    const cuts = [0, IO_BUFFER_BYTES, IO_BUFFER_BYTES + 7, 2 * IO_BUFFER_BYTES + 7, data.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const piece = data.subarray(cuts[i], cuts[i + 1]);
      if (i % 2 === 0) {
        const { view, release } = pooled(piece);
        await hash.update(view);
        release();
      } else {
        await hash.update(Buffer.from(piece));
      }
    }
    expect(await hash.digest()).toBe(expected(data));
    expect(hash.usable).toBe(false);
  });

  it('keeps concurrent hashes apart, whatever their algorithm', async () => {
    const inputs = Array.from({ length: 6 }, (_, i) => randomBytes(100_000 + i * 70_001));
    const hashes = inputs.map((_, i) => thread.open(i % 2 === 0 ? 'sha256' : 'sha512'));
    // Updates of all hashes are in flight at once.
    await Promise.all(
      inputs.flatMap((input, i) => [
        hashes[i].update(input.subarray(0, 50_000)),
        hashes[i].update(input.subarray(50_000)),
      ]),
    );
    const digests = await Promise.all(hashes.map((hash) => hash.digest()));
    expect(digests).toEqual(inputs.map((input, i) => expected(input, i % 2 === 0 ? 'sha256' : 'sha512')));
  });

  it('refuses to go on with a hash that ended or was discarded', async () => {
    const ended = thread.open('sha256');
    await ended.digest();
    await expect(ended.update(Buffer.from('more'))).rejects.toBeInstanceOf(HashingFailedError);

    const dropped = thread.open('sha256');
    await dropped.update(Buffer.from('some'));
    dropped.dispose();
    expect(dropped.usable).toBe(false);
    await expect(dropped.digest()).rejects.toBeInstanceOf(HashingFailedError);
  });

  it('fails the hashes of a thread that stops, and starts a new thread for the next hash', async () => {
    const own = new HashingThread();
    try {
      const hash = own.open('sha256');
      await hash.update(randomBytes(1000));
      // Asked of the thread as it is being stopped: the bytes are never hashed, however busy this host is (an
      // update asked just before the stop may be answered first).
      const stopping = own.stop();
      const pending = hash.update(randomBytes(4 * IO_BUFFER_BYTES));
      await stopping;
      await expect(pending).rejects.toBeInstanceOf(HashingFailedError);
      expect(hash.usable).toBe(false);
      await expect(hash.digest()).rejects.toThrow(/hashing thread stopped/);

      const next = own.open('sha256');
      await next.update(Buffer.from('after the restart'));
      expect(await next.digest()).toBe(expected(Buffer.from('after the restart')));
    } finally {
      await own.stop();
    }
  });
});

describe('UploadHash', () => {
  const thread = new HashingThread();
  afterAll(() => thread.stop());

  it('hashes a small whole content on the calling thread, without a round trip', async () => {
    const open = jest.spyOn(thread, 'open');
    const data = randomBytes(IO_BUFFER_BYTES);
    const hash = new UploadHash('sha512', thread);
    await hash.update(data, true);
    expect(await hash.digest()).toBe(expected(data, 'sha512'));
    expect(open).not.toHaveBeenCalled();
    expect(hash.usable).toBe(false);
    open.mockRestore();
  });

  it('hashes on the thread as soon as the content may continue, and gives the digest of no bytes', async () => {
    const open = jest.spyOn(thread, 'open');
    const first = randomBytes(10);
    const rest = randomBytes(IO_BUFFER_BYTES + 1);
    const hash = new UploadHash('sha256', thread);
    await hash.update(first, false);
    expect(hash.usable).toBe(true);
    await hash.update(rest, true);
    expect(await hash.digest()).toBe(expected(Buffer.concat([first, rest])));
    expect(open).toHaveBeenCalledTimes(1);
    open.mockRestore();

    expect(await new UploadHash('sha256', thread).digest()).toBe(expected(Buffer.alloc(0)));
  });
});
