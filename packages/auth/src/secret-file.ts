import { randomBytes } from 'node:crypto';
import { type FileHandle, link, open, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Whether `error` is a Node.js system error with one of `codes` (ENOENT, EEXIST, ...). */
export function isErrno(error: unknown, ...codes: string[]): boolean {
  if (typeof error !== 'object' || error === null || !('code' in error)) return false;
  return typeof error.code === 'string' && codes.includes(error.code);
}

/** Creates `path` (0600) with `content`, synced; fails with EEXIST when it exists. */
async function writeNewFile(path: string, content: string): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Not every platform can fsync a directory; the file itself is already on disk.
  } finally {
    await handle?.close();
  }
}

/**
 * Publishes a secret at `path` (mode 0600) only if nothing is there yet, never overwriting: written whole and synced
 * to a private temporary file in the same directory first, then hard-linked into place, so no reader ever sees an
 * empty or partial secret and a crash leaves at worst a stray temporary file. Returns false when another process
 * published first (the caller then reads theirs).
 */
export async function publishSecretFile(path: string, content: string): Promise<boolean> {
  const dir = dirname(path);
  const temporary = join(dir, `.${basename(path)}.${randomBytes(8).toString('hex')}.tmp`);
  await writeNewFile(temporary, content);
  try {
    await link(temporary, path);
  } catch (error) {
    if (isErrno(error, 'EEXIST')) return false;
    if (!isErrno(error, 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS')) throw error;
    // File systems without hard links: an exclusive create still never overwrites, only loses all-or-nothing.
    try {
      await writeNewFile(path, content);
    } catch (fallbackError) {
      if (isErrno(fallbackError, 'EEXIST')) return false;
      throw fallbackError;
    }
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  await syncDirectory(dir);
  return true;
}
