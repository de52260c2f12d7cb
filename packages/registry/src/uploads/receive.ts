import { Readable } from 'node:stream';
import { OciError, OciErrorCode } from '@wharf/oci';
import { type FileWriter, copyIntoIoBuffer, returnIoBuffer, takeIoBuffer } from '@wharf/storage';
import { type UploadHash } from './upload-hash.js';

/** Filled buffers being hashed and written while the next one fills. */
const BUFFERS_IN_FLIGHT = 2;

/**
 * A small body (one buffer at most) has no next buffer to fill while its one buffer is written: it is written in
 * pieces of this size as they fill instead, so that the writes overlap its arrival rather than follow it. Pieces
 * start at multiples of this size, as the content does at the start of the object.
 */
const EARLY_WRITE_BYTES = 128 * 1024;

export interface ReceiveOptions {
  /** Where the bytes go; none when they are only hashed (re-reading an upload). */
  writer?: FileWriter;
  hash: UploadHash;
  /** These bytes complete the content: the hash takes no more after them. */
  whole: boolean;
  /** Refuses a body that goes beyond this many bytes (the length the request declared). */
  limit?: number;
  /**
   * Stops receiving, failing with the signal's reason: the request is refused while its body still arrives. A
   * stream's remaining bytes are then read and dropped, so that the answer reaches the client and the connection
   * stays usable; nothing more is written or hashed. Once the body has ended, the signal no longer matters.
   */
  signal?: AbortSignal;
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/**
 * Waits for the hash and every write of one buffer, then fails with the first write failure, else the hash's: the
 * buffer they share is free only when none of them reads it.
 */
async function allOf(hashed: Promise<void>, writes: Promise<void>[]): Promise<void> {
  const [hash, ...written] = await Promise.allSettled([hashed, ...writes]);
  const failedWrite = written.find((write) => write.status === 'rejected');
  if (failedWrite) throw failedWrite.reason;
  if (hash.status === 'rejected') throw hash.reason;
}

/**
 * Copies body bytes into pooled I/O buffers and hands each filled buffer on to be hashed (on the hashing thread)
 * and written at the same time, while the next one fills. A buffer goes back to the pool only once neither the
 * hash nor the write reads it any more.
 */
class Stager {
  received = 0;
  private readonly inflight: { buffer: Buffer; done: Promise<void> }[] = [];
  private buffer: Buffer | undefined;
  private filled = 0;
  /** Writes of the current buffer's first `written` bytes, started while a small body was still arriving. */
  private earlyWrites: Promise<void>[] = [];
  private written = 0;
  /** Each chunk is hashed as it arrives (a small whole content of declared length), not buffer by buffer. */
  private readonly hashingInPlace: boolean;

  constructor(private readonly options: ReceiveOptions) {
    this.hashingInPlace = options.whole && options.hash.hashInPlace(options.limit);
  }

  /** Takes a chunk (copied at once: the caller may drop it); true when buffers wait and receiving should pause. */
  take(chunk: Buffer): boolean {
    this.received += chunk.length;
    const { limit } = this.options;
    if (limit !== undefined && this.received > limit) {
      throw new OciError(OciErrorCode.SIZE_INVALID, `request body is larger than the declared ${limit} bytes`);
    }
    if (this.hashingInPlace) this.options.hash.updateInPlace(chunk);
    let offset = 0;
    while (offset < chunk.length) {
      // A full buffer is handed on only once more bytes arrive, so that the last one is known to be the last.
      if (this.buffer && this.filled === this.buffer.length) this.submit(false);
      this.buffer ??= takeIoBuffer();
      const copied = copyIntoIoBuffer(chunk, this.buffer, this.filled, offset);
      this.filled += copied;
      offset += copied;
    }
    if (this.hashingInPlace) this.writeEarly();
    return this.inflight.length > BUFFERS_IN_FLIGHT;
  }

  /** Waits for the oldest buffer in flight (rethrowing its failure) until few enough are. */
  async drain(): Promise<void> {
    while (this.inflight.length > BUFFERS_IN_FLIGHT) await this.settleOldest();
  }

  /** Hands on what is left and waits for every buffer. */
  async finish(): Promise<number> {
    if (this.buffer && this.filled > 0) this.submit(true);
    while (this.inflight.length > 0) await this.settleOldest();
    return this.received;
  }

  /** After a failure: waits until nothing reads the buffers any more, and gives them all back. */
  async release(): Promise<void> {
    const current = this.buffer;
    const early = this.earlyWrites.splice(0);
    this.buffer = undefined;
    this.written = 0;
    const left = this.inflight.splice(0);
    await Promise.allSettled([...early, ...left.map((entry) => entry.done)]);
    if (current) returnIoBuffer(current);
    for (const entry of left) returnIoBuffer(entry.buffer);
  }

  /** Starts writing the current buffer's newly filled whole pieces (a small body, see EARLY_WRITE_BYTES). */
  private writeEarly(): void {
    const { writer } = this.options;
    const end = this.filled - (this.filled % EARLY_WRITE_BYTES);
    if (!writer || end <= this.written) return;
    const write = writer.write(this.buffer!.subarray(this.written, end));
    // Observed when the buffer is handed on (submit), or by release.
    write.catch(() => undefined);
    this.earlyWrites.push(write);
    this.written = end;
  }

  private submit(last: boolean): void {
    const { hash, writer, whole } = this.options;
    const writes = this.earlyWrites;
    // The write is started first: it runs on the I/O pool while a hash taken here reads the same bytes.
    if (writer && this.filled > this.written) {
      writes.push(writer.write(this.buffer!.subarray(this.written, this.filled)));
    }
    const bytes = this.buffer!.subarray(0, this.filled);
    const hashed = this.hashingInPlace ? Promise.resolve() : hash.update(bytes, whole && last);
    const done = allOf(hashed, writes);
    // Observed in turn by settleOldest, or by release.
    done.catch(() => undefined);
    this.inflight.push({ buffer: this.buffer!, done });
    this.buffer = undefined;
    this.filled = 0;
    this.earlyWrites = [];
    this.written = 0;
  }

  private async settleOldest(): Promise<void> {
    const oldest = this.inflight[0];
    try {
      await oldest.done;
    } finally {
      // release() may have taken it already.
      if (this.inflight[0] === oldest) {
        this.inflight.shift();
        returnIoBuffer(oldest.buffer);
      }
    }
  }
}

/**
 * A stream is read chunk by chunk as it emits them, each copied into the buffer in the same callback: no chunk
 * outlives its event (so none survives into the collector's old generation), and the stream is paused while
 * buffers wait to be hashed and written.
 */
function receiveStream(stream: Readable, stager: Stager, signal: AbortSignal | undefined): Promise<number> {
  // A stream read to its end (or broken) before it got here emits nothing more.
  if (stream.readableEnded) return stager.finish();
  if (stream.destroyed) return Promise.reject(new Error('the request body ended before all of it arrived'));
  // Not read at all: the HTTP server drops the body itself once the answer has been sent.
  if (signal?.aborted) return Promise.reject(asError(signal.reason));
  return new Promise((resolve, reject) => {
    let settled = false;
    const stop = (error: unknown): void => {
      if (settled) return;
      settled = true;
      cleanup();
      // As a for-await loop leaving early would: a body that is not read to its end is not left half-read.
      if (!stream.readableEnded) stream.destroy();
      reject(asError(error));
    };
    const onData = (chunk: Buffer): void => {
      let full: boolean;
      try {
        full = stager.take(chunk);
      } catch (error) {
        // A body beyond its declared length: refused as an abort is, so that the answer reaches the client.
        refuse(error);
        return;
      }
      if (!full) return;
      stream.pause();
      stager.drain().then(
        () => {
          if (!settled) stream.resume();
        },
        (error: unknown) => stop(error),
      );
    };
    const onEnd = (): void => {
      cleanup();
      stager.finish().then(
        (received) => {
          settled = true;
          resolve(received);
        },
        (error: unknown) => {
          settled = true;
          reject(asError(error));
        },
      );
    };
    const refuse = (reason: unknown): void => {
      if (settled) return;
      settled = true;
      cleanup();
      // Read on and dropped (the stream may be paused while buffers drain): see ReceiveOptions.signal.
      stream.resume();
      reject(asError(reason));
    };
    const onAbort = (): void => {
      // Ended: its own 'end' handler finishes (it may not have run yet when 'end' is what led to the abort).
      if (stream.readableEnded) return;
      refuse(signal!.reason);
    };
    const onError = (error: Error): void => stop(error);
    const onClose = (): void => {
      if (!stream.readableEnded) stop(new Error('the request body ended before all of it arrived'));
    };
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function receiveIterable(
  body: AsyncIterable<Buffer>,
  stager: Stager,
  signal: AbortSignal | undefined,
): Promise<number> {
  for await (const chunk of body) {
    signal?.throwIfAborted();
    if (stager.take(chunk)) await stager.drain();
  }
  return stager.finish();
}

/**
 * Moves a body into storage (or only through the hash) by way of pooled I/O buffers, so that the thread that
 * receives requests only copies bytes: hashing runs on the hashing thread while the same buffer is written.
 * Returns how many bytes the body held. Whatever happens, no buffer goes back to the pool while it is still read.
 */
export async function receive(body: AsyncIterable<Buffer>, options: ReceiveOptions): Promise<number> {
  const stager = new Stager(options);
  try {
    const { signal } = options;
    return body instanceof Readable
      ? await receiveStream(body, stager, signal)
      : await receiveIterable(body, stager, signal);
  } finally {
    await stager.release();
  }
}
