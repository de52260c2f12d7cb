import { InvalidPathError } from './types.js';

/**
 * Names starting with this prefix are in-flight temporary files of the filesystem driver. They are
 * refused as user paths so that list() can hide them without ever hiding a real object.
 */
export const TEMP_NAME_PREFIX = '.wharf-tmp-';

/**
 * Checks a storage path and returns its segments: relative, '/'-separated, with no empty, '.' or '..'
 * segment, no backslash and no NUL. Throws InvalidPathError otherwise.
 */
export function storagePathSegments(path: unknown): string[] {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\\') || path.includes('\0')) {
    throw new InvalidPathError(String(path));
  }
  const segments = path.split('/');
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..' || segment.startsWith(TEMP_NAME_PREFIX)) {
      throw new InvalidPathError(path);
    }
  }
  return segments;
}

/** Throws InvalidPathError unless path is a valid storage path (see storagePathSegments). */
export function assertStoragePath(path: unknown): asserts path is string {
  storagePathSegments(path);
}

/** Checks a reader's byte range; these come from code, so a bad value is a programming error. */
export function assertByteRange(offset: number, length: number | undefined): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`invalid read offset: ${offset}`);
  }
  if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) {
    throw new RangeError(`invalid read length: ${length}`);
  }
}
