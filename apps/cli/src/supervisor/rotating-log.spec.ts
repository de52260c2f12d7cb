import * as fs from 'node:fs';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { type LogFs, RotatingLog } from './rotating-log.js';

describe('RotatingLog', () => {
  let dir: string;
  let path: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-rotating-log-'));
    path = join(dir, 'core.log');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const read = (name: string) => readFileSync(join(dir, name), 'utf8');

  it('appends to an existing file and counts its size', () => {
    writeFileSync(path, 'old line\n');
    const log = new RotatingLog(path, { maxBytes: 20, keep: 2 });
    log.write('new line\n');
    log.close();
    expect(read('core.log')).toBe('old line\nnew line\n');
    expect(readdirSync(dir)).toEqual(['core.log']);
  });

  it('rotates once the file would pass the size, keeping the newest files up to the count', () => {
    const log = new RotatingLog(path, { maxBytes: 10, keep: 2 });
    for (const line of ['aaaaaaa\n', 'bbbbbbb\n', 'ccccccc\n', 'ddddddd\n']) log.write(line);
    log.close();
    expect(readdirSync(dir).sort()).toEqual(['core.log', 'core.log.1', 'core.log.2']);
    expect(read('core.log')).toBe('ddddddd\n');
    expect(read('core.log.1')).toBe('ccccccc\n');
    expect(read('core.log.2')).toBe('bbbbbbb\n');
  });

  it('finishes the current line in the old file before rotating', () => {
    const log = new RotatingLog(path, { maxBytes: 10, keep: 1 });
    log.write('12345678');
    log.write('9\nnext line\n');
    log.close();
    expect(read('core.log.1')).toBe('123456789\n');
    expect(read('core.log')).toBe('next line\n');
  });

  it('keeps no old file with a count of 0', () => {
    const log = new RotatingLog(path, { maxBytes: 10, keep: 0 });
    log.write('aaaaaaa\n');
    log.write('bbbbbbb\n');
    log.close();
    expect(readdirSync(dir)).toEqual(['core.log']);
    expect(read('core.log')).toBe('bbbbbbb\n');
  });

  it('writes a chunk larger than the limit whole into a fresh file', () => {
    const log = new RotatingLog(path, { maxBytes: 4, keep: 1 });
    log.write('x');
    log.write('a long chunk without a line break');
    log.close();
    expect(read('core.log.1')).toBe('x');
    expect(read('core.log')).toBe('a long chunk without a line break');
  });

  it('survives the file being removed between writes, and starts a new one at its path', () => {
    const errors: (Error | undefined)[] = [];
    const log = new RotatingLog(path, { maxBytes: 20, keep: 2, onError: (error) => errors.push(error) });
    log.write('aaaaaaaaaaaaaaa\n');
    rmSync(path);
    // Past the size: the rotation finds no file to rename.
    expect(() => log.write('bbbbbbbbbbbbbbb\n')).not.toThrow();
    log.write('ccc\n');
    log.close();
    expect(read('core.log')).toBe('bbbbbbbbbbbbbbb\nccc\n');
    expect(errors).toEqual([]);
  });

  it('survives its directory being removed, and writes again once the directory is back', () => {
    const errors: (NodeJS.ErrnoException | undefined)[] = [];
    const log = new RotatingLog(path, { maxBytes: 10, keep: 1, onError: (error) => errors.push(error) });
    log.write('aaaaaaa\n');
    rmSync(dir, { recursive: true });
    expect(() => log.write('bbbbbbb\n')).not.toThrow();
    expect(() => log.write('ccccccc\n')).not.toThrow();
    fs.mkdirSync(dir);
    log.write('ddddddd\n');
    log.close();
    expect(read('core.log')).toBe('ddddddd\n');
    expect(errors.map((error) => error?.code)).toEqual(['ENOENT', undefined]);
  });

  /** A test double of node:fs whose writeSync fails with ENOSPC while `full` is set, like a full disk. */
  function fullDiskFs(): LogFs & { full: boolean } {
    const double = {
      ...fs,
      full: false,
      writeSync: ((...args: Parameters<typeof fs.writeSync>) => {
        if (double.full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        return (fs.writeSync as (...a: unknown[]) => number)(...args);
      }) as typeof fs.writeSync,
    };
    return double;
  }

  it('drops what it cannot write on a full disk, reports it once, and goes on when there is space again', () => {
    const failingFs = fullDiskFs();
    const errors: (Error | undefined)[] = [];
    const log = new RotatingLog(path, {
      maxBytes: 100,
      keep: 1,
      fs: failingFs,
      onError: (error) => errors.push(error),
    });
    log.write('before\n');
    failingFs.full = true;
    expect(() => log.write('lost 1\n')).not.toThrow();
    expect(() => log.write('lost 2\n')).not.toThrow();
    failingFs.full = false;
    log.write('after\n');
    log.close();
    expect(read('core.log')).toBe('before\nafter\n');
    expect(errors.map((error) => error?.message)).toEqual(['ENOSPC: no space left on device, write', undefined]);
  });

  it('keeps logging when a report of a failure itself throws', () => {
    const failingFs = fullDiskFs();
    const log = new RotatingLog(path, {
      maxBytes: 100,
      keep: 1,
      fs: failingFs,
      onError: () => {
        throw new Error('stderr is gone too');
      },
    });
    failingFs.full = true;
    expect(() => log.write('lost\n')).not.toThrow();
    failingFs.full = false;
    log.write('kept\n');
    log.close();
    expect(read('core.log')).toBe('kept\n');
  });

  it('refuses nonsensical limits', () => {
    expect(() => new RotatingLog(path, { maxBytes: 0, keep: 1 })).toThrow(RangeError);
    expect(() => new RotatingLog(path, { maxBytes: 10, keep: -1 })).toThrow(RangeError);
  });
});
