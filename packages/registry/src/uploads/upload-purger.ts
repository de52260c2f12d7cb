import { type RegistryRepository } from '@wharf/db';
import { PathNotFoundError, type StorageDriver } from '@wharf/storage';
import { isUploadId } from './blob-store.js';
import { repeatInBackground } from '../repeat.js';

export interface UploadPurgeOptions {
  /** Sessions untouched for longer than this are abandoned. */
  ageMs: number;
  /** Report what would be removed without removing it. */
  dryRun: boolean;
}

export interface UploadPurgeResult {
  sessions: string[];
  /** Uploads in storage with no session (left by monolithic uploads cut short, or crashes). */
  orphans: string[];
}

export interface PurgeLogger {
  info(object: object, message: string): void;
  error(object: object, message: string): void;
}

/**
 * Removes abandoned uploads per `upload_purging`. A session is removed only if, at the instant of its deletion,
 * it is still older than the cutoff and no request holds its write lease, so an upload being written is never
 * purged; its bytes are deleted only after its row is gone, so no request can reopen it meanwhile.
 */
export async function purgeUploads(
  repository: RegistryRepository,
  storage: StorageDriver,
  options: UploadPurgeOptions,
  now = new Date(),
): Promise<UploadPurgeResult> {
  const cutoff = new Date(now.getTime() - options.ageMs);
  const result: UploadPurgeResult = { sessions: [], orphans: [] };
  for (;;) {
    const stale = await repository.staleUploads(cutoff, 500);
    if (stale.length === 0) break;
    for (const session of stale) {
      if (options.dryRun) {
        result.sessions.push(session.id);
        continue;
      }
      if (await repository.deleteStaleUpload(session.id, cutoff)) {
        await storage.delete(`uploads/${session.id}`);
        result.sessions.push(session.id);
      }
    }
    if (options.dryRun || stale.length < 500) break;
  }

  let entries: string[];
  try {
    entries = await storage.list('uploads');
  } catch (error) {
    if (error instanceof PathNotFoundError) return result;
    throw error;
  }
  const live = await repository.uploadIds();
  for (const entry of entries) {
    const id = entry.slice(entry.lastIndexOf('/') + 1);
    if (!isUploadId(id) || live.has(id)) continue;
    // An upload's data file, or the folder an earlier version kept it in.
    const info = (await storage.stat(entry)) ?? (await storage.stat(`${entry}/data`));
    // A monolithic upload in flight has no row either, and a session being opened has no data file for a
    // moment: only uploads whose data is older than the cutoff are orphans.
    if (!info || info.modTime > cutoff) continue;
    if (!options.dryRun) await storage.delete(entry);
    result.orphans.push(id);
  }
  return result;
}

/**
 * Runs the purge every `intervalMs`. The returned function stops the schedule and resolves once a purge that is
 * running has ended, so the caller can close the database and storage after it.
 */
export function scheduleUploadPurge(
  repository: RegistryRepository,
  storage: StorageDriver,
  options: UploadPurgeOptions & { intervalMs: number },
  log: PurgeLogger,
): () => Promise<void> {
  return repeatInBackground(async () => {
    try {
      const result = await purgeUploads(repository, storage, options);
      if (result.sessions.length + result.orphans.length > 0) {
        log.info(
          { sessions: result.sessions.length, orphans: result.orphans.length, dryRun: options.dryRun },
          options.dryRun ? 'upload purge (dry run) found abandoned uploads' : 'purged abandoned uploads',
        );
      }
    } catch (error) {
      log.error({ err: error }, 'upload purge failed');
    }
  }, options.intervalMs);
}
