import { describe, expect, it } from '@jest/globals';
import { assertByteRange, assertStoragePath, storagePathSegments } from './paths.js';
import { InvalidPathError } from './types.js';

describe('storage paths', () => {
  it('splits valid paths into segments', () => {
    expect(storagePathSegments('blobs/sha256:ab/data')).toEqual(['blobs', 'sha256:ab', 'data']);
    expect(storagePathSegments('a/..b/.c/d..')).toEqual(['a', '..b', '.c', 'd..']);
  });

  it.each(['', '/', '/a', 'a/', 'a//b', '.', '..', 'a/./b', 'a/../b', '../a', 'a\\b', 'a\0b', 'x/.wharf-tmp-1'])(
    'refuses %j',
    (path) => {
      expect(() => assertStoragePath(path)).toThrow(InvalidPathError);
    },
  );

  it('refuses values that are not strings', () => {
    expect(() => assertStoragePath(undefined)).toThrow(InvalidPathError);
    expect(() => assertStoragePath(42)).toThrow(InvalidPathError);
  });

  it('checks read ranges', () => {
    expect(() => assertByteRange(0, undefined)).not.toThrow();
    expect(() => assertByteRange(5, 0)).not.toThrow();
    expect(() => assertByteRange(-1, undefined)).toThrow(RangeError);
    expect(() => assertByteRange(0.5, 1)).toThrow(RangeError);
    expect(() => assertByteRange(0, Number.NaN)).toThrow(RangeError);
  });
});
