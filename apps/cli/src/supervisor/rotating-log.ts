import * as nodeFs from 'node:fs';

/** The file system calls RotatingLog makes; tests give a double that fails on demand. */
export type LogFs = Pick<
  typeof nodeFs,
  'closeSync' | 'existsSync' | 'fstatSync' | 'openSync' | 'renameSync' | 'rmSync' | 'writeSync'
>;

export interface RotatingLogOptions {
  /** The file is rotated once it would grow past this (after finishing the line being written, if any). */
  maxBytes: number;
  /** Rotated files kept (`<path>.1` is the newest); 0 keeps none. */
  keep: number;
  /** Mode of files it creates. */
  mode?: number;
  /**
   * Told when writing or rotating starts failing (a full disk, the file removed or its directory gone), once per
   * run of failures, and again when the log works again (with `undefined`). Must not throw.
   */
  onError?: (error: Error | undefined) => void;
  /** File system calls; node:fs unless a test replaces them. */
  fs?: LogFs;
}

/**
 * An append-only log file rotated by size, as log.local.rotate_size and rotate_count ask: `<path>` is written,
 * `<path>.1` … `<path>.<keep>` are older. Writes are synchronous, so a line is on disk before the next one is read,
 * and a rotation falls on a line boundary whenever the chunk being written has one.
 *
 * Only the constructor throws (the log cannot be opened at all). Afterwards a failed write or rotation never does:
 * what could not be written is dropped, the file is reopened at `<path>` (append), and the next write tries again,
 * so whatever writes to the log keeps running through a full disk or an administrator removing the file.
 */
export class RotatingLog {
  private fd: number | undefined;
  private size = 0;
  private atLineStart = true;
  private failing = false;
  private readonly fs: LogFs;

  constructor(
    readonly path: string,
    private readonly options: RotatingLogOptions,
  ) {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1) {
      throw new RangeError('maxBytes must be a positive integer');
    }
    if (!Number.isSafeInteger(options.keep) || options.keep < 0) {
      throw new RangeError('keep must be a non-negative integer');
    }
    this.fs = options.fs ?? nodeFs;
    this.open();
  }

  write(chunk: Buffer | string): void {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    try {
      if (this.fd === undefined) this.open();
      this.writeRotating(data);
      if (this.failing) {
        this.failing = false;
        this.report(undefined);
      }
    } catch (error) {
      this.recover(error);
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    this.fs.closeSync(fd);
  }

  private open(): void {
    const fd = this.fs.openSync(this.path, 'a', this.options.mode ?? 0o640);
    try {
      this.size = this.fs.fstatSync(fd).size;
    } catch (error) {
      this.fs.closeSync(fd);
      throw error;
    }
    this.fd = fd;
    this.atLineStart = true;
  }

  /** After a failure: the chunk is dropped, and the file is reopened at its path for the next write. */
  private recover(error: unknown): void {
    if (!this.failing) {
      this.failing = true;
      // Errors of node:fs may come from another realm (a vm context), where instanceof Error is false.
      const isError = typeof error === 'object' && error !== null && 'message' in error;
      this.report(isError ? (error as Error) : new Error(String(error)));
    }
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      try {
        this.fs.closeSync(fd);
      } catch {
        // The descriptor is gone either way.
      }
    }
    try {
      this.open();
    } catch {
      // Still failing (the directory is gone, or no space for a new file): the next write tries again.
    }
  }

  private report(error: Error | undefined): void {
    try {
      this.options.onError?.(error);
    } catch {
      // A report that fails must not take the log down with it.
    }
  }

  private writeRotating(chunk: Buffer): void {
    let data = chunk;
    while (data.length > 0) {
      if (this.size > 0 && this.size + data.length > this.options.maxBytes) {
        // A line begun in this file is finished in it, so no line is split across two files.
        const newline = this.atLineStart ? -1 : data.indexOf(0x0a);
        if (newline >= 0) {
          this.append(data.subarray(0, newline + 1));
          data = data.subarray(newline + 1);
        }
        this.rotate();
        continue;
      }
      this.append(data);
      return;
    }
  }

  private append(data: Buffer): void {
    const fd = this.fd;
    if (fd === undefined) throw new Error(`${this.path} is not open`);
    let offset = 0;
    while (offset < data.length) offset += this.fs.writeSync(fd, data, offset, data.length - offset);
    this.size += data.length;
    if (data.length > 0) this.atLineStart = data[data.length - 1] === 0x0a;
  }

  private rotate(): void {
    this.close();
    const { keep } = this.options;
    if (keep === 0) {
      this.fs.rmSync(this.path, { force: true });
    } else {
      for (let i = keep - 1; i >= 1; i--) {
        const from = `${this.path}.${i}`;
        if (this.fs.existsSync(from)) this.fs.renameSync(from, `${this.path}.${i + 1}`);
      }
      try {
        this.fs.renameSync(this.path, `${this.path}.1`);
      } catch (error) {
        // Removed meanwhile (by an administrator, say): there is nothing to keep, and a new file starts below.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    this.open();
  }
}
