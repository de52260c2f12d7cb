import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { TEMP_NAME_PREFIX, assertByteRange, assertStoragePath, storagePathSegments } from './paths.js';
import {
  type FileInfo,
  type FileWriter,
  type RedirectOptions,
  type StorageDriver,
  PathNotFoundError,
  StorageError,
} from './types.js';
import { WriterOperations } from './writer-operations.js';

/**
 * Size of one write syscall and of one read. 64 KiB pieces (Node's default) cap throughput far
 * below what the disk and the network can do; 1 MiB reaches it.
 */
const IO_BATCH_BYTES = 1024 * 1024;

/**
 * Written bytes are flushed to disk in the background while uploads go on, so the one fsync at commit
 * finds little left: without this, committing a large blob waits for the whole file to reach the disk
 * after its last byte arrived. One background flush runs at a time in the process, always for the open
 * writer with the most unflushed bytes (at least this many): the disk keeps streaming, and concurrent
 * uploads do not make their syncs contend for the journal.
 */
const WRITEBACK_MIN_BYTES = 8 * 1024 * 1024;
const writebackCandidates = new Set<FilesystemFileWriter>();
let writebackRunning = false;

function pumpWriteback(): void {
  if (writebackRunning) return;
  let chosen: FilesystemFileWriter | undefined;
  let most = WRITEBACK_MIN_BYTES - 1;
  for (const writer of writebackCandidates) {
    const unflushed = writer.unflushedBytes();
    if (unflushed > most) {
      chosen = writer;
      most = unflushed;
    }
  }
  if (!chosen) return;
  writebackRunning = true;
  void chosen.flushInBackground().finally(() => {
    writebackRunning = false;
    pumpWriteback();
  });
}

/**
 * Read buffers for sendTo, reused across downloads: a busy registry serving many pulls would otherwise
 * allocate (and collect) a fresh 1 MiB buffer for every piece of every download.
 */
const sendBufferPool: Buffer[] = [];
const MAX_POOLED_SEND_BUFFERS = 128;

function takeSendBuffer(): Buffer {
  return sendBufferPool.pop() ?? Buffer.allocUnsafeSlow(IO_BATCH_BYTES);
}

function returnSendBuffer(buffer: Buffer): void {
  if (sendBufferPool.length < MAX_POOLED_SEND_BUFFERS) sendBufferPool.push(buffer);
}

/**
 * Resolves when the destination has taken the chunk. An HTTP response whose socket is already gone may never
 * call a write's callback, so its closing settles the wait too.
 */
function writeTo(destination: Writable, chunk: Buffer): Promise<void> {
  if (destination.destroyed || destination.writableEnded) {
    return Promise.reject(new StorageError('the destination was closed'));
  }
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new StorageError('the destination was closed'));
    destination.once('close', onClose);
    destination.write(chunk, (error) => {
      destination.off('close', onClose);
      if (error) reject(error);
      else resolve();
    });
  });
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

function isMissing(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** A blob store on a local (or mounted) filesystem, rooted at one directory. */
export class FilesystemDriver implements StorageDriver {
  readonly name = 'filesystem';
  readonly rootDirectory: string;
  private readonly rootPrefix: string;

  constructor(rootDirectory: string) {
    if (typeof rootDirectory !== 'string' || rootDirectory.trim() === '') {
      throw new StorageError('filesystem storage needs a rootDirectory');
    }
    this.rootDirectory = resolve(rootDirectory);
    if (!isAbsolute(this.rootDirectory)) {
      throw new StorageError(`filesystem rootDirectory must resolve to an absolute path: ${rootDirectory}`);
    }
    this.rootPrefix = this.rootDirectory.endsWith(sep) ? this.rootDirectory : this.rootDirectory + sep;
  }

  /** The absolute filesystem path of a storage path, guaranteed to lie under the root. */
  private fullPath(path: string): string {
    const full = resolve(this.rootDirectory, ...storagePathSegments(path));
    if (!full.startsWith(this.rootPrefix)) {
      throw new StorageError(`storage path escapes the root directory: ${path}`);
    }
    return full;
  }

  async stat(path: string): Promise<FileInfo | null> {
    const full = this.fullPath(path);
    try {
      const info = await stat(full);
      return info.isFile() ? { path, size: info.size, modTime: info.mtime } : null;
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  /**
   * Two pooled buffers take turns: one is being read from the file while the other is being written to the
   * destination, and a buffer is read into again only after its write has completed.
   */
  async sendTo(path: string, offset: number, length: number, destination: Writable): Promise<void> {
    assertByteRange(offset, length);
    const handle = await this.openFile(path, 'r');
    const buffers = [takeSendBuffer(), takeSendBuffer()];
    let writing: Promise<void> | undefined;
    try {
      let position = offset;
      let remaining = length;
      for (let turn = 0; remaining > 0; turn ^= 1) {
        const buffer = buffers[turn];
        const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, remaining), position);
        if (bytesRead === 0) throw new StorageError(`${path} ended ${remaining} bytes early`);
        position += bytesRead;
        remaining -= bytesRead;
        await writing;
        writing = writeTo(destination, bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
      }
      await writing;
    } finally {
      // A failed write may still hold its buffer; only buffers known to be free go back to the pool.
      await writing?.catch(() => undefined);
      for (const buffer of buffers) returnSendBuffer(buffer);
      await handle.close();
    }
  }

  async reader(path: string, offset = 0, length?: number): Promise<Readable> {
    assertByteRange(offset, length);
    const handle = await this.openFile(path, 'r');
    try {
      const { size } = await handle.stat();
      if (offset >= size || length === 0) {
        await handle.close();
        return Readable.from([]);
      }
      const end = length === undefined ? size - 1 : Math.min(size, offset + length) - 1;
      return handle.createReadStream({ start: offset, end, highWaterMark: IO_BATCH_BYTES, autoClose: true });
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
  }

  async getContent(path: string): Promise<Buffer> {
    const full = this.fullPath(path);
    try {
      return await readFile(full);
    } catch (error) {
      if (isMissing(error) || errorCode(error) === 'EISDIR') throw new PathNotFoundError(path);
      throw error;
    }
  }

  async putContent(path: string, content: Buffer): Promise<void> {
    const full = this.fullPath(path);
    const directory = dirname(full);
    await mkdir(directory, { recursive: true });
    // A temporary file in the same directory, renamed over the target: readers see the old or the
    // new content, and a crash leaves at worst a temporary file, never a torn object.
    const temporary = `${directory}${sep}${TEMP_NAME_PREFIX}${randomBytes(12).toString('hex')}`;
    const handle = await open(temporary, 'wx');
    try {
      await writeFully(handle, content, 0, content.length, 0);
      await handle.sync();
      await handle.close();
      await rename(temporary, full);
    } catch (error) {
      await handle.close().catch(() => undefined);
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
    await syncDirectory(directory);
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    const full = this.fullPath(path);
    if (append) {
      const handle = await this.openFile(path, 'r+');
      try {
        const { size } = await handle.stat();
        return new FilesystemFileWriter(handle, full, size);
      } catch (error) {
        await handle.close().catch(() => undefined);
        throw error;
      }
    }
    await mkdir(dirname(full), { recursive: true });
    return new FilesystemFileWriter(await open(full, 'w'), full, 0);
  }

  async list(path: string): Promise<string[]> {
    const full = this.fullPath(path);
    let names: string[];
    try {
      names = await readdir(full);
    } catch (error) {
      if (isMissing(error)) throw new PathNotFoundError(path);
      throw error;
    }
    return names
      .filter((name) => !name.startsWith(TEMP_NAME_PREFIX))
      .sort()
      .map((name) => `${path}/${name}`);
  }

  async move(src: string, dst: string): Promise<void> {
    const from = this.fullPath(src);
    const to = this.fullPath(dst);
    const destinationDirectory = dirname(to);
    await mkdir(destinationDirectory, { recursive: true });
    try {
      await rename(from, to);
    } catch (error) {
      if (isMissing(error)) {
        // ENOENT also comes from a vanished destination directory; only a missing source is the caller's.
        if ((await this.stat(src)) === null) throw new PathNotFoundError(src);
      }
      throw error;
    }
    // The rename is durable once the directory holding the new name is.
    await syncDirectory(destinationDirectory);
  }

  async delete(path: string): Promise<void> {
    await rm(this.fullPath(path), { recursive: true, force: true });
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that a bad path rejects, as elsewhere
  async redirectURL(path: string, _options: RedirectOptions): Promise<string | null> {
    assertStoragePath(path);
    return null;
  }

  /** Opens an existing regular file; a missing file or a directory is PathNotFoundError. */
  private async openFile(path: string, flags: 'r' | 'r+'): Promise<FileHandle> {
    const full = this.fullPath(path);
    let handle: FileHandle;
    try {
      handle = await open(full, flags);
    } catch (error) {
      if (isMissing(error) || errorCode(error) === 'EISDIR') throw new PathNotFoundError(path);
      throw error;
    }
    const info = await handle.stat().catch(async (error: unknown) => {
      await handle.close().catch(() => undefined);
      throw error;
    });
    if (!info.isFile()) {
      await handle.close();
      throw new PathNotFoundError(path);
    }
    return handle;
  }
}

async function writeFully(handle: FileHandle, data: Buffer, start: number, end: number, position: number) {
  let written = start;
  while (written < end) {
    const { bytesWritten } = await handle.write(data, written, end - written, position + (written - start));
    written += bytesWritten;
  }
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes through 1 MiB batch buffers, so that a stream of small network chunks becomes few large
 * write syscalls. Two buffers take turns: while one is being written on the I/O thread pool, the
 * caller goes on (hashing, receiving) and fills the other. Data reaches the disk (fsync) only on
 * commit: one sync per object is what keeps uploads fast, and an uncommitted upload may be lost in
 * a crash anyway.
 */
class FilesystemFileWriter implements FileWriter {
  private batch = Buffer.allocUnsafe(IO_BATCH_BYTES);
  private spare = Buffer.allocUnsafe(IO_BATCH_BYTES);
  private batchLength = 0;
  /** File offset where the current batch will be written. */
  private position: number;
  /** The write of the other buffer, still running; it records its failure instead of rejecting. */
  private inflight: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private readonly operations = new WriterOperations();
  /** The background writeback (fdatasync) in progress, if any; it records its failure too. */
  private writeback: Promise<void> | undefined;
  private writebackFrom: number;

  constructor(
    private readonly handle: FileHandle,
    private readonly fullPath: string,
    initialSize: number,
  ) {
    this.position = initialSize;
    this.writebackFrom = initialSize;
  }

  get size(): number {
    return this.position + this.batchLength;
  }

  write(chunk: Buffer): Promise<void> {
    if (!Buffer.isBuffer(chunk)) {
      return Promise.reject(new TypeError('FileWriter.write expects a Buffer'));
    }
    return this.operations.run(() => this.writeNow(chunk));
  }

  close(): Promise<void> {
    return this.operations.run(async () => {
      this.operations.state = 'closed';
      writebackCandidates.delete(this);
      try {
        await this.flush();
        await this.writeback;
        // Linux reports a failed writeback once: whoever appends next would never hear of it.
        if (this.failure !== null) throw this.failure;
      } finally {
        await this.writeback;
        await this.handle.close();
      }
    });
  }

  commit(): Promise<void> {
    return this.operations.run(async () => {
      this.operations.state = 'committed';
      writebackCandidates.delete(this);
      try {
        await this.flush();
        await this.writeback;
        if (this.failure !== null) throw this.failure;
        await this.handle.sync();
      } finally {
        await this.writeback;
        await this.handle.close();
      }
    });
  }

  cancel(): Promise<void> {
    return this.operations.run(async () => {
      this.operations.state = 'cancelled';
      writebackCandidates.delete(this);
      this.batchLength = 0;
      await this.inflight;
      await this.writeback;
      await this.handle.close().catch(() => undefined);
      await rm(this.fullPath, { force: true });
    });
  }

  private async writeNow(chunk: Buffer): Promise<void> {
    let offset = 0;
    if (this.batchLength > 0) {
      offset = chunk.copy(this.batch, this.batchLength);
      this.batchLength += offset;
      if (this.batchLength < IO_BATCH_BYTES) return;
      await this.startBatchWrite();
    }
    const remaining = chunk.length - offset;
    if (remaining >= IO_BATCH_BYTES) {
      // Already a large piece: write it straight from the caller's buffer, no copy. It must finish
      // before write() returns, since the caller owns that buffer again afterwards.
      await this.settleInflight();
      await writeFully(this.handle, chunk, offset, chunk.length, this.position);
      this.position += remaining;
      this.startWriteback();
    } else if (remaining > 0) {
      this.batchLength = chunk.copy(this.batch, 0, offset);
    }
  }

  /** Waits for the other buffer's write, and rethrows its failure. */
  private async settleInflight(): Promise<void> {
    await this.inflight;
    if (this.failure !== null) throw this.failure;
  }

  /** Hands the full batch to the I/O pool and swaps buffers, once the previous write is done. */
  private async startBatchWrite(): Promise<void> {
    await this.settleInflight();
    const full = this.batch;
    const length = this.batchLength;
    this.inflight = writeFully(this.handle, full, 0, length, this.position).catch((error: unknown) => {
      this.failure = error instanceof Error ? error : new StorageError(`write failed: ${String(error)}`);
    });
    this.position += length;
    this.batch = this.spare;
    this.spare = full;
    this.batchLength = 0;
    this.startWriteback();
  }

  /** Starts a background fdatasync once enough new bytes were written and none is running. */
  /** Bytes handed to the kernel since the last background flush began. */
  unflushedBytes(): number {
    return this.position - this.writebackFrom;
  }

  /** Flushes what has been written so far (never fails: a failure is kept for commit to report). */
  flushInBackground(): Promise<void> {
    this.writebackFrom = this.position;
    const writeback = this.inflight
      .then(() => this.handle.datasync())
      .catch((error: unknown) => {
        this.failure ??= error instanceof Error ? error : new StorageError(String(error));
      })
      .finally(() => {
        if (this.writeback === writeback) this.writeback = undefined;
      });
    this.writeback = writeback;
    return writeback;
  }

  private startWriteback(): void {
    if (this.operations.state !== 'open') return;
    writebackCandidates.add(this);
    pumpWriteback();
  }

  private async flush(): Promise<void> {
    await this.settleInflight();
    if (this.batchLength === 0) return;
    await writeFully(this.handle, this.batch, 0, this.batchLength, this.position);
    this.position += this.batchLength;
    this.batchLength = 0;
  }
}
