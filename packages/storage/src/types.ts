import type { Readable, Writable } from 'node:stream';

/** What a driver knows about one stored object. */
export interface FileInfo {
  path: string;
  size: number;
  modTime: Date;
}

/** A file listFiles() found: its size and time too where the listing gives them at no cost (S3's does). */
export interface ListedFile {
  path: string;
  size?: number;
  modTime?: Date;
}

/** A file deleteFiles() could not delete, and why. */
export interface DeleteFailure {
  path: string;
  reason: string;
}

/**
 * A writer for one object. Writes may be buffered; `close()` flushes and keeps the object open for
 * a later `writer(path, true)` append (possibly from another process), `commit()` makes the content
 * durable and readable at its path, and `cancel()` discards it. On the filesystem a new file's name is made
 * durable by the `move` that puts it under its final name (which syncs that directory), not by `commit()`:
 * what is written is an upload, which is always moved.
 */
export interface FileWriter {
  /** Bytes in the object so far, including bytes written before this writer was opened. */
  readonly size: number;
  /** Takes the next bytes; once it resolves the writer holds no reference to `chunk`, whose memory the caller may reuse. */
  write(chunk: Buffer): Promise<void>;
  close(): Promise<void>;
  commit(): Promise<void>;
  cancel(): Promise<void>;
}

export interface WriterOptions {
  /**
   * Whether bytes reach storage in the order they were written, so that after a failed write or a crash before
   * commit the object holds a prefix of them, from which an upload can be resumed (the default). A caller that
   * discards the object on any failure passes false, and the writer may then write several pieces at once.
   */
  inOrder?: boolean;
}

export interface RedirectOptions {
  method: 'GET' | 'HEAD';
  expiresInSeconds: number;
}

/**
 * The storage driver interface: paths are '/'-separated, relative, and never contain '..' or empty
 * segments (drivers refuse them with InvalidPathError).
 */
export interface StorageDriver {
  readonly name: string;
  /** null when nothing is stored at path. */
  stat(path: string): Promise<FileInfo | null>;
  /** Reads [offset, offset+length) (length omitted: to the end). Throws PathNotFoundError. */
  reader(path: string, offset?: number, length?: number): Promise<Readable>;
  getContent(path: string): Promise<Buffer>;
  /** Replaces the content atomically: a reader sees the old or the new content, never a mix. */
  putContent(path: string, content: Buffer): Promise<void>;
  /** append=false truncates/creates; append=true continues an object closed earlier. */
  writer(path: string, append: boolean, options?: WriterOptions): Promise<FileWriter>;
  /** Direct children (files and directories) of a directory path, as full paths. */
  list(path: string): Promise<string[]>;
  /**
   * Every file under a directory path, at any depth, with its size and modification time, in no set order; nothing
   * when the path does not exist. Garbage collection finds the bytes no row knows of with it.
   */
  walk(path: string): AsyncIterable<FileInfo>;
  /**
   * The files walk() finds, without looking at each one where that takes a call per file (a filesystem's stat): then
   * only their paths. Where the listing itself carries the size and time, they are given.
   */
  listFiles(path: string): AsyncIterable<ListedFile>;
  /** Atomic where the backend allows: dst appears complete or not at all. Overwrites dst. */
  move(src: string, dst: string): Promise<void>;
  /**
   * Makes an object found at `path` outlive a crash, whoever put it there: another request's move may not have
   * finished making it durable. Drivers whose writes are durable once they return leave it out.
   */
  ensureDurable?(path: string): Promise<void>;
  /** Deletes a file or a whole directory tree; deleting what does not exist is not an error. */
  delete(path: string): Promise<void>;
  /**
   * Deletes many files (not directories) at once, as cheaply as the backend allows: S3's DeleteObjects of up to 1,000
   * keys a request, a filesystem's unlinks with bounded concurrency. A file that does not exist counts as deleted.
   * Resolves to the files it could not delete; rejects when a whole request failed, and then any of them may or may
   * not be deleted.
   */
  deleteFiles(paths: string[]): Promise<DeleteFailure[]>;
  /** A URL the client may fetch the object from directly, or null when the driver cannot redirect. */
  redirectURL(path: string, options: RedirectOptions): Promise<string | null>;
  /**
   * Optional fast path for serving downloads: writes [offset, offset+length) to `destination` (honouring its
   * backpressure) with the least copying and allocation the backend allows. Resolves when every byte has
   * been handed to `destination`; rejects if the object is shorter or the destination fails.
   */
  sendTo?(path: string, offset: number, length: number, destination: Writable): Promise<void>;
}

export class StorageError extends Error {}

export class PathNotFoundError extends StorageError {
  constructor(readonly path: string) {
    super(`path not found: ${path}`);
    this.name = 'PathNotFoundError';
  }
}

export class InvalidPathError extends StorageError {
  constructor(readonly path: string) {
    super(`invalid storage path: ${JSON.stringify(path)}`);
    this.name = 'InvalidPathError';
  }
}

/** Storage configuration, independent of harbor.yml's spelling. */
export type StorageOptions =
  | {
      driver: 'filesystem';
      rootDirectory: string;
      /** Large blob reads and writes bypass the page cache where the filesystem allows it (default false). */
      directIO?: boolean;
    }
  | {
      driver: 's3';
      bucket: string;
      region: string;
      endpoint?: string;
      accessKey?: string;
      secretKey?: string;
      forcePathStyle?: boolean;
      rootDirectory?: string;
      /** Parts of a multipart upload, in bytes (S3 wants at least 5 MiB). */
      chunkSize?: number;
      /** Whether blob GETs may be redirected to a presigned URL. */
      redirect: boolean;
    };
