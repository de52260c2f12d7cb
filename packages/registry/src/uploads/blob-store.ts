import { randomUUID } from 'node:crypto';
import {
  BlobGoneError,
  type EnsureStored,
  type RegistryRepository,
  type UploadLeaseHolder,
  type UploadSession,
  UploadBusyError,
} from '@wharf/db';
import { type DigestAlgorithm, OciError, OciErrorCode, type ParsedDigest, requireDigest } from '@wharf/oci';
import { type FileInfo, type FileWriter, type StorageDriver } from '@wharf/storage';
import { type BlobCommitContext } from '../types.js';
import { type HashingThread, processHashingThread } from './hashing-thread.js';
import { receive } from './receive.js';
import { UploadHash } from './upload-hash.js';

export function blobDataPath(digest: ParsedDigest): string {
  return `blobs/${digest.algorithm}/${digest.encoded.slice(0, 2)}/${digest.encoded}`;
}

/**
 * Largest blob received whole whose database link runs while its bytes are synced (see linkBlobOnceDurable): the
 * link's transaction holds a pooled connection until the syncs end, which on local filesystem storage and for a blob
 * this small is a few ms. Storage whose writes go over the network (S3) links after them.
 */
const OVERLAPPED_LINK_MAX_BYTES = 4 * 1024 * 1024;
/**
 * Links held open across syncs at once, per blob store: more pushes link after their syncs, leaving the pool be. A
 * quarter of the database connections at most, so that every other query keeps most of the pool; with fewer than
 * four connections, no link is held.
 */
const MAX_OVERLAPPED_LINKS = 4;

function overlappedLinkLimit(connections: number): number {
  return Math.min(MAX_OVERLAPPED_LINKS, Math.floor(connections / 4));
}

/**
 * An upload's bytes: one file per upload. Sessions opened by earlier versions keep the `uploads/<id>/data` path
 * they recorded; deleting this path removes either (a file, or such a folder).
 */
export function uploadDataPath(id: string): string {
  return `uploads/${id}`;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUploadId(value: string): boolean {
  return UUID_RE.test(value);
}

export interface BlobStoreOptions {
  /** How long a request may hold an upload's write lease before another may take it over. */
  leaseMs?: number;
  /**
   * Names this process in the leases it takes, so that another process takes over at once a lease whose process has
   * died. Without it a lease held by a dead process blocks its upload until it expires.
   */
  leaseHolder?: UploadLeaseHolder;
  /** Hash states kept in memory so that chunk after chunk is hashed once; a miss re-reads the upload. */
  maxCachedHashStates?: number;
  /** The thread that hashes upload bytes (default: one shared by every blob store of the process). */
  hashingThread?: HashingThread;
}

/** Byte limits a request declared for the data it carries (Content-Range / Content-Length). */
export interface ChunkExpectation {
  start?: number;
  length?: number;
}

/** An upload file of a single request (see BlobStore.privateUpload). */
interface PrivateUpload {
  path: string;
  writer: Promise<FileWriter>;
}

/** The session a PUT with a body completes, looked up while that body is being received (see storeWhole). */
interface SessionCompletion {
  /**
   * The session; rejects with BLOB_UPLOAD_UNKNOWN when there is none, or with the refusal of a body that cannot
   * complete it. A rejection while the body is still arriving stops receiving it: the refusal is answered at once.
   */
  session: Promise<UploadSession>;
  /** Completes a session that holds bytes already, with the body received at `path` (`size` bytes) as its last chunk. */
  appendLastChunk(path: string, size: number): Promise<number>;
}

interface HashState {
  hash: UploadHash;
  size: number;
}

function uploadUnknown(id: string): OciError {
  return new OciError(OciErrorCode.BLOB_UPLOAD_UNKNOWN, 'upload session not found', { uuid: id });
}

function digestMismatch(expected: string, actual: string): OciError {
  return new OciError(OciErrorCode.DIGEST_INVALID, `content digest ${actual} does not match ${expected}`, {
    expected,
    actual,
  });
}

/** A policy's refusal, kept as a value: a policy asked while the bytes sync must not reject while nobody listens. */
interface Refusal {
  error: unknown;
}

function refusalOf(check: Promise<void>): Promise<Refusal | null> {
  return check.then(
    () => null,
    (error: unknown) => ({ error }),
  );
}

/** The request's lease on the upload was lost while it wrote: taken over by another, or its process's hold lost. */
function leaseLost(id: string): OciError {
  return new OciError(
    OciErrorCode.BLOB_UPLOAD_INVALID,
    "this request lost the upload's lease; ask for the upload's status and resume from there",
    { uuid: id },
    416,
  );
}

/** A lease taken: the session, and the signal that tells writes under it to stop (see LeaseHold.signal). */
interface Lease {
  session: UploadSession;
  signal?: AbortSignal;
}

/** Garbage collection deleted the blob while its upload was being linked, and its bytes were already given up. */
function blobGone(error: BlobGoneError): OciError {
  return new OciError(OciErrorCode.BLOB_UPLOAD_UNKNOWN, `${error.message}; upload it again`, { digest: error.digest });
}

/**
 * The check a link runs, holding the blob's row lock, when garbage collection may have deleted the blob's bytes
 * before the link took the blob back: the bytes at the blob's path, or else the upload's own copy put there, if the
 * upload still has it (it gave its bytes up when it moved them in).
 */
function ensureStoredFrom(
  driver: StorageDriver,
  digest: ParsedDigest,
  size: number,
  upload: { path: string; moved: () => boolean; markMoved: () => void },
): EnsureStored {
  return async () => {
    const found = await driver.stat(blobDataPath(digest));
    if (found && found.size === size) return true;
    if (upload.moved()) return false;
    await driver.move(upload.path, blobDataPath(digest));
    upload.markMoved();
    return true;
  };
}

async function linkOrRetry(link: Promise<unknown>): Promise<void> {
  try {
    await link;
  } catch (error) {
    if (error instanceof BlobGoneError) throw blobGone(error);
    throw error;
  }
}

function rangeMismatch(expected: number, got: number): OciError {
  return new OciError(
    OciErrorCode.BLOB_UPLOAD_INVALID,
    `chunk starts at ${got} but the upload holds ${expected} bytes`,
    { expected, got },
    416,
  );
}

/**
 * Blob bytes and upload sessions. Bytes are hashed while they stream to storage; a session lives in PostgreSQL
 * (its size and a write lease) and storage (its bytes), so any process can continue it after a restart.
 */
export class BlobStore {
  private readonly hashStates = new Map<string, HashState>();
  private readonly leaseMs: number;
  private readonly leaseHolder: UploadLeaseHolder | undefined;
  private readonly maxCachedHashStates: number;
  private readonly hashingThread: HashingThread;
  /** Small blobs' links now held open across their syncs, and how many may be. */
  private overlappedLinks = 0;
  private readonly maxOverlappedLinks: number;

  constructor(
    readonly driver: StorageDriver,
    private readonly repository: RegistryRepository,
    private readonly beforeCommit: (context: BlobCommitContext) => Promise<void>,
    options: BlobStoreOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? 60_000;
    this.leaseHolder = options.leaseHolder;
    this.maxCachedHashStates = options.maxCachedHashStates ?? 1024;
    this.hashingThread = options.hashingThread ?? processHashingThread();
    this.maxOverlappedLinks = overlappedLinkLimit(repository.connectionLimit);
  }

  async startUpload(name: string): Promise<UploadSession> {
    const id = randomUUID();
    // The data object is created by the first write: opening a session costs one row, no storage I/O.
    return this.repository.createUpload(id, name, uploadDataPath(id));
  }

  /**
   * The session as a client resumes it. Storage may hold more than the database recorded (a writer that died
   * mid-chunk): what it holds is made durable, recorded, then reported, so that the next chunk continues from there.
   * While a live request writes to the session, what was recorded before it began is reported.
   */
  async status(name: string, id: string): Promise<UploadSession> {
    if (!isUploadId(id)) throw uploadUnknown(id);
    const owner = randomUUID();
    let session: UploadSession | undefined;
    try {
      ({ session } = await this.takeLease(name, id, owner));
    } catch (error) {
      if (!(error instanceof UploadBusyError)) throw error;
      const current = await this.repository.getUpload(id, name);
      if (!current) throw uploadUnknown(id);
      return current;
    }
    if (!session) throw uploadUnknown(id);
    let size = session.size;
    try {
      size = await this.durableSize(session);
    } finally {
      await this.repository.releaseUpload(id, owner, size);
    }
    return { ...session, size };
  }

  /** How many bytes storage holds for a session, made durable first when that is more than the session recorded. */
  private async durableSize(session: UploadSession): Promise<number> {
    const info = await this.driver.stat(session.path);
    if (!info) return 0;
    if (info.size <= session.size) return info.size;
    const writer = await this.driver.writer(session.path, true);
    // Nothing is written: committing only syncs what is there.
    await writer.commit();
    return writer.size;
  }

  async cancel(name: string, id: string): Promise<void> {
    if (!isUploadId(id)) throw uploadUnknown(id);
    const owner = randomUUID();
    const { session } = await this.acquire(name, id, owner);
    this.forgetHash(id);
    try {
      await this.driver.delete(uploadDataPath(id));
    } catch (error) {
      await this.repository.releaseUpload(id, owner, session.size);
      throw error;
    }
    await this.repository.deleteUpload(session.id);
  }

  /** Appends one chunk (PATCH). Returns the session with its new size. */
  async append(
    name: string,
    id: string,
    body: AsyncIterable<Buffer>,
    expect: ChunkExpectation,
  ): Promise<UploadSession> {
    return this.withSession(name, id, async (session, writer, hash, signal) => {
      if (expect.start !== undefined && expect.start !== writer.size) throw rangeMismatch(writer.size, expect.start);
      await this.pump(body, writer, hash, false, expect.length, signal);
      return { ...session, size: writer.size };
    });
  }

  /** Completes an upload (PUT), with or without a final chunk, and verifies the digest. */
  async complete(
    name: string,
    id: string,
    digest: ParsedDigest,
    body: AsyncIterable<Buffer> | undefined,
    expect: ChunkExpectation,
    actor?: string,
  ): Promise<number> {
    if (body && (expect.start === undefined || expect.start === 0)) {
      return this.wholeInOneRequest(name, id, digest, body, expect, actor);
    }
    return this.completeSession(name, id, digest, body, expect, actor);
  }

  /** Completes an upload through its session: under its lease, appending the final chunk (if any) to its bytes. */
  private async completeSession(
    name: string,
    id: string,
    digest: ParsedDigest,
    body: AsyncIterable<Buffer> | undefined,
    expect: ChunkExpectation,
    actor?: string,
  ): Promise<number> {
    const owner = randomUUID();
    const { session, signal } = await this.acquire(name, id, owner);
    const stopRenewing = this.keepLease(id, owner);
    let writer: FileWriter | undefined;
    let hash: UploadHash | undefined;
    // Once committed (or cancelled) the object takes no more bytes: the session is over whatever happens next.
    let sessionOver = false;
    try {
      writer = await this.openWriter(session);
      hash = await this.hashState(session, writer.size);
      if (body) {
        if (expect.start !== undefined && expect.start !== writer.size) throw rangeMismatch(writer.size, expect.start);
        await this.pump(body, writer, hash, digest.algorithm === hash.algorithm, expect.length, signal);
      }
      // The lease may be another request's by now: the bytes are not made the blob's.
      signal?.throwIfAborted();
      const size = writer.size;
      const context = { repository: name, digest: digest.digest, size, actor };
      let policy: Promise<Refusal | null> | undefined;
      if (digest.algorithm === hash.algorithm) {
        // Every byte has been hashed: a wrong digest is refused before anything is synced, and the policies are
        // asked while the bytes are.
        const actual = await hash.digest();
        if (actual !== digest.digest) {
          sessionOver = true;
          await writer.cancel();
          throw digestMismatch(digest.digest, actual);
        }
        policy = refusalOf(this.beforeCommit(context));
      }
      // Whether the blob is stored already is asked while the bytes are being synced too.
      const stored = this.driver.stat(blobDataPath(digest)).catch(() => null);
      sessionOver = true;
      await writer.commit();
      if (policy === undefined) {
        // Hashed as sha256 while receiving, asked for another algorithm: the stored bytes are read again.
        const actual = await (await this.rehash(session.path, size, digest.algorithm, true)).digest();
        if (actual !== digest.digest) throw digestMismatch(digest.digest, actual);
        policy = refusalOf(this.beforeCommit(context));
      }
      const refusal = await policy;
      if (refusal) throw refusal.error;
      let moved = await this.storeBlob(session.path, digest, size, await stored);
      const ensureStored = ensureStoredFrom(this.driver, digest, size, {
        path: session.path,
        moved: () => moved,
        markMoved: () => (moved = true),
      });
      await linkOrRetry(this.repository.linkBlob(name, digest.digest, size, id, ensureStored));
      // Whatever is left (a second copy of stored bytes, or an earlier version's emptied folder) need not hold up the
      // response; the upload purge removes anything this misses.
      if (!moved || session.path !== uploadDataPath(id))
        void this.driver.delete(uploadDataPath(id)).catch(() => undefined);
      return size;
    } catch (error) {
      if (!sessionOver) {
        await this.abandonWrite(session, owner, writer);
        if (signal?.aborted) throw leaseLost(id);
      } else {
        // The client starts the upload again rather than meeting a lease nobody will release.
        await this.discard(session).catch(() => undefined);
      }
      throw error;
    } finally {
      // Ended by its digest, or of no further use: the session starts again or re-reads its bytes.
      hash?.dispose();
      stopRenewing();
    }
  }

  /**
   * A PUT that brings a body with no range, or one starting at 0. When its session holds no bytes yet (POST, then PUT
   * with the whole blob: how small blobs are pushed), the blob is stored as a monolithic upload is: at a private path,
   * with no write lease to take and renew, since no other request can write there. The session is looked up while
   * the body is being received, so that the lookup does not hold the body up. A session that does hold bytes (an
   * earlier PATCH) is then completed the usual way, with the received body as its last chunk.
   */
  private async wholeInOneRequest(
    name: string,
    id: string,
    digest: ParsedDigest,
    body: AsyncIterable<Buffer>,
    expect: ChunkExpectation,
    actor: string | undefined,
  ): Promise<number> {
    if (!isUploadId(id)) throw uploadUnknown(id);
    const session = this.repository.getUpload(id, name).then((found) => {
      if (!found) throw uploadUnknown(id);
      // A hash kept from an empty chunk would never be used again.
      if (found.size === 0) this.forgetHash(id);
      // A range from 0 cannot be the last chunk of a session that holds bytes (refused as completeSession would).
      else if (expect.start === 0) throw rangeMismatch(found.size, 0);
      return found;
    });
    // Awaited by storeWhole once the body has arrived whole; not at all when receiving it failed.
    session.catch(() => undefined);
    return this.storeWhole(name, digest, body, expect.length, actor, this.privateUpload(), {
      session,
      appendLastChunk: async (path, size) => {
        const chunk = await this.driver.reader(path, 0, size);
        try {
          return await this.completeSession(name, id, digest, chunk, { start: expect.start, length: size }, actor);
        } finally {
          // Read to its end by now, or left unread by a refusal (a wrong range, a busy session): closed either way.
          chunk.destroy();
        }
      },
    });
  }

  /**
   * Links a blob another repository holds (a cross-repository mount), under the same policy checks as a push. False
   * when garbage collection deleted the blob after it was found: nothing is linked, and the client uploads it.
   */
  async mount(name: string, digest: string, size: number, actor?: string): Promise<boolean> {
    await this.beforeCommit({ repository: name, digest, size, actor });
    const path = blobDataPath(requireDigest(digest));
    try {
      await this.repository.linkBlob(name, digest, size, undefined, async () => {
        const found = await this.driver.stat(path);
        return found !== null && found.size === size;
      });
      return true;
    } catch (error) {
      if (error instanceof BlobGoneError) return false;
      throw error;
    }
  }

  /** A monolithic upload (POST ?digest=): no session row, the bytes go to a private upload path. */
  async putMonolithic(
    name: string,
    digest: ParsedDigest,
    body: AsyncIterable<Buffer>,
    length: number | undefined,
    actor?: string,
  ): Promise<number> {
    return this.storeWhole(name, digest, body, length, actor, this.privateUpload());
  }

  /** A new upload file no session knows of, for a blob received whole in one request; its writer is being opened. */
  private privateUpload(): PrivateUpload {
    const path = uploadDataPath(randomUUID());
    // Never resumed: any failure discards it, so its bytes may reach storage in any order.
    return { path, writer: this.driver.writer(path, false, { inOrder: false }) };
  }

  /**
   * Stores a whole blob received in one request at a private upload path, and links it. With `completion`, the blob
   * completes that session: its row goes with the link, and once the body has been received whole, a failure (a
   * wrong digest, a refusal) ends the session as a failed completion does. A body that breaks off leaves the
   * session as it was. A session that turns out to hold bytes already is completed by `completion` instead, with
   * the received body as its last chunk.
   */
  private async storeWhole(
    name: string,
    digest: ParsedDigest,
    body: AsyncIterable<Buffer>,
    length: number | undefined,
    actor: string | undefined,
    target: PrivateUpload,
    completion?: SessionCompletion,
  ): Promise<number> {
    const { path } = target;
    // The writer is done with: committed, or closed for the bytes to be read back.
    let finished = false;
    let moved = false;
    let received: number | undefined;
    let session: UploadSession | undefined;
    // A session found unknown (or unfit) while the body arrives is answered without receiving the rest.
    const refused = new AbortController();
    completion?.session.catch((error: unknown) => refused.abort(error));
    try {
      const writer = await target.writer;
      const hash = new UploadHash(digest.algorithm, this.hashingThread);
      let policy: Promise<Refusal | null>;
      let stored: Promise<FileInfo | null>;
      try {
        const bytes = await receive(body, { writer, hash, whole: true, limit: length, signal: refused.signal });
        if (length !== undefined && bytes !== length) {
          throw new OciError(OciErrorCode.SIZE_INVALID, `received ${bytes} bytes, Content-Length said ${length}`);
        }
        if (completion) {
          session = await completion.session;
          if (session.size > 0) {
            // Not a whole blob after all: the body is the session's last chunk, read back from here.
            await writer.close();
            finished = true;
            return await completion.appendLastChunk(path, bytes);
          }
        }
        received = bytes;
        const actual = await hash.digest();
        if (actual !== digest.digest) throw digestMismatch(digest.digest, actual);
        // The policies, and whether the blob is stored already, are asked while the bytes are being synced.
        policy = refusalOf(this.beforeCommit({ repository: name, digest: digest.digest, size: bytes, actor }));
        stored = this.driver.stat(blobDataPath(digest)).catch(() => null);
        if (
          bytes <= OVERLAPPED_LINK_MAX_BYTES &&
          this.driver.name === 'filesystem' &&
          this.overlappedLinks < this.maxOverlappedLinks
        ) {
          // A small blob's syncs are short: its link runs meanwhile, in a transaction that commits once they are done.
          // Its place among the held links is taken at once, so that pushes checking together cannot exceed them.
          this.overlappedLinks += 1;
          try {
            const allowed = policy.then((refusal) => {
              if (refusal) throw refusal.error;
            });
            const durable = (async () => {
              await writer.commit();
              finished = true;
              await allowed;
              moved = await this.storeBlob(path, digest, bytes, await stored);
            })();
            // Its failure is thrown below, once the link has rolled back.
            durable.catch(() => undefined);
            try {
              // The policies may ask the database: they are answered before the link takes a connection to hold
              // across the syncs, so links waiting on syncs can never hold every connection a policy waits for.
              await allowed;
            } catch (error) {
              await durable.catch(() => undefined);
              throw error;
            }
            await linkOrRetry(
              this.repository.linkBlobOnceDurable(
                name,
                digest.digest,
                bytes,
                session?.id,
                durable,
                ensureStoredFrom(this.driver, digest, bytes, {
                  path,
                  moved: () => moved,
                  markMoved: () => (moved = true),
                }),
              ),
            );
          } finally {
            this.overlappedLinks -= 1;
          }
          return bytes;
        }
        await writer.commit();
        finished = true;
      } finally {
        // An aborted, oversized or wrong body must not leave the writer (its descriptor and buffers) open.
        if (!finished) await writer.cancel().catch(() => undefined);
        hash.dispose();
      }
      const refusal = await policy;
      if (refusal) throw refusal.error;
      moved = await this.storeBlob(path, digest, received, await stored);
      await linkOrRetry(
        this.repository.linkBlob(
          name,
          digest.digest,
          received,
          session?.id,
          ensureStoredFrom(this.driver, digest, received, {
            path,
            moved: () => moved,
            markMoved: () => (moved = true),
          }),
        ),
      );
      return received;
    } catch (error) {
      // The whole body arrived and was refused or could not be stored: the session is over, as after any failed
      // completion, and the client starts the upload again.
      if (session && received !== undefined) await this.discard(session).catch(() => undefined);
      throw error;
    } finally {
      if (!moved) await this.driver.delete(path).catch(() => undefined);
    }
  }

  /** Opens the session's data for appending; a session with no recorded bytes starts a new object. */
  private async openWriter(session: UploadSession): Promise<FileWriter> {
    // A session that recorded no bytes starts a new object. Whatever storage may hold for it was never acknowledged
    // (every answer that reports bytes — a PATCH, a status request — records them first), so nothing is lost.
    if (session.size === 0) return this.driver.writer(session.path, false);
    return this.driver.writer(session.path, true);
  }

  /**
   * Puts committed upload bytes under their digest; true when they were moved there. The bytes are stored once: a
   * second copy stays where it is, for the caller to delete. `existing` is what a stat of the target found (asked
   * while the upload was being synced).
   */
  private async storeBlob(
    uploadPath: string,
    digest: ParsedDigest,
    size: number,
    existing: FileInfo | null,
  ): Promise<boolean> {
    if (existing && existing.size === size) {
      // Put there by another push, whose move may still be making it durable: made so before this one links it.
      await this.driver.ensureDurable?.(blobDataPath(digest));
      return false;
    }
    await this.driver.move(uploadPath, blobDataPath(digest));
    return true;
  }

  /**
   * Takes the session's lease under this process's hold (session null when there is no such session); UploadBusyError
   * while another request holds it.
   */
  private async takeLease(name: string, id: string, owner: string): Promise<Partial<Lease>> {
    const hold = await this.leaseHolder?.current();
    const session = await this.repository.acquireUpload(id, name, owner, this.leaseMs, hold?.key);
    return session ? { session, signal: hold?.signal } : {};
  }

  private async acquire(name: string, id: string, owner: string): Promise<Lease> {
    if (!isUploadId(id)) throw uploadUnknown(id);
    try {
      const { session, signal } = await this.takeLease(name, id, owner);
      if (!session) throw uploadUnknown(id);
      return { session, signal };
    } catch (error) {
      if (error instanceof UploadBusyError) {
        throw new OciError(
          OciErrorCode.BLOB_UPLOAD_INVALID,
          'another request is writing to this upload; retry when it has finished',
          { uuid: id },
          416,
        );
      }
      throw error;
    }
  }

  private async withSession<T>(
    name: string,
    id: string,
    work: (session: UploadSession, writer: FileWriter, hash: UploadHash, signal?: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const owner = randomUUID();
    const { session, signal } = await this.acquire(name, id, owner);
    const stopRenewing = this.keepLease(id, owner);
    let writer: FileWriter | undefined;
    let hash: UploadHash | undefined;
    try {
      writer = await this.openWriter(session);
      hash = await this.hashState(session, writer.size);
      const result = await work(session, writer, hash, signal);
      await writer.close();
      this.remember(id, hash, writer.size);
      stopRenewing();
      if (!(await this.repository.releaseUpload(id, owner, writer.size))) throw leaseLost(id);
      return result;
    } catch (error) {
      stopRenewing();
      hash?.dispose();
      await this.abandonWrite(session, owner, writer);
      throw signal?.aborted ? leaseLost(id) : error;
    }
  }

  /** After a failed write, keep what reached storage (the client asks for the range and resumes) and free the lease. */
  private async abandonWrite(session: UploadSession, owner: string, writer: FileWriter | undefined): Promise<void> {
    this.forgetHash(session.id);
    try {
      await writer?.close();
    } catch {
      // The stat below tells what storage holds whether or not the flush worked.
    }
    const info = await this.driver.stat(session.path).catch(() => null);
    await this.repository.releaseUpload(session.id, owner, info?.size ?? session.size).catch(() => undefined);
  }

  private async discard(session: UploadSession): Promise<void> {
    this.forgetHash(session.id);
    await this.driver.delete(uploadDataPath(session.id));
    await this.repository.deleteUpload(session.id);
  }

  /** The session's hash, taken out of the cache for the request; a miss (or a hash that broke) re-reads the upload. */
  private async hashState(session: UploadSession, storedSize: number): Promise<UploadHash> {
    const cached = this.hashStates.get(session.id);
    this.hashStates.delete(session.id);
    if (cached && cached.size === storedSize && cached.hash.usable) return cached.hash;
    cached?.hash.dispose();
    return this.rehash(session.path, storedSize, 'sha256', false);
  }

  private async rehash(path: string, size: number, algorithm: DigestAlgorithm, whole: boolean): Promise<UploadHash> {
    const hash = new UploadHash(algorithm, this.hashingThread);
    if (size === 0) return hash;
    try {
      await receive((await this.driver.reader(path, 0, size)) as AsyncIterable<Buffer>, { hash, whole });
    } catch (error) {
      hash.dispose();
      throw error;
    }
    return hash;
  }

  private remember(id: string, hash: UploadHash, size: number): void {
    if (this.hashStates.size >= this.maxCachedHashStates) {
      const oldest = this.hashStates.keys().next().value;
      if (oldest !== undefined) this.forgetHash(oldest);
    }
    this.hashStates.set(id, { hash, size });
  }

  private forgetHash(id: string): void {
    this.hashStates.get(id)?.hash.dispose();
    this.hashStates.delete(id);
  }

  private async pump(
    body: AsyncIterable<Buffer>,
    writer: FileWriter,
    hash: UploadHash,
    whole: boolean,
    length: number | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    const received = await receive(body, { writer, hash, whole, limit: length, signal });
    if (length !== undefined && received !== length) {
      throw new OciError(OciErrorCode.SIZE_INVALID, `received ${received} bytes, the request declared ${length}`, {
        declared: length,
        received,
      });
    }
  }

  /**
   * Renews a held lease until the returned function is called: for as long as a request works on the session
   * (receiving, flushing, re-hashing, moving), no other request may take it over.
   */
  private keepLease(id: string, owner: string): () => void {
    const renew = setInterval(() => {
      this.repository.renewUploadLease(id, owner, this.leaseMs).catch(() => undefined);
    }, this.leaseMs / 3);
    renew.unref();
    return () => clearInterval(renew);
  }
}
