import { closeSync, existsSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

export interface RotatingLogOptions {
  /** The file is rotated once it would grow past this (after finishing the line being written, if any). */
  maxBytes: number;
  /** Rotated files kept (`<path>.1` is the newest); 0 keeps none. */
  keep: number;
  /** Mode of files it creates. */
  mode?: number;
}

/**
 * An append-only log file rotated by size, as log.local.rotate_size and rotate_count ask: `<path>` is written,
 * `<path>.1` … `<path>.<keep>` are older. Writes are synchronous, so a line is on disk before the next one is read,
 * and a rotation falls on a line boundary whenever the chunk being written has one.
 */
export class RotatingLog {
  private fd: number;
  private size: number;
  private atLineStart = true;

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
    this.fd = openSync(path, 'a', options.mode ?? 0o640);
    this.size = fstatSync(this.fd).size;
  }

  write(chunk: Buffer | string): void {
    let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
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

  close(): void {
    closeSync(this.fd);
  }

  private append(data: Buffer): void {
    let offset = 0;
    while (offset < data.length) offset += writeSync(this.fd, data, offset, data.length - offset);
    this.size += data.length;
    if (data.length > 0) this.atLineStart = data[data.length - 1] === 0x0a;
  }

  private rotate(): void {
    closeSync(this.fd);
    const { keep } = this.options;
    if (keep === 0) {
      rmSync(this.path, { force: true });
    } else {
      for (let i = keep - 1; i >= 1; i--) {
        const from = `${this.path}.${i}`;
        if (existsSync(from)) renameSync(from, `${this.path}.${i + 1}`);
      }
      renameSync(this.path, `${this.path}.1`);
    }
    this.fd = openSync(this.path, 'a', this.options.mode ?? 0o640);
    this.size = 0;
  }
}
