import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DATA_PATH_APPLICATION_NAMES,
  type GcBlob,
  type GcManifest,
  GcSession,
  RegistryGcRepository,
  type RegistryRepository,
} from '@wharf/db';
import { parseDigest } from '@wharf/oci';
import { type FileInfo, type ListedFile, type StorageDriver } from '@wharf/storage';
import { type DataSource } from 'typeorm';
import { blobDataPath, isUploadId } from '../uploads/blob-store.js';

/*
 * Online garbage collection, and why pushes, pulls, mounts and deletes may go on while it runs.
 *
 * Mark. The collection chooses, in PostgreSQL and set-based, the untagged manifests to delete (when asked) and the
 * blobs no manifest references, touched by no push within the time window. A blob row's `gc_state` is 'none' until
 * then; nothing is written yet (a dry run stops after counting).
 *
 * Sweep, a batch of blobs at a time, several batches at once. The collection never waits for a row lock a push holds
 * (SKIP LOCKED): a row locked at a step is left alone by that step, which only ever means kept.
 *  1. mark: 'none' → 'delete' (committed), for rows no push holds locked. From then on every data path that relies
 *     on the blob takes it back
 *     ('delete' → 'none', touched now) under the row's lock: a manifest push for each blob it references
 *     (holdReferences, which share-locks the rows it does not take back), a blob link when an upload completes or a
 *     mount links (LINK_BLOB, which locks the row).
 *  2. begin: 'delete' → 'deleting' (committed) for the rows still marked and referenced by no manifest, in one locked
 *     update. Every marked row was unlocked when marked, so a push that uses it locked it after the mark committed:
 *     it took the row back (the locked update sees that and leaves it), or holds it now (the update skips it), or
 *     committed its reference before the update's snapshot (the update sees it). From here on
 *     the data path treats the blob as absent: HEAD and GET answer BLOB_UNKNOWN, a manifest push that names it
 *     MANIFEST_BLOB_UNKNOWN, a mount falls back to an upload; clients upload it again.
 *  3. finish: one transaction locks the 'deleting' rows, deletes their bytes, then the links and rows of those whose
 *     bytes went (storage may fail some: they stay 'deleting' for a later run), and commits.
 *     Bytes are only ever deleted under that lock. A blob upload that completes meanwhile links under the same lock
 *     (LINK_BLOB): it waits, then finds the row gone (or still 'deleting', after a crash) and, holding its own lock,
 *     makes sure the bytes are in storage — putting its own copy there — before its link commits. So an upload of
 *     the same digest during the deletion ends with its bytes present.
 *
 * A crash (kill -9) at any point leaves rows 'delete' (taken back as 'none' by the next run) or 'deleting' (finished
 * by the next run: it deletes bytes that may be gone already, then the rows), never a row without bytes that the data
 * path would use. Bytes with no row (an upload that crashed between moving its bytes and linking them) and upload
 * files with no session are found by walking storage; those older than the time window are deleted, an orphan blob
 * by recording it as a 'deleting' row first, so that it goes through step 3 like any other.
 */

export interface GcOptions {
  /** Delete untagged manifests first (Harbor's "delete untagged artifacts"), then the blobs they alone referenced. */
  deleteUntagged: boolean;
  /** Report what would be deleted, deleting nothing. */
  dryRun: boolean;
  /** Batches of the sweep run at once: 1 to 10. */
  workers: number;
  /** Blobs, manifests and files younger than this are kept (default 2). */
  timeWindowHours?: number;
}

export interface GcContext {
  /** Receives the run's progress, a line at a time, as Harbor's GC job log shows it. */
  log(line: string): Promise<void> | void;
  /** Stops the run between batches, leaving every blob either kept or wholly deleted; the run then rejects. */
  signal: AbortSignal;
}

export interface GcResult {
  dryRun: boolean;
  /** Untagged manifests deleted (or, in a dry run, that would be). */
  manifestsDeleted: number;
  /** Blob rows deleted with their bytes. */
  blobsDeleted: number;
  /** Bytes of those blobs. */
  bytesFreed: number;
  /** Blob files in storage that no row knew of, deleted, and their bytes. */
  orphanFiles: number;
  orphanBytes: number;
  /** Upload files or folders with no upload session, deleted, and their bytes. */
  uploadDirs: number;
  uploadBytes: number;
  markMs: number;
  sweepMs: number;
  /** Time the sweep paused to yield to the data path (no batch runs during a pause). */
  pausedMs: number;
}

/** A step of the sweep, for tests to hold a batch where a race is to happen. */
export type GcStep = 'marked' | 'deleting' | 'bytesDeleted';

export interface GarbageCollectorOptions {
  /** Blobs per batch of the sweep. */
  batchSize?: number;
  /**
   * While the data path is at work (core or a registry ran a query within the last second), the fraction of the time
   * the sweep works, whatever its workers: its batches then run one at a time, each followed by a pause of its length
   * times (1 − d) / d. 1 never pauses. With the data path idle, the workers run side by side without pausing.
   */
  busyDutyCycle?: number;
  /** Called after each step of a batch with its digests; a test drives races through it. */
  onStep?: (step: GcStep, digests: string[]) => Promise<void> | void;
}

export const GC_ACTOR = 'garbage collection';
const DEFAULT_TIME_WINDOW_HOURS = 2;
const DEFAULT_BATCH_SIZE = 1000;
export const DEFAULT_GC_BUSY_DUTY_CYCLE = 0.5;
/** The data path counts as at work when it used the database this recently. */
const DATA_PATH_RECENT_MS = 1000;
/** Files looked up in the database at once when walking storage. */
const WALK_BATCH = 1000;
const PROGRESS_EVERY_MS = 5000;

function validate(options: GcOptions): Required<GcOptions> {
  const timeWindowHours = options.timeWindowHours ?? DEFAULT_TIME_WINDOW_HOURS;
  if (!Number.isInteger(options.workers) || options.workers < 1 || options.workers > 10) {
    throw new RangeError(`workers must be an integer from 1 to 10, not ${options.workers}`);
  }
  if (!Number.isFinite(timeWindowHours) || timeWindowHours < 0) {
    throw new RangeError(`timeWindowHours must be a number of hours, 0 or more, not ${timeWindowHours}`);
  }
  return { ...options, timeWindowHours };
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}

function megabytes(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(2);
}

/** The digest a blob file's path stands for (`blobs/<algorithm>/<2 hex>/<hex>`), or null for any other file. */
function digestOfBlobPath(path: string): string | null {
  const parts = path.split('/');
  if (parts.length !== 4 || parts[0] !== 'blobs') return null;
  const digest = `${parts[1]}:${parts[3]}`;
  const parsed = parseDigest(digest);
  if (!parsed || blobDataPath(parsed) !== path) return null;
  return digest;
}

/** Runs `work` on each item, `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}

/**
 * The sweep's share of the machine while the data path is at work: one gate for all its workers, held for a batch and
 * the pause after it, so that the collection as a whole (not each worker) works its duty cycle. While the data path
 * is idle, no worker takes the gate.
 */
class SweepThrottle {
  /** Whether the data path was at work when a worker last looked. */
  busy = false;
  private tail: Promise<void> = Promise.resolve();

  /** Waits for the gate; resolves to the function that opens it again. */
  async acquire(): Promise<() => void> {
    const previous = this.tail;
    let open!: () => void;
    this.tail = new Promise<void>((resolve) => (open = resolve));
    await previous;
    return open;
  }
}

/** Files whose size and time are looked up at once when the listing did not give them. */
const STATS_AT_ONCE = 16;

/** Online garbage collection of one registry's database and storage; see the protocol above. */
export class GarbageCollector {
  private readonly gc: RegistryGcRepository;
  private readonly batchSize: number;
  private readonly busyDutyCycle: number;
  private readonly onStep: GarbageCollectorOptions['onStep'];

  constructor(
    private readonly dataSource: DataSource,
    registry: RegistryRepository,
    private readonly storage: StorageDriver,
    options: GarbageCollectorOptions = {},
  ) {
    this.gc = new RegistryGcRepository(dataSource, registry);
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    this.busyDutyCycle = options.busyDutyCycle ?? DEFAULT_GC_BUSY_DUTY_CYCLE;
    if (!(this.busyDutyCycle > 0 && this.busyDutyCycle <= 1)) {
      throw new RangeError(`busyDutyCycle must be more than 0 and at most 1, not ${this.busyDutyCycle}`);
    }
    this.onStep = options.onStep;
  }

  async run(options: GcOptions, context: GcContext): Promise<GcResult> {
    const settings = validate(options);
    const { signal } = context;
    signal.throwIfAborted();
    const log = async (line: string) => {
      await context.log(line);
    };
    const result: GcResult = {
      dryRun: settings.dryRun,
      manifestsDeleted: 0,
      blobsDeleted: 0,
      bytesFreed: 0,
      orphanFiles: 0,
      orphanBytes: 0,
      uploadDirs: 0,
      uploadBytes: 0,
      markMs: 0,
      sweepMs: 0,
      pausedMs: 0,
    };
    await log(
      `start to run gc: dry run ${settings.dryRun}, delete untagged ${settings.deleteUntagged}, ` +
        `workers ${settings.workers}, time window ${settings.timeWindowHours} hours`,
    );
    const session = await GcSession.open(this.dataSource);
    // The mark's queries are timed on their own; everything else the run does is the sweep.
    const timed = async <T>(work: Promise<T>): Promise<T> => {
      const started = performance.now();
      try {
        return await work;
      } finally {
        result.markMs += performance.now() - started;
      }
    };
    const runStarted = performance.now();
    try {
      const cutoff = await session.cutoff(settings.timeWindowHours);
      if (!settings.dryRun) {
        const stale = await timed(this.gc.clearStaleMarks());
        if (stale > 0) await log(`took back ${stale} blobs marked by a collection that did not finish`);
      }
      let manifests = 0;
      if (settings.deleteUntagged) {
        manifests = (await timed(session.markManifests(cutoff))).count;
        await log(`${manifests} untagged manifests eligible for deletion`);
        if (!settings.dryRun) result.manifestsDeleted = await this.deleteManifests(session, signal, log);
      }
      // In a real run the untagged manifests are gone by now, and the blobs they alone referenced unreferenced; a dry
      // run counts those blobs by leaving the marked manifests' references out.
      const blobs = await timed(session.markBlobs(cutoff, settings.dryRun && settings.deleteUntagged));
      await log(`${blobs.count} blobs and ${manifests} manifests eligible for deletion`);
      await log(`the GC could free up ${megabytes(blobs.bytes)} MB space, the size is in byte ${blobs.bytes}`);
      if (settings.dryRun) {
        result.manifestsDeleted = manifests;
        result.blobsDeleted = blobs.count;
        result.bytesFreed = blobs.bytes;
      } else {
        await this.sweepBlobs(session, cutoff, settings.workers, blobs.count, result, signal, log);
      }
      await this.reclaimOrphans(cutoff, settings.dryRun, result, signal, log);
      if (result.pausedMs > 0)
        await log(`paused ${seconds(result.pausedMs)} s in all to yield to the registry's traffic`);
      result.sweepMs = performance.now() - runStarted - result.markMs;
      await log(
        `${settings.dryRun ? 'dry run finished, nothing was deleted; it would delete' : 'gc finished, deleted'} ` +
          `${result.manifestsDeleted} manifests, ${result.blobsDeleted} blobs ` +
          `(${megabytes(result.bytesFreed)} MB), ${result.orphanFiles} orphan blob files ` +
          `(${megabytes(result.orphanBytes)} MB) and ${result.uploadDirs} abandoned uploads ` +
          `(${megabytes(result.uploadBytes)} MB)`,
      );
      return result;
    } catch (error) {
      if (signal.aborted) {
        await log(`gc stopped: ${result.manifestsDeleted} manifests and ${result.blobsDeleted} blobs deleted so far`);
      }
      throw error;
    } finally {
      await session.close();
    }
  }

  /**
   * Deletes the marked manifests in rounds: a manifest listed by a marked index still stored waits for a later
   * round, so that an index is always deleted before its children and no index is left listing a deleted child.
   */
  private async deleteManifests(
    session: GcSession,
    signal: AbortSignal,
    log: (line: string) => Promise<void>,
  ): Promise<number> {
    const marked: GcManifest[] = [];
    for (let after = '0'; ;) {
      const page = await session.markedManifests(after, 10_000);
      if (page.length === 0) break;
      marked.push(...page);
      after = page[page.length - 1].id;
    }
    const markedIds = marked.map((m) => m.id);
    let deleted = 0;
    let pending = marked;
    while (pending.length > 0) {
      const waiting: GcManifest[] = [];
      for (const manifest of pending) {
        signal.throwIfAborted();
        if (await this.gc.deleteMarkedManifest(manifest, markedIds, GC_ACTOR)) {
          deleted += 1;
          await log(`delete untagged manifest ${manifest.repository}@${manifest.digest}`);
        } else {
          waiting.push(manifest);
        }
      }
      // A round that deleted nothing leaves the rest kept: tagged or listed again since the mark.
      if (waiting.length === pending.length) break;
      pending = waiting;
    }
    return deleted;
  }

  /** Deletes the marked blobs, `workers` batches at a time, through the three steps of the protocol. */
  private async sweepBlobs(
    session: GcSession,
    cutoff: Date,
    workers: number,
    total: number,
    result: GcResult,
    signal: AbortSignal,
    log: (line: string) => Promise<void>,
  ): Promise<void> {
    let after = '';
    let reading: Promise<GcBlob[]> | undefined;
    // Batches are handed out one at a time from the session's connection, which only one query may use at once.
    const nextBatch = async (): Promise<string[]> => {
      while (reading) await reading;
      reading = session.markedBlobs(after, this.batchSize);
      try {
        const page = await reading;
        if (page.length > 0) after = page[page.length - 1].digest;
        return page.map((b) => b.digest);
      } finally {
        reading = undefined;
      }
    };
    let lastProgress = performance.now();
    const throttle = new SweepThrottle();
    throttle.busy = await this.dataPathBusy();
    const worker = async () => {
      for (;;) {
        signal.throwIfAborted();
        const digests = await nextBatch();
        if (digests.length === 0) return;
        let open = throttle.busy ? await throttle.acquire() : undefined;
        try {
          signal.throwIfAborted();
          const batchStarted = performance.now();
          const deleted = await this.deleteBatch(digests, cutoff, log);
          result.blobsDeleted += deleted.length;
          for (const blob of deleted) result.bytesFreed += blob.size;
          if (performance.now() - lastProgress >= PROGRESS_EVERY_MS) {
            lastProgress = performance.now();
            await log(`deleted ${result.blobsDeleted} of ${total} blobs, ${megabytes(result.bytesFreed)} MB`);
          }
          const workMs = performance.now() - batchStarted;
          throttle.busy = await this.dataPathBusy();
          if (throttle.busy) {
            // The pause holds the gate: no other batch of this collection runs during it.
            open ??= await throttle.acquire();
            result.pausedMs += await this.pause(workMs, signal);
          }
        } finally {
          open?.();
        }
      }
    };
    const started = performance.now();
    const running = Array.from({ length: workers }, worker);
    const outcomes = await Promise.allSettled(running);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
    // Rows a push held at the second step and then let go of without taking them back are still marked.
    await this.gc.clearStaleMarks();
    await log(
      `deleted ${result.blobsDeleted} blobs, ${megabytes(result.bytesFreed)} MB, ` +
        `in ${seconds(performance.now() - started)} s`,
    );
  }

  /** Whether the data path is at work now, so that the sweep should yield to it; never when the duty cycle is 1. */
  private async dataPathBusy(): Promise<boolean> {
    if (this.busyDutyCycle >= 1) return false;
    return this.gc.dataPathBusy(DATA_PATH_APPLICATION_NAMES, DATA_PATH_RECENT_MS);
  }

  /**
   * After a batch that took `workMs` while the data path is at work, pauses for the rest of the duty cycle; resolves
   * to the pause. The data path then gets the CPU, the disk and the database for that long.
   */
  private async pause(workMs: number, signal: AbortSignal): Promise<number> {
    const pauseMs = (workMs * (1 - this.busyDutyCycle)) / this.busyDutyCycle;
    try {
      await sleep(pauseMs, undefined, { signal });
    } catch (error) {
      signal.throwIfAborted();
      throw error;
    }
    return pauseMs;
  }

  /** Steps 1 to 3 for one batch; resolves to the blobs deleted. */
  private async deleteBatch(digests: string[], cutoff: Date, log: (line: string) => Promise<void>): Promise<GcBlob[]> {
    const marked = await this.gc.markForDeletion(digests, cutoff);
    await this.onStep?.('marked', digests);
    // The second step takes only rows the first marked; rows an earlier run left 'deleting' go straight to the third.
    if (marked > 0) await this.gc.beginDeletion(digests);
    await this.onStep?.('deleting', digests);
    return this.gc.finishDeletion(digests, async (blobs) => {
      const kept = await this.deleteBytes(blobs, log);
      await this.onStep?.('bytesDeleted', digests);
      return kept;
    });
  }

  /** Deletes the blobs' files; resolves to the digests whose files could not be deleted (logged). */
  private async deleteBytes(blobs: GcBlob[], log: (line: string) => Promise<void>): Promise<Set<string>> {
    const digestByPath = new Map<string, string>();
    for (const blob of blobs) {
      const parsed = parseDigest(blob.digest);
      if (parsed) digestByPath.set(blobDataPath(parsed), blob.digest);
    }
    const kept = new Set<string>();
    for (const failure of await this.storage.deleteFiles([...digestByPath.keys()])) {
      const digest = digestByPath.get(failure.path);
      if (digest === undefined) continue;
      kept.add(digest);
      await log(`could not delete blob ${digest}, kept for a later run: ${failure.reason}`);
    }
    return kept;
  }

  /**
   * Blob files with no row and upload files with no session, older than the time window: counted, and in a real
   * run deleted (an orphan blob through step 3 of the protocol).
   */
  private async reclaimOrphans(
    cutoff: Date,
    dryRun: boolean,
    result: GcResult,
    signal: AbortSignal,
    log: (line: string) => Promise<void>,
  ): Promise<void> {
    const started = performance.now();
    // Files are matched with rows by name first: only those with no row are looked at (their age and size).
    let batch: Array<ListedFile & { digest: string }> = [];
    const flush = async () => {
      const known = await this.gc.existingBlobs(batch.map((file) => file.digest));
      const unknown = batch.filter((file) => !known.has(file.digest));
      batch = [];
      const orphans: GcBlob[] = [];
      // Looked at only where the listing did not say (a filesystem's), several at once.
      await eachLimited(unknown, STATS_AT_ONCE, async (file) => {
        const info =
          file.size !== undefined && file.modTime !== undefined
            ? { size: file.size, modTime: file.modTime }
            : await this.storage.stat(file.path);
        if (info && info.modTime < cutoff) orphans.push({ digest: file.digest, size: info.size });
      });
      if (orphans.length === 0) return;
      if (dryRun) {
        result.orphanFiles += orphans.length;
        for (const orphan of orphans) result.orphanBytes += orphan.size;
        return;
      }
      const adopted = new Set(await this.gc.adoptOrphans(orphans));
      const sizes = new Map(orphans.map((o) => [o.digest, o.size]));
      for (let i = 0; i < adopted.size; i += this.batchSize) {
        const digests = [...adopted].slice(i, i + this.batchSize);
        const deleted = await this.gc.finishDeletion(digests, (blobs) => this.deleteBytes(blobs, log));
        result.orphanFiles += deleted.length;
        for (const blob of deleted) result.orphanBytes += sizes.get(blob.digest) ?? blob.size;
      }
    };
    for await (const file of this.storage.listFiles('blobs')) {
      signal.throwIfAborted();
      const digest = digestOfBlobPath(file.path);
      if (digest === null) continue;
      batch.push({ ...file, digest });
      if (batch.length >= WALK_BATCH) await flush();
    }
    await flush();
    await log(
      `${result.orphanFiles} blob files with no record (${megabytes(result.orphanBytes)} MB), ` +
        `storage walked in ${seconds(performance.now() - started)} s`,
    );
    await this.reclaimUploads(cutoff, dryRun, result, signal);
    await log(`${result.uploadDirs} uploads with no session (${megabytes(result.uploadBytes)} MB)`);
  }

  /** Upload files (or an earlier version's upload folders) that no session names and nothing wrote within the window. */
  private async reclaimUploads(cutoff: Date, dryRun: boolean, result: GcResult, signal: AbortSignal): Promise<void> {
    const uploads = new Map<string, FileInfo[]>();
    for await (const file of this.storage.walk('uploads')) {
      signal.throwIfAborted();
      const id = file.path.split('/')[1];
      if (!isUploadId(id)) continue;
      const files = uploads.get(id);
      if (files) files.push(file);
      else uploads.set(id, [file]);
    }
    const ids = [...uploads.keys()];
    for (let i = 0; i < ids.length; i += WALK_BATCH) {
      signal.throwIfAborted();
      const page = ids.slice(i, i + WALK_BATCH);
      const live = await this.gc.existingUploads(page);
      for (const id of page) {
        const files = uploads.get(id)!;
        if (live.has(id) || files.some((f) => f.modTime >= cutoff)) continue;
        if (!dryRun) await this.storage.delete(`uploads/${id}`);
        result.uploadDirs += 1;
        for (const file of files) result.uploadBytes += file.size;
      }
    }
  }
}
