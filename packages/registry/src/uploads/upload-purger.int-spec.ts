import { randomUUID } from 'node:crypto';
import { access, mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { OciErrorCode } from '@wharf/oci';
import { FilesystemDriver } from '@wharf/storage';
import { stopWaitsForHeldWork } from '../testing/schedules.js';
import { startTestRegistry, type TestRegistry } from '../testing/test-registry.js';
import { BlobStore, uploadDataPath } from './blob-store.js';
import { purgeUploads, scheduleUploadPurge } from './upload-purger.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const REPO = 'library/app';

async function* chunks(...parts: string[]): AsyncIterable<Buffer> {
  for (const part of parts) yield Buffer.from(part);
  await Promise.resolve();
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

describe('purgeUploads (PostgreSQL + filesystem storage)', () => {
  let reg: TestRegistry;
  let storage: FilesystemDriver;
  let blobs: BlobStore;
  const options = { ageMs: DAY, dryRun: false };

  /** An upload's data file, or (for sessions of earlier versions) the folder holding its `data`. */
  const uploadFolder = (id: string) => join(reg.storageRoot, 'uploads', id);

  /** A chunked upload that received some bytes, as a client that went away would leave it. */
  async function startedUpload(content = 'partial layer bytes'): Promise<string> {
    const session = await blobs.startUpload(REPO);
    await blobs.append(REPO, session.id, chunks(content), {});
    return session.id;
  }

  async function lastTouched(id: string, ago: number): Promise<void> {
    await reg.dataSource.query(`UPDATE registry_upload SET updated_at = $2 WHERE id = $1`, [
      id,
      new Date(Date.now() - ago),
    ]);
  }

  async function uploadState(id: string): Promise<{ row: boolean; bytes: number | null }> {
    const row = await reg.repository.getUpload(id, REPO);
    const info = await storage.stat(uploadDataPath(id));
    return { row: row !== null, bytes: info?.size ?? null };
  }

  /** Upload data in storage with no session row, last written `ago` milliseconds before now. */
  async function orphanFolder(ago: number, id: string = randomUUID()): Promise<string> {
    await storage.putContent(uploadDataPath(id), Buffer.from('left behind'));
    const when = new Date(Date.now() - ago);
    await utimes(uploadFolder(id), when, when);
    return id;
  }

  beforeAll(async () => {
    reg = await startTestRegistry();
    storage = new FilesystemDriver(reg.storageRoot);
    blobs = new BlobStore(storage, reg.repository, () => Promise.resolve());
  });

  afterAll(async () => {
    await reg?.close();
  });

  beforeEach(async () => {
    await reg.dataSource.query(`DELETE FROM registry_upload`);
    await rm(join(reg.storageRoot, 'uploads'), { recursive: true, force: true });
  });

  it('finds nothing to do when storage has no uploads folder yet', async () => {
    await expect(purgeUploads(reg.repository, storage, options)).resolves.toEqual({ sessions: [], orphans: [] });
  });

  it('removes an abandoned session: its row and its bytes', async () => {
    const id = await startedUpload();
    expect(await uploadState(id)).toEqual({ row: true, bytes: 19 });
    await lastTouched(id, 2 * DAY);

    const result = await purgeUploads(reg.repository, storage, options);

    expect(result).toEqual({ sessions: [id], orphans: [] });
    expect(await uploadState(id)).toEqual({ row: false, bytes: null });
    expect(await exists(uploadFolder(id))).toBe(false);
    await expect(blobs.status(REPO, id)).rejects.toMatchObject({ code: OciErrorCode.BLOB_UPLOAD_UNKNOWN });
  });

  it('keeps a session touched within the age limit, and the client can continue it', async () => {
    const old = await startedUpload();
    await lastTouched(old, 2 * DAY);
    const fresh = await startedUpload('abc');
    await lastTouched(fresh, 23 * HOUR);

    const result = await purgeUploads(reg.repository, storage, options);

    expect(result.sessions).toEqual([old]);
    expect(await uploadState(fresh)).toEqual({ row: true, bytes: 3 });
    await blobs.append(REPO, fresh, chunks('def'), { start: 3 });
    expect((await blobs.status(REPO, fresh)).size).toBe(6);
  });

  it('measures age from the given instant', async () => {
    const id = await startedUpload();

    expect((await purgeUploads(reg.repository, storage, options)).sessions).toEqual([]);
    expect((await purgeUploads(reg.repository, storage, options, new Date(Date.now() + 2 * DAY))).sessions).toEqual([
      id,
    ]);
    expect(await uploadState(id)).toEqual({ row: false, bytes: null });
  });

  it('in a dry run reports abandoned sessions and orphans but removes nothing', async () => {
    const session = await startedUpload();
    await lastTouched(session, 2 * DAY);
    const orphan = await orphanFolder(2 * DAY);

    const result = await purgeUploads(reg.repository, storage, { ...options, dryRun: true });

    expect(result).toEqual({ sessions: [session], orphans: [orphan] });
    expect(await uploadState(session)).toEqual({ row: true, bytes: 19 });
    expect(await exists(uploadFolder(orphan))).toBe(true);

    // The same state is then purged for real, so the dry run reported exactly what would go.
    expect(await purgeUploads(reg.repository, storage, options)).toEqual(result);
  });

  it('never purges a session while a request holds its write lease, however old it is', async () => {
    const id = await startedUpload();
    const writer = randomUUID();
    expect(await reg.repository.acquireUpload(id, REPO, writer, 10 * 60_000)).not.toBeNull();
    await lastTouched(id, 30 * DAY);

    const result = await purgeUploads(reg.repository, storage, options);

    expect(result.sessions).toEqual([]);
    // The folder has a row, so it is not an orphan either.
    expect(result.orphans).toEqual([]);
    expect(await uploadState(id)).toEqual({ row: true, bytes: 19 });

    // Once the lease has run out (the request died), the session is abandoned like any other.
    await reg.dataSource.query(`UPDATE registry_upload SET lease_until = now() - interval '1 second' WHERE id = $1`, [
      id,
    ]);
    expect((await purgeUploads(reg.repository, storage, options)).sessions).toEqual([id]);
    expect(await uploadState(id)).toEqual({ row: false, bytes: null });
  });

  it('removes upload folders without a session once they are older than the age limit', async () => {
    const old = await orphanFolder(2 * DAY);
    const young = await orphanFolder(HOUR);

    const result = await purgeUploads(reg.repository, storage, options);

    expect(result).toEqual({ sessions: [], orphans: [old] });
    expect(await exists(uploadFolder(old))).toBe(false);
    expect(await exists(uploadFolder(young))).toBe(true);
  });

  it('removes an orphan in the folder layout of earlier versions (uploads/<id>/data) the same way', async () => {
    const [old, young] = [randomUUID(), randomUUID()];
    for (const [id, ago] of [
      [old, 2 * DAY],
      [young, HOUR],
    ] as const) {
      await storage.putContent(`uploads/${id}/data`, Buffer.from('left behind'));
      const when = new Date(Date.now() - ago);
      await utimes(join(uploadFolder(id), 'data'), when, when);
    }

    expect(await purgeUploads(reg.repository, storage, options)).toEqual({ sessions: [], orphans: [old] });
    expect(await exists(uploadFolder(old))).toBe(false);
    expect(await exists(join(uploadFolder(young), 'data'))).toBe(true);
  });

  it('leaves alone folders in the uploads area that are not upload ids', async () => {
    await storage.putContent('uploads/not-an-upload/data', Buffer.from('x'));
    const when = new Date(Date.now() - 30 * DAY);
    await utimes(join(reg.storageRoot, 'uploads', 'not-an-upload', 'data'), when, when);

    expect((await purgeUploads(reg.repository, storage, options)).orphans).toEqual([]);
    expect(await exists(join(reg.storageRoot, 'uploads', 'not-an-upload', 'data'))).toBe(true);
  });

  // While a new session's empty data file is being written (temporary file, then rename), its folder holds
  // no `data` yet; removing it then makes the client's POST fail.
  it('keeps a young upload folder whose data file is still being created', async () => {
    const id = randomUUID();
    await mkdir(uploadFolder(id), { recursive: true });
    await writeFile(join(uploadFolder(id), '.wharf-tmp-0123456789abcdef'), '');

    const result = await purgeUploads(reg.repository, storage, options);

    expect(result.orphans).toEqual([]);
    expect(await exists(uploadFolder(id))).toBe(true);
  });

  it('keeps a session alive while its client checks on it, but not for requests under another name', async () => {
    const id = await startedUpload();
    await lastTouched(id, 2 * DAY);
    await expect(blobs.status('other/repo', id)).rejects.toMatchObject({ code: OciErrorCode.BLOB_UPLOAD_UNKNOWN });
    const stale = await purgeUploads(reg.repository, storage, { ...options, dryRun: true });
    expect(stale.sessions).toEqual([id]);

    expect((await blobs.status(REPO, id)).size).toBe(19);
    expect((await purgeUploads(reg.repository, storage, options)).sessions).toEqual([]);
    expect(await uploadState(id)).toEqual({ row: true, bytes: 19 });
  });

  it('stops its schedule only once a purge that is running has ended', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let purges = 0;
    // The real repository, with the purge's first query held until the test lets it go.
    const holding = new Proxy(reg.repository, {
      get(target, property, receiver) {
        if (property !== 'staleUploads') return Reflect.get(target, property, receiver) as unknown;
        return async (...args: Parameters<typeof target.staleUploads>) => {
          purges += 1;
          await held;
          return target.staleUploads(...args);
        };
      },
    });
    const log = { info: () => undefined, error: () => undefined };
    const stop = scheduleUploadPurge(holding, storage, { ...options, intervalMs: 10 }, log);
    while (purges === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await stopWaitsForHeldWork(stop, release)).toBe(true);
    expect(purges).toBe(1);
  });
});
