import { randomUUID } from 'node:crypto';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { type JobName, type QueueName } from './enum.js';
import { JobPayloadError } from './errors.js';
import {
  JOB_PAYLOADS,
  JOBS,
  QUEUES,
  isJobName,
  validateJobDeclarations,
  type JobInput,
  type JobPayload,
} from './job.declarations.js';
import { type JobHandlerRegistry } from './job-handler.registry.js';

/** Redis as `redisConnection` in @wharf/config gives it. */
export interface JobRedisConnection {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
}

export interface JobRunnerLogger {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface JobRunnerOptions {
  connection: JobRedisConnection;
  /** Namespace of every key in Redis; processes that share work share it. */
  prefix?: string;
  /** Per-process override of the declared concurrency of a queue. */
  concurrency?: Partial<Record<QueueName, number>>;
  /** First retry delay; each next one doubles it. */
  backoffMs?: number;
  logger?: JobRunnerLogger;
}

export interface EnqueueOptions {
  /** Run no earlier than this many milliseconds from now. */
  delayMs?: number;
}

export interface EnqueuedJob {
  id: string;
  /** False when a job with the same deduplication id was already waiting or running, and this one was dropped. */
  added: boolean;
}

const DEFAULT_PREFIX = 'wharf:jobs';
const DEFAULT_BACKOFF_MS = 5_000;

function parsePayload<N extends JobName>(name: N, payload: unknown): JobPayload<N> {
  const result = JOB_PAYLOADS[name].safeParse(payload);
  if (!result.success) {
    throw new JobPayloadError(
      name,
      result.error.issues.map(
        (issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'payload'}: ${issue.message}`,
      ),
    );
  }
  return result.data as JobPayload<N>;
}

/**
 * Enqueues declared jobs on BullMQ and, once started with a handler registry, runs them: one Worker per queue the
 * registry's jobs use. Every process started on the same Redis and prefix takes jobs from the same queues, and
 * BullMQ's lock gives each job to one of them.
 */
export class JobRunner {
  private readonly queues = new Map<QueueName, Queue>();
  private readonly workers: Worker[] = [];
  private readonly prefix: string;

  constructor(private readonly options: JobRunnerOptions) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
  }

  /**
   * Validates `payload` against the job's schema and enqueues it with the job's deduplication id, attempts and
   * backoff. An invalid payload throws a JobPayloadError and nothing is enqueued.
   */
  async enqueue<N extends JobName>(name: N, payload: JobInput<N>, options: EnqueueOptions = {}): Promise<EnqueuedJob> {
    if (!isJobName(name)) throw new JobPayloadError(String(name), ['not a declared job']);
    const data = parsePayload(name, payload);
    const declaration = JOBS[name];
    const deduplicationId = declaration.deduplicationId(data);
    const queue = this.queue(declaration.queue);
    // BullMQ answers a deduplicated add with the job already there, so an id of our own tells the two apart.
    const jobId = randomUUID();
    const job = await queue.add(name, data, {
      jobId,
      attempts: declaration.maxFails,
      backoff: { type: 'exponential', delay: this.options.backoffMs ?? DEFAULT_BACKOFF_MS },
      delay: options.delayMs,
      deduplication: deduplicationId ? { id: deduplicationId } : undefined,
      removeOnComplete: { count: 1000 },
      removeOnFail: { count: 1000 },
    });
    const id = job.id ?? jobId;
    return { id, added: id === jobId };
  }

  /** Starts one Worker per queue of the registry's jobs, with the queue's concurrency. */
  async start(registry: JobHandlerRegistry): Promise<void> {
    if (this.workers.length > 0) throw new Error('job runner already started');
    validateJobDeclarations();
    for (const queue of registry.queues) {
      const concurrency = this.options.concurrency?.[queue] ?? QUEUES[queue].concurrency;
      const worker = new Worker(queue, (job) => this.process(registry, job), {
        connection: { ...this.options.connection },
        prefix: this.prefix,
        concurrency,
      });
      worker.on('failed', (job, error) => {
        this.options.logger?.error(
          { job: job?.name, jobId: job?.id, attempt: job?.attemptsMade, err: error },
          'job failed',
        );
      });
      worker.on('error', (error) => this.options.logger?.error({ queue, err: error }, 'job worker error'));
      this.workers.push(worker);
    }
    await Promise.all(this.workers.map((worker) => worker.waitUntilReady()));
  }

  /** The BullMQ queue behind `name`, for inspection (counts, pause); created on first use. */
  queue(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: { ...this.options.connection }, prefix: this.prefix });
      queue.on('error', (error) => this.options.logger?.error({ queue: name, err: error }, 'job queue error'));
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** Stops taking jobs, waits for the handlers running now to finish, then closes every connection. */
  async close(): Promise<void> {
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((worker) => worker.close()));
    const queues = [...this.queues.values()];
    this.queues.clear();
    await Promise.all(queues.map((queue) => queue.close()));
  }

  private async process(registry: JobHandlerRegistry, job: Job): Promise<unknown> {
    const name = job.name;
    const handler = isJobName(name) ? registry.handler(name) : undefined;
    if (!isJobName(name) || !handler) throw new UnrecoverableError(`no handler for job ${name} in this process`);
    let payload: unknown;
    try {
      payload = parsePayload(name, job.data);
    } catch (error) {
      throw new UnrecoverableError((error as Error).message);
    }
    try {
      return await handler.run(payload, { id: job.id ?? '', attempt: job.attemptsMade + 1 });
    } catch (error) {
      if (JOBS[name].retryable(error)) throw error;
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new UnrecoverableError(message);
    }
  }
}
