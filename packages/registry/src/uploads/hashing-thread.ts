import type * as Crypto from 'node:crypto';
import type * as WorkerThreads from 'node:worker_threads';
import { Worker } from 'node:worker_threads';
import { type DigestAlgorithm } from '@wharf/oci';
import { ioBufferMemory } from '@wharf/storage';

/** What the registry's thread asks of the hashing thread; `id` names one hash. */
type HashRequest =
  | { op: 'open'; id: number; algorithm: DigestAlgorithm }
  /** Bytes that lie in the shared I/O buffer memory, by position: nothing is copied. */
  | { op: 'update'; id: number; offset: number; length: number }
  /** Bytes from anywhere else, copied into the message. */
  | { op: 'update'; id: number; bytes: Uint8Array }
  | { op: 'digest'; id: number }
  | { op: 'drop'; id: number };

/** One answer per update (`digest` absent) and per digest request, in the order they were asked for each hash. */
interface HashReply {
  id: number;
  digest?: string;
  error?: string;
}

interface Waiter {
  resolve(digest: string | undefined): void;
  reject(error: Error): void;
}

/** The hashing thread's program. It runs as a script in the worker, so it may use only what it is handed. */
function hashingThreadMain(require: (module: string) => unknown): void {
  const threads = require('node:worker_threads') as typeof WorkerThreads;
  const { createHash } = require('node:crypto') as typeof Crypto;
  const shared = (threads.workerData as { memory: SharedArrayBuffer | null }).memory;
  const memory = shared ? new Uint8Array(shared) : null;
  const hashes = new Map<number, Crypto.Hash>();
  const port = threads.parentPort!;
  port.on('message', (request: HashRequest) => {
    try {
      if (request.op === 'open') {
        hashes.set(request.id, createHash(request.algorithm));
        return;
      }
      if (request.op === 'drop') {
        hashes.delete(request.id);
        return;
      }
      const hash = hashes.get(request.id);
      if (!hash) throw new Error(`no hash ${request.id} on the hashing thread`);
      if (request.op === 'digest') {
        hashes.delete(request.id);
        port.postMessage({ id: request.id, digest: hash.digest('hex') } satisfies HashReply);
        return;
      }
      if ('bytes' in request) {
        hash.update(request.bytes);
      } else {
        if (!memory) throw new Error('the hashing thread has no shared buffer memory');
        hash.update(memory.subarray(request.offset, request.offset + request.length));
      }
      port.postMessage({ id: request.id } satisfies HashReply);
    } catch (error) {
      hashes.delete(request.id);
      port.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) });
    }
  });
}

export class HashingFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HashingFailedError';
  }
}

/**
 * A thread that hashes upload bytes, so that the thread receiving requests spends no time on SHA-256: with it, a
 * push costs the receiving thread a copy per byte and hashing runs on another core while the same buffer is
 * written to storage. Bytes in the shared I/O buffer memory are hashed where they lie; others are copied over.
 *
 * The thread starts at the first hash and does not keep the process alive while no hash is waiting for it. If it
 * stops (it cannot, short of a bug or the process running out of memory), every hash it held fails, and the next
 * hash starts a new thread.
 */
export class HashingThread {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly hashes = new Map<number, RemoteHash>();
  private waiting = 0;

  /** A new, empty hash on the thread. */
  open(algorithm: DigestAlgorithm): RemoteHash {
    const worker = this.started();
    const id = this.nextId++;
    const hash = new RemoteHash(this, worker, id, algorithm);
    this.hashes.set(id, hash);
    this.post(worker, { op: 'open', id, algorithm });
    return hash;
  }

  /** Stops the thread; the hashes it held fail. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (worker) await worker.terminate();
  }

  /** Posts a request that is answered; the thread is kept referenced until every answer is in. */
  ask(worker: Worker, request: HashRequest, transfer?: ArrayBuffer[]): void {
    if (this.waiting++ === 0) worker.ref();
    this.post(worker, request, transfer);
  }

  answered(worker: Worker): void {
    if (--this.waiting === 0 && this.worker === worker) worker.unref();
  }

  post(worker: Worker, request: HashRequest, transfer?: ArrayBuffer[]): void {
    worker.postMessage(request, transfer);
  }

  forget(id: number): void {
    this.hashes.delete(id);
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(`(${hashingThreadMain.toString()})(require)`, {
      eval: true,
      workerData: { memory: ioBufferMemory() },
      // Hash objects and small messages are all it holds.
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 },
      stdout: false,
      stderr: false,
    });
    worker.unref();
    worker.on('message', (reply: HashReply) => {
      this.hashes.get(reply.id)?.settle(reply);
    });
    // 'exit' follows 'error'; the error is kept for the hashes' rejections.
    let failure: Error | null = null;
    worker.on('error', (error) => {
      failure = error;
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = null;
      const reason = new HashingFailedError(
        `the hashing thread stopped (${failure ? failure.message : `exit code ${code}`})`,
      );
      for (const hash of [...this.hashes.values()]) if (hash.worker === worker) hash.fail(reason);
    });
    this.worker = worker;
    return worker;
  }
}

/**
 * One hash on the hashing thread. Updates are hashed in the order they are made; each resolves once its bytes
 * have been read, after which the caller may reuse their memory. `digest()` ends the hash.
 */
export class RemoteHash {
  private readonly waiters: Waiter[] = [];
  private failure: Error | null = null;
  private ended = false;

  constructor(
    private readonly thread: HashingThread,
    readonly worker: Worker,
    private readonly id: number,
    readonly algorithm: DigestAlgorithm,
  ) {}

  /** False once the hash failed or ended: it cannot be continued. */
  get usable(): boolean {
    return this.failure === null && !this.ended;
  }

  update(bytes: Buffer): Promise<void> {
    const memory = ioBufferMemory();
    if (memory !== null && bytes.buffer === memory) {
      return this.ask({ op: 'update', id: this.id, offset: bytes.byteOffset, length: bytes.length }).then(
        () => undefined,
      );
    }
    // A copy the thread takes over (transferred, not copied again).
    const copy = new Uint8Array(bytes);
    return this.ask({ op: 'update', id: this.id, bytes: copy }, [copy.buffer]).then(() => undefined);
  }

  async digest(): Promise<string> {
    const hex = await this.ask({ op: 'digest', id: this.id });
    this.end();
    return `${this.algorithm}:${hex}`;
  }

  /** Forgets the hash (on the thread too); anything still waiting for it fails. */
  dispose(): void {
    if (this.ended) return;
    if (this.failure === null) this.thread.post(this.worker, { op: 'drop', id: this.id });
    this.fail(new HashingFailedError('the hash was discarded'));
    this.end();
  }

  settle(reply: HashReply): void {
    const waiter = this.waiters.shift();
    if (!waiter) return;
    this.thread.answered(this.worker);
    if (reply.error !== undefined) {
      this.fail(new HashingFailedError(`hashing failed: ${reply.error}`));
      waiter.reject(this.failure!);
    } else {
      waiter.resolve(reply.digest);
    }
  }

  fail(reason: Error): void {
    this.failure ??= reason;
    for (const waiter of this.waiters.splice(0)) {
      this.thread.answered(this.worker);
      waiter.reject(this.failure);
    }
    this.thread.forget(this.id);
  }

  private end(): void {
    this.ended = true;
    this.thread.forget(this.id);
  }

  private ask(request: HashRequest, transfer?: ArrayBuffer[]): Promise<string | undefined> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.ended) return Promise.reject(new HashingFailedError('the hash has ended'));
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.thread.ask(this.worker, request, transfer);
    });
  }
}

let processThread: HashingThread | undefined;

/** The hashing thread every blob store of the process shares unless given its own. */
export function processHashingThread(): HashingThread {
  processThread ??= new HashingThread();
  return processThread;
}
