import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { TEMP_NAME_PREFIX, assertByteRange, assertStoragePath, storagePathSegments } from './paths.js';
import {
  type DeleteFailure,
  type FileInfo,
  type FileWriter,
  type ListedFile,
  type RedirectOptions,
  type WriterOptions,
  type StorageDriver,
  PathNotFoundError,
  StorageError,
} from './types.js';
import { WriterOperations } from './writer-operations.js';
import {
  IO_BUFFER_BYTES,
  DIRECT_IO_ALIGNMENT,
  alignDown,
  copyIntoIoBuffer,
  isAlignedIoBuffer,
  isAlignedOffset,
  returnIoBuffer,
  takeIoBuffer,
} from './io-buffers.js';

/**
 * Size of one write syscall and of one read. 64 KiB pieces (Node's default) cap throughput far
 * below what the disk and the network can do; 1 MiB reaches it.
 */
const IO_BATCH_BYTES = IO_BUFFER_BYTES;
/** Reads of at least this many bytes bypass the page cache when direct I/O is on; smaller ones are cached. */
const DIRECT_READ_MIN_BYTES = IO_BUFFER_BYTES;

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
 * A background flush that was still running when its writer closed, and how it ended. Closing a writer (the end of
 * a PATCH) does not wait for it: the path's next writer takes it over and reports its failure (Linux reports a
 * failed writeback once, to whoever flushes next, so it must not be lost), and a commit waits for it before its own
 * fsync.
 */
interface PendingFlush {
  settled: Promise<void>;
  done: boolean;
  failure: Error | null;
}
const pendingFlushes = new Map<string, PendingFlush>();

function takePendingFlush(fullPath: string): PendingFlush | undefined {
  const pending = pendingFlushes.get(fullPath);
  pendingFlushes.delete(fullPath);
  return pending;
}

/** Forgets the flushes of files under (or at) a deleted path: nobody will append to them again. */
function forgetPendingFlushes(fullPath: string): void {
  const prefix = fullPath + sep;
  for (const path of pendingFlushes.keys()) {
    if (path === fullPath || path.startsWith(prefix)) pendingFlushes.delete(path);
  }
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

/** Unlinks in flight at once in deleteFiles: enough to keep libuv's file threads busy, no more. */
const UNLINKS_AT_ONCE = 16;
/** Directories read at once by listFiles. */
const READDIRS_AT_ONCE = 8;

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

function isMissing(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export interface FilesystemDriverOptions {
  /**
   * Large reads and writes bypass the page cache (O_DIRECT) where the filesystem allows it (default false). Blob
   * bytes then go between the disk and the registry's own buffers without a copy through the kernel's cache: a
   * push costs no cache pages and evicts nobody's hot data, but every pull of a large blob reads the disk, even
   * right after its push. For push-heavy registries (CI caches) on fast disks.
   */
  directIO?: boolean;
}

/**
 * Whether direct I/O is in use. It turns itself off for good the first time the filesystem refuses it (EINVAL:
 * tmpfs, some network and FUSE filesystems), and the refused operation goes through the page cache instead.
 */
export class DirectIoSwitch {
  constructor(public enabled: boolean) {}

  /** Runs a direct-I/O operation; on EINVAL it turns direct I/O off and answers undefined (the caller falls back). */
  async attempt<T>(operation: () => Promise<T>): Promise<T | undefined> {
    try {
      return await operation();
    } catch (error) {
      if (errorCode(error) !== 'EINVAL') throw error;
      this.enabled = false;
      return undefined;
    }
  }
}

/** A blob store on a local (or mounted) filesystem, rooted at one directory. */
export class FilesystemDriver implements StorageDriver {
  readonly name = 'filesystem';
  readonly rootDirectory: string;
  private readonly rootPrefix: string;
  readonly directIO: DirectIoSwitch;

  constructor(rootDirectory: string, options: FilesystemDriverOptions = {}) {
    this.directIO = new DirectIoSwitch(options.directIO ?? false);
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
   * destination, and a buffer is read into again only after its write has completed. Large ranges are read with
   * direct I/O, whole aligned buffers at a time from the 4 KiB boundary at or before the offset; the bytes outside
   * the range are not sent.
   */
  async sendTo(path: string, offset: number, length: number, destination: Writable): Promise<void> {
    assertByteRange(offset, length);
    const buffers = [takeIoBuffer(), takeIoBuffer()];
    const wantDirect =
      this.directIO.enabled && length >= DIRECT_READ_MIN_BYTES && buffers.every((buffer) => isAlignedIoBuffer(buffer));
    let handle: FileHandle | undefined;
    let writing: Promise<void> | undefined;
    try {
      const directHandle = wantDirect ? await this.openDirect(path, constants.O_RDONLY) : undefined;
      let direct = directHandle !== undefined;
      handle = directHandle ?? (await this.openFile(path, 'r'));
      // The next file offset to read; a direct read starts at the 4 KiB boundary at or before the range.
      let position = direct ? alignDown(offset) : offset;
      let remaining = length;
      // Direct reads stop (refused, or a short read left an unaligned offset): the rest goes through the page cache.
      const toPageCache = async (from: number) => {
        await handle?.close();
        handle = await this.openFile(path, 'r');
        direct = false;
        position = from;
      };
      for (let turn = 0; remaining > 0; turn ^= 1) {
        const buffer = buffers[turn];
        const next = offset + length - remaining;
        const skip = next - position;
        let bytesRead: number;
        if (direct) {
          const reading = handle;
          const read = await this.directIO.attempt(() => reading.read(buffer, 0, buffer.length, position));
          if (read === undefined) {
            await toPageCache(next);
            turn ^= 1;
            continue;
          }
          bytesRead = read.bytesRead;
        } else {
          bytesRead = (await handle.read(buffer, 0, Math.min(buffer.length, remaining), position)).bytesRead;
        }
        const usable = Math.min(bytesRead - skip, remaining);
        if (usable <= 0) throw new StorageError(`${path} ended ${remaining} bytes early`);
        position += bytesRead;
        if (direct && !isAlignedOffset(position) && usable < remaining) await toPageCache(next + usable);
        remaining -= usable;
        await writing;
        writing = writeTo(destination, buffer.subarray(skip, skip + usable));
      }
      await writing;
    } finally {
      // A failed write may still hold its buffer; only buffers known to be free go back to the pool.
      await writing?.catch(() => undefined);
      for (const buffer of buffers) returnIoBuffer(buffer);
      await handle?.close();
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
    await keepDirectoryDurable(directory, this.rootDirectory);
    // A temporary file in the same directory, renamed over the target: readers see the old or the
    // new content, and a crash leaves at worst a temporary file, never a torn object.
    const temporary = `${directory}${sep}${TEMP_NAME_PREFIX}${randomBytes(12).toString('hex')}`;
    let handle: FileHandle;
    try {
      handle = await open(temporary, 'wx');
    } catch (error) {
      if (!isMissing(error)) throw error;
      // Removed by something other than this driver since it was synced: made again.
      await makeDirectoryDurably(directory, this.rootDirectory);
      handle = await open(temporary, 'wx');
    }
    try {
      await new PageCacheWrites(handle, PAGE_CACHE_WRITES_AT_ONCE).write(content, 0, content.length, 0);
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

  async writer(path: string, append: boolean, options: WriterOptions = {}): Promise<FileWriter> {
    const full = this.fullPath(path);
    const inOrder = options.inOrder ?? true;
    if (append) {
      const handle = await this.openFile(path, 'r+');
      try {
        const { size } = await handle.stat();
        return new FilesystemFileWriter(handle, full, size, this.directIO, inOrder);
      } catch (error) {
        await handle.close().catch(() => undefined);
        throw error;
      }
    }
    let handle: FileHandle;
    try {
      // The parent directory mostly exists already (uploads are files side by side): created only when missing.
      handle = await open(full, 'w');
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
      await mkdir(dirname(full), { recursive: true });
      handle = await open(full, 'w');
    }
    return new FilesystemFileWriter(handle, full, 0, this.directIO, inOrder);
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

  async *walk(path: string): AsyncIterable<FileInfo> {
    for await (const files of this.filesByDirectory(path)) {
      // A directory's files are looked at together: one directory of a blob tree holds a few hundred of them.
      const infos = await Promise.all(
        files.map(async (file) => {
          try {
            const info = await lstat(this.fullPath(file));
            return { path: file, size: info.size, modTime: info.mtime };
          } catch (error) {
            // Deleted since the directory was read.
            if (isMissing(error)) return null;
            throw error;
          }
        }),
      );
      for (const info of infos) if (info) yield info;
    }
  }

  async *listFiles(path: string): AsyncIterable<ListedFile> {
    // Only the names are needed: several directories are read at once, and no file is looked at.
    let pending = [path];
    while (pending.length > 0) {
      const round = pending.slice(0, READDIRS_AT_ONCE);
      pending = pending.slice(READDIRS_AT_ONCE);
      const listings = await Promise.all(round.map((directory) => this.readDirectory(directory)));
      for (const { files, directories } of listings) {
        pending.push(...directories);
        for (const file of files) yield { path: file };
      }
    }
  }

  /** A directory's files and subdirectories (full paths); nothing when it does not exist. */
  private async readDirectory(directory: string): Promise<{ files: string[]; directories: string[] }> {
    const files: string[] = [];
    const directories: string[] = [];
    let entries;
    try {
      entries = await readdir(this.fullPath(directory), { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return { files, directories };
      throw error;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(TEMP_NAME_PREFIX)) continue;
      if (entry.isDirectory()) directories.push(`${directory}/${entry.name}`);
      else if (entry.isFile()) files.push(`${directory}/${entry.name}`);
    }
    return { files, directories };
  }

  /** The files under a directory path, at any depth, a directory's at a time; nothing when the path does not exist. */
  private async *filesByDirectory(path: string): AsyncIterable<string[]> {
    const pending = [path];
    for (let directory = pending.pop(); directory !== undefined; directory = pending.pop()) {
      const { files, directories } = await this.readDirectory(directory);
      pending.push(...directories);
      yield files;
    }
  }

  async move(src: string, dst: string): Promise<void> {
    const from = this.fullPath(src);
    const to = this.fullPath(dst);
    const destinationDirectory = dirname(to);
    // Blob prefix directories mostly exist already: the rename is tried first, and the directory opened for its
    // sync at the same time; the directory is created only when that finds it missing.
    const [renamed, directory] = await Promise.allSettled([rename(from, to), open(destinationDirectory, 'r')]);
    let handle = directory.status === 'fulfilled' ? directory.value : undefined;
    try {
      if (renamed.status === 'rejected') {
        // Node's fs calls reject with Error objects.
        const failure = renamed.reason as Error;
        if (!isMissing(failure)) throw failure;
        // ENOENT: a missing source, or a missing destination directory (which a concurrent move may have created
        // since). Once the directory is there, a second ENOENT can only be the source's.
        await makeDirectoryDurably(destinationDirectory, this.rootDirectory);
        try {
          await rename(from, to);
        } catch (error) {
          throw isMissing(error) ? new PathNotFoundError(src) : error;
        }
      }
      handle ??= await open(destinationDirectory, 'r');
    } catch (error) {
      await handle?.close().catch(() => undefined);
      throw error;
    }
    // The rename is durable once the directory holding the new name is.
    await syncAndClose(handle);
  }

  /** A file is synced before it is moved into place (or written by putContent): only its directory may not be. */
  async ensureDurable(path: string): Promise<void> {
    const directory = dirname(this.fullPath(path));
    await keepDirectoryDurable(directory, this.rootDirectory);
    await syncDirectory(directory);
  }

  async delete(path: string): Promise<void> {
    const full = this.fullPath(path);
    forgetPendingFlushes(full);
    // Mostly one file (a blob garbage collection deletes): one unlink, where a recursive rm would look first.
    try {
      await unlink(full);
      return;
    } catch (error) {
      if (isMissing(error)) return;
      const code = errorCode(error);
      if (code !== 'EISDIR' && code !== 'EPERM') throw error;
    }
    for (const known of durableDirectories) {
      if (known === full || known.startsWith(full + sep)) durableDirectories.delete(known);
    }
    await rm(full, { recursive: true, force: true });
  }

  async deleteFiles(paths: string[]): Promise<DeleteFailure[]> {
    const files = paths.map((path) => ({ path, full: this.fullPath(path) }));
    const failures: DeleteFailure[] = [];
    let next = 0;
    const unlinkNext = async () => {
      while (next < files.length) {
        const { path, full } = files[next++];
        forgetPendingFlushes(full);
        try {
          await unlink(full);
        } catch (error) {
          if (!isMissing(error)) failures.push({ path, reason: (error as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(UNLINKS_AT_ONCE, files.length) }, unlinkNext));
    return failures;
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that a bad path rejects, as elsewhere
  async redirectURL(path: string, _options: RedirectOptions): Promise<string | null> {
    assertStoragePath(path);
    return null;
  }

  /**
   * Opens an existing regular file for direct I/O; undefined when the filesystem refuses it (direct I/O is then off
   * for good). A missing file or a directory is PathNotFoundError, as with openFile.
   */
  private async openDirect(path: string, flags: number): Promise<FileHandle | undefined> {
    return this.directIO.attempt(() => this.openFile(path, flags | constants.O_DIRECT));
  }

  /** Opens an existing regular file; a missing file or a directory is PathNotFoundError. */
  private async openFile(path: string, flags: 'r' | 'r+' | number): Promise<FileHandle> {
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

/**
 * The most one write through the page cache hands the kernel. The kernel backs a write with folios as large as the
 * write allows, and a large folio needs a large free block: on a host that takes back the free memory of its
 * guests, likely the memory least often still mapped. Measured through core right after a 512 MiB push, eight
 * concurrent 64 MiB pushes ran at 323-335 MiB/s with 1 MiB writes and 360-424 MiB/s with 128 KiB ones; the
 * 512 MiB push itself stayed within its usual spread (311-408 against 354-406 MiB/s). See README, "Benchmarks".
 */
const PAGE_CACHE_WRITE_BYTES = 128 * 1024;

/**
 * How many pieces of page-cache writes of one writer may be on the I/O pool at once, when their order does not
 * matter (WriterOptions.inOrder false). Each piece is a round trip through the pool; several at a time (at distinct
 * offsets, so finishing in any order) keep a 1 MiB write from costing eight in a row.
 */
const PAGE_CACHE_WRITES_AT_ONCE = 4;

/**
 * Writes through the page cache to one file, in pieces of at most PAGE_CACHE_WRITE_BYTES with at most `atOnce` of
 * them (of one write or of several) on the I/O pool at a time; with one at a time, they land in order.
 */
class PageCacheWrites {
  private running = 0;
  private readonly queued: (() => void)[] = [];
  /** Set by the first piece that fails: no piece is written after it, so that in order means a prefix stays. */
  private failed: { reason: unknown } | undefined;

  constructor(
    private readonly handle: FileHandle,
    private readonly atOnce: number,
  ) {}

  /** Writes data[start, end) at `position`. Resolves or fails once no piece reads `data` any more. */
  async write(data: Buffer, start: number, end: number, position: number): Promise<void> {
    const pieces: Promise<void>[] = [];
    for (let from = start; from < end; from += PAGE_CACHE_WRITE_BYTES) {
      pieces.push(this.piece(data, from, Math.min(end, from + PAGE_CACHE_WRITE_BYTES), position + (from - start)));
    }
    const outcomes = await Promise.allSettled(pieces);
    const failed = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async piece(data: Buffer, from: number, to: number, position: number): Promise<void> {
    if (this.running < this.atOnce) this.running++;
    // A piece that finishes hands its place straight to the one waiting longest.
    else await new Promise<void>((resolve) => this.queued.push(resolve));
    try {
      if (this.failed) throw this.failed.reason;
      for (let at = from; at < to;) {
        const { bytesWritten } = await this.handle.write(data, at, to - at, position + (at - from));
        if (bytesWritten === 0) throw new StorageError(`no bytes written at offset ${position + (at - from)}`);
        at += bytesWritten;
      }
    } catch (error) {
      this.failed ??= { reason: error };
      throw error;
    } finally {
      const next = this.queued.shift();
      if (next) next();
      else this.running--;
    }
  }
}

async function syncDirectory(directory: string): Promise<void> {
  await syncAndClose(await open(directory, 'r'));
}

/**
 * Syncs and closes a directory handle. Once the sync has succeeded nothing is left for the close to report, so
 * the caller does not wait for it.
 */
async function syncAndClose(handle: FileHandle): Promise<void> {
  try {
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
  handle.close().catch(() => undefined);
}

/**
 * Directories this process knows to be durable: their names in their parents were synced after they were created.
 * A directory this process removes (delete) is forgotten; one removed by anything else is found out when it has to be
 * created again (see makeDirectoryDurably).
 */
const durableDirectories = new Set<string>();

/**
 * Creates a directory found missing, with any missing parents, and syncs the directories holding the new names, so
 * that the new directories outlive a crash; the directory's own entries are the caller's to sync. Whichever call
 * created the directory (a concurrent one may have, and may not have synced it yet), its parent is synced here, and
 * so is every ancestor's parent not yet known to be durable, up to the storage root: for a new blob prefix on
 * storage in use, one sync. Every directory this call created counts as new, even one remembered as durable (it was
 * removed behind this process's back).
 */
async function makeDirectoryDurably(directory: string, root: string): Promise<void> {
  const firstCreated = await mkdir(directory, { recursive: true });
  const chain: string[] = [];
  for (let entry = directory; entry !== root && entry.startsWith(root); entry = dirname(entry)) {
    chain.push(entry);
    const parentCreatedHere = firstCreated !== undefined && entry.startsWith(firstCreated + sep);
    if (!parentCreatedHere && (durableDirectories.has(dirname(entry)) || dirname(entry) === entry)) break;
  }
  await Promise.all(chain.map((entry) => syncDirectory(dirname(entry))));
  for (const entry of chain) durableDirectories.add(entry);
}

/** Makes a directory, found or created, durable in its parents unless this process already knows it to be. */
async function keepDirectoryDurable(directory: string, root: string): Promise<void> {
  if (!durableDirectories.has(directory)) await makeDirectoryDurably(directory, root);
}

/** A chunk written straight through the page cache: resolves once the writer no longer reads it. */
interface StraightWrite {
  written: Promise<void>;
}

/**
 * Writes through 1 MiB batch buffers, so that a stream of small network chunks becomes few large
 * write syscalls. Two buffers (from the shared pool) take turns: while one is being written on the I/O
 * thread pool, the caller goes on (hashing, receiving) and fills the other. Data reaches the disk
 * (fsync) only on commit: one sync per object is what keeps uploads fast, and an uncommitted upload
 * may be lost in a crash anyway.
 *
 * A chunk of at least one page-cache piece that arrives while no batch is being filled (the caller's own pooled
 * buffer, say) is written straight from the caller's memory instead, without a copy and without holding up the
 * writes after it: its pieces and theirs go to the I/O pool side by side (see PageCacheWrites).
 *
 * With direct I/O on, whole aligned batches go to the disk through a second, O_DIRECT descriptor opened at the
 * first such batch, and whatever is not aligned (a small object, the tail of a chunk, the first bytes after an
 * unaligned end) through the ordinary one. A first batch that starts unaligned is cut short at the next 4 KiB
 * boundary, so the rest are aligned. The commit's fsync covers the bytes of both.
 */
class FilesystemFileWriter implements FileWriter {
  private batch: Buffer | undefined;
  private spare: Buffer | undefined;
  private batchLength = 0;
  /** File offset where the current batch will be written. */
  private position: number;
  /** The write of the other buffer, still running; it records its failure instead of rejecting. */
  private inflight: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private readonly operations = new WriterOperations();
  /** The background writeback (fdatasync) in progress, if any; it records its failure too. */
  private writeback: Promise<void> | undefined;
  /** Bytes written through the page cache since the last background flush began. */
  private unflushed = 0;
  /** The flush an earlier writer of this file left running when it closed. */
  private readonly inherited: PendingFlush | undefined;
  /** The O_DIRECT descriptor, opened at the first aligned batch (undefined: not yet, or refused). */
  private direct: Promise<FileHandle | undefined> | undefined;
  private readonly pageCache: PageCacheWrites;
  /** Chunks written straight through the page cache, still running; each records its failure instead of rejecting. */
  private readonly pageWrites = new Set<Promise<void>>();

  constructor(
    private readonly handle: FileHandle,
    private readonly fullPath: string,
    initialSize: number,
    private readonly directIO: DirectIoSwitch,
    /** See WriterOptions.inOrder: then one write at a time, each piece after the one before. */
    private readonly inOrder: boolean,
  ) {
    this.position = initialSize;
    this.inherited = takePendingFlush(fullPath);
    this.pageCache = new PageCacheWrites(handle, inOrder ? 1 : PAGE_CACHE_WRITES_AT_ONCE);
  }

  get size(): number {
    return this.position + this.batchLength;
  }

  async write(chunk: Buffer): Promise<void> {
    if (!Buffer.isBuffer(chunk)) throw new TypeError('FileWriter.write expects a Buffer');
    // The operation takes the chunk's place in the file; a chunk written straight through the page cache may still
    // be on its way when the next operation begins, and this resolves once it has arrived.
    const straight = await this.operations.run(() => this.writeNow(chunk));
    await straight?.written;
  }

  /**
   * Writes what is batched and closes, without waiting for a background flush still running: the file's next
   * writer takes that flush over (see PendingFlush).
   */
  close(): Promise<void> {
    return this.operations.run(async () => {
      this.operations.state = 'closed';
      writebackCandidates.delete(this);
      let handedOver = false;
      try {
        await this.flush();
        await this.closeDirect();
        this.throwIfFailed();
        handedOver = this.handOverFlushes();
      } finally {
        await this.closeDirect().catch(() => undefined);
        if (!handedOver) {
          await this.writeback;
          await this.handle.close();
          this.keepInheritedPending();
        }
        this.releaseBuffers();
      }
    });
  }

  commit(): Promise<void> {
    return this.operations.run(async () => {
      this.operations.state = 'committed';
      writebackCandidates.delete(this);
      let synced = false;
      try {
        await this.flush();
        await this.closeDirect();
        await this.writeback;
        await this.inherited?.settled;
        this.throwIfFailed();
        await this.handle.sync();
        synced = true;
      } finally {
        await this.closeDirect().catch(() => undefined);
        await this.writeback;
        this.releaseBuffers();
        // Once the sync has succeeded nothing is left for the close to report: the caller need not wait for it.
        if (synced) this.handle.close().catch(() => undefined);
        else await this.handle.close();
      }
    });
  }

  cancel(): Promise<void> {
    return this.operations.run(async () => {
      this.operations.state = 'cancelled';
      writebackCandidates.delete(this);
      this.batchLength = 0;
      await this.writesEnded();
      this.releaseBuffers();
      await this.closeDirect().catch(() => undefined);
      await this.writeback;
      await this.handle.close().catch(() => undefined);
      forgetPendingFlushes(this.fullPath);
      await rm(this.fullPath, { force: true });
    });
  }

  private async writeNow(chunk: Buffer): Promise<StraightWrite | undefined> {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.batchLength === 0 && chunk.length - offset >= this.straightWriteMinimum()) {
        // Already a large piece: written straight from the caller's buffer, no copy. With direct I/O only a whole
        // aligned piece of pooled memory at an aligned offset qualifies (the rest keeps the batch's alignment).
        // It must finish before write() returns, since the caller owns that buffer again afterwards.
        const piece = offset === 0 ? chunk : chunk.subarray(offset);
        if (!this.directIO.enabled) {
          if (!this.inOrder) {
            this.throwIfFailed();
            return this.writeThroughPageCache(piece);
          }
          // In order: after every write before it, and before any after it.
          await this.settleInflight();
          await this.writeThroughPageCache(piece).written;
          return undefined;
        }
        if (this.directEligible(piece, piece.length, this.position)) {
          await this.settleInflight();
          await this.writeBatch(piece, piece.length, this.position, true);
          this.position += piece.length;
          this.startWriteback();
          return undefined;
        }
      }
      const capacity = this.batchCapacity();
      const copied = copyIntoIoBuffer(
        chunk,
        this.batchBuffer(),
        this.batchLength,
        offset,
        offset + capacity - this.batchLength,
      );
      this.batchLength += copied;
      offset += copied;
      if (this.batchLength === capacity) await this.startBatchWrite();
    }
  }

  /**
   * The smallest chunk written straight rather than batched: a piece as large as the page cache takes in one write,
   * or with direct I/O a whole batch.
   */
  private straightWriteMinimum(): number {
    return this.directIO.enabled ? IO_BATCH_BYTES : PAGE_CACHE_WRITE_BYTES;
  }

  /**
   * Starts writing a chunk at its place in the file. Unless the writer keeps its writes in order, the chunk goes on
   * alongside the chunks after it (pieces at distinct offsets), and whatever needs the file whole (a batch, a flush)
   * waits for it first.
   */
  private writeThroughPageCache(chunk: Buffer): StraightWrite {
    const written = this.pageCache.write(chunk, 0, chunk.length, this.position);
    const ended: Promise<void> = written
      .catch((error: unknown) => {
        this.failure ??= error instanceof Error ? error : new StorageError(`write failed: ${String(error)}`);
      })
      .finally(() => this.pageWrites.delete(ended));
    this.pageWrites.add(ended);
    this.position += chunk.length;
    this.unflushed += chunk.length;
    this.startWriteback();
    return { written };
  }

  /** A full batch; with direct I/O, one that starts unaligned ends at the next 4 KiB boundary. */
  private batchCapacity(): number {
    return this.directIO.enabled ? IO_BATCH_BYTES - (this.position % DIRECT_IO_ALIGNMENT) : IO_BATCH_BYTES;
  }

  /** Whether a batch may go through the O_DIRECT descriptor: aligned memory, offset and length. */
  private directEligible(buffer: Buffer, length: number, position: number): boolean {
    return this.directIO.enabled && isAlignedIoBuffer(buffer) && isAlignedOffset(position) && isAlignedOffset(length);
  }

  /**
   * Writes one batch: directly when it qualifies (whatever a refused or short direct write left goes through
   * the page cache), otherwise through the page cache.
   */
  private async writeBatch(buffer: Buffer, length: number, position: number, direct: boolean): Promise<void> {
    let written = 0;
    if (direct) {
      this.direct ??= this.directIO.attempt(() => open(this.fullPath, constants.O_WRONLY | constants.O_DIRECT));
      const handle = await this.direct;
      if (handle && this.directIO.enabled) {
        written = (await this.directIO.attempt(() => handle.write(buffer, 0, length, position)))?.bytesWritten ?? 0;
      }
    }
    if (written < length) await this.pageCache.write(buffer, written, length, position + written);
  }

  private async closeDirect(): Promise<void> {
    const direct = this.direct;
    this.direct = undefined;
    await (await direct)?.close();
  }

  private batchBuffer(): Buffer {
    this.batch ??= takeIoBuffer();
    return this.batch;
  }

  /** Gives the batch buffers back to the pool; only once no write uses them any more. */
  private releaseBuffers(): void {
    if (this.batch) returnIoBuffer(this.batch);
    if (this.spare) returnIoBuffer(this.spare);
    this.batch = undefined;
    this.spare = undefined;
  }

  private throwIfFailed(): void {
    const failure = this.failure ?? this.inherited?.failure ?? null;
    if (failure !== null) throw failure;
  }

  /**
   * Leaves the flushes still running (this writer's and the one it inherited) to the file's next writer, and the
   * closing of the handle to the end of its own flush. False when nothing is running.
   */
  private handOverFlushes(): boolean {
    const running = [this.writeback, this.inherited?.done === false ? this.inherited.settled : undefined].filter(
      (flush) => flush !== undefined,
    );
    if (running.length === 0) return false;
    const inherited = this.inherited;
    const pending: PendingFlush = { settled: Promise.resolve(), done: false, failure: null };
    pending.settled = Promise.all(running)
      .then(() => this.handle.close())
      .catch((error: unknown) => {
        this.failure ??= error instanceof Error ? error : new StorageError(String(error));
      })
      .finally(() => {
        pending.failure = this.failure ?? inherited?.failure ?? null;
        pending.done = true;
        // A clean flush need not be reported; a failed one stays until the next writer (or a delete) takes it.
        if (pending.failure === null && pendingFlushes.get(this.fullPath) === pending) {
          pendingFlushes.delete(this.fullPath);
        }
      });
    pendingFlushes.set(this.fullPath, pending);
    return true;
  }

  /** A failed close must not drop an inherited flush whose outcome nobody has heard yet. */
  private keepInheritedPending(): void {
    const inherited = this.inherited;
    if (inherited && (!inherited.done || inherited.failure !== null) && !pendingFlushes.has(this.fullPath)) {
      pendingFlushes.set(this.fullPath, inherited);
    }
  }

  /** Waits for the other buffer's write and the straight writes still running, and rethrows a failure. */
  private async settleInflight(): Promise<void> {
    await this.writesEnded();
    if (this.failure !== null) throw this.failure;
  }

  /** Resolves once no write started so far is running (they record their failures). */
  private async writesEnded(): Promise<void> {
    await this.inflight;
    await Promise.all(this.pageWrites);
  }

  /** Hands the full batch to the I/O pool and swaps buffers, once the previous write is done. */
  private async startBatchWrite(): Promise<void> {
    await this.settleInflight();
    const full = this.batchBuffer();
    const length = this.batchLength;
    const direct = this.directEligible(full, length, this.position);
    this.inflight = this.writeBatch(full, length, this.position, direct).catch((error: unknown) => {
      this.failure = error instanceof Error ? error : new StorageError(`write failed: ${String(error)}`);
    });
    this.position += length;
    if (!direct) this.unflushed += length;
    this.batch = this.spare;
    this.spare = full;
    this.batchLength = 0;
    this.startWriteback();
  }

  /** Bytes handed to the page cache since the last background flush began (direct writes need none). */
  unflushedBytes(): number {
    return this.unflushed;
  }

  /** Flushes what has been written so far (never fails: a failure is kept for commit to report). */
  flushInBackground(): Promise<void> {
    this.unflushed = 0;
    // What is being written now is flushed too: the flush begins once those writes have ended.
    const writeback = this.writesEnded()
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

  /** Starts a background fdatasync once enough new bytes were written and none is running. */
  private startWriteback(): void {
    if (this.operations.state !== 'open') return;
    writebackCandidates.add(this);
    pumpWriteback();
  }

  private async flush(): Promise<void> {
    await this.settleInflight();
    if (this.batchLength === 0 || !this.batch) return;
    const direct = this.directEligible(this.batch, this.batchLength, this.position);
    await this.writeBatch(this.batch, this.batchLength, this.position, direct);
    this.position += this.batchLength;
    this.batchLength = 0;
  }
}
