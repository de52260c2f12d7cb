import { randomUUID } from 'node:crypto';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { type JobName, QueueName } from './enum.js';
import { JobPayloadError } from './errors.js';
import {
  JOB_PAYLOADS,
  JOBS,
  QUEUES,
  isJobName,
  isRerunnable,
  isTaskBacked,
  validateJobDeclarations,
  type JobInput,
  type JobPayload,
} from './job.declarations.js';
import { type BoundJobHandler, type JobHandlerRegistry } from './job-handler.registry.js';
import { type JobContext } from './on-job.decorator.js';
import { type TaskStore, isFinalTaskStatus } from './task-store.js';

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
  /** Where task-backed jobs record their runs; a runner started with a task-backed job needs it. */
  tasks?: TaskStore;
  /**
   * How often a running task's status is read again, so that a stop whose notice this process missed (Redis was
   * away for a moment) still ends the run.
   */
  stopPollMs?: number;
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
const DEFAULT_STOP_POLL_MS = 5_000;
const SHUTDOWN_MESSAGE = 'the worker shut down during the run';

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

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
  private subscriber: Redis | undefined;
  private publisher: Redis | undefined;
  private readonly queueConnections: Redis[] = [];
  private closing = false;

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

  /**
   * Stops jobs, wherever they are: those waiting or delayed are removed from their queue, and every process running
   * one of them sees its handler's signal aborted (a notice on Redis). The caller records the stop (the tasks'
   * status) first, so a run that misses the notice still ends at its next status poll.
   */
  async cancel(jobIds: readonly string[]): Promise<void> {
    if (jobIds.length === 0) return;
    for (const name of Object.values(QueueName)) {
      const queue = this.queue(name);
      for (const id of jobIds) {
        // A job that is running is locked and stays; its handler is told below.
        await queue.remove(id).catch(() => 0);
      }
    }
    this.publisher ??= new Redis({ ...this.options.connection, maxRetriesPerRequest: 1 });
    await this.publisher.publish(this.cancelChannel, JSON.stringify(jobIds));
  }

  /** Starts one Worker per queue of the registry's jobs, with the queue's concurrency. */
  async start(registry: JobHandlerRegistry): Promise<void> {
    if (this.workers.length > 0) throw new Error('job runner already started');
    validateJobDeclarations();
    if (!this.options.tasks && registry.jobs.some((job) => isTaskBacked(job))) {
      throw new Error('a runner of task-backed jobs needs a task store');
    }
    this.closing = false;
    const subscriber = new Redis({ ...this.options.connection, lazyConnect: true });
    subscriber.on('error', (error) => this.options.logger?.error({ err: error }, 'job stop notices unavailable'));
    subscriber.on('message', (_channel: string, message: string) => this.cancelLocally(message));
    await subscriber.connect();
    await subscriber.subscribe(this.cancelChannel);
    this.subscriber = subscriber;
    for (const queue of registry.queues) {
      const concurrency = this.options.concurrency?.[queue] ?? QUEUES[queue].concurrency;
      const worker = new Worker(queue, (job, _token, signal) => this.process(registry, job, signal), {
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
      // A connection of our own, ended by close() even while Redis is away (BullMQ's own would go on reconnecting).
      const connection = new Redis({ ...this.options.connection, maxRetriesPerRequest: null });
      connection.on('error', () => undefined);
      this.queueConnections.push(connection);
      queue = new Queue(name, { connection, prefix: this.prefix });
      queue.on('error', (error) => this.options.logger?.error({ queue: name, err: error }, 'job queue error'));
      this.queues.set(name, queue);
    }
    return queue;
  }

  /**
   * Stops taking jobs, aborts the signal of the handlers running now and waits for them to finish, then closes every
   * connection. A task-backed run cut short this way runs again elsewhere if its job may be repeated, and is recorded
   * as failed otherwise.
   */
  async close(): Promise<void> {
    this.closing = true;
    const workers = this.workers.splice(0);
    for (const worker of workers) worker.cancelAllJobs(SHUTDOWN_MESSAGE);
    await Promise.all(workers.map((worker) => worker.close()));
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
    const publisher = this.publisher;
    this.publisher = undefined;
    if (publisher) await publisher.quit().catch(() => publisher.disconnect());
    const queues = [...this.queues.values()];
    this.queues.clear();
    await Promise.all(queues.map((queue) => queue.close()));
    for (const connection of this.queueConnections.splice(0)) connection.disconnect();
  }

  private get cancelChannel(): string {
    return `${this.prefix}:cancel`;
  }

  private cancelLocally(message: string): void {
    let ids: unknown;
    try {
      ids = JSON.parse(message);
    } catch {
      return;
    }
    if (!Array.isArray(ids)) return;
    for (const id of ids) {
      if (typeof id !== 'string') continue;
      for (const worker of this.workers) worker.cancelJob(id, 'stopped');
    }
  }

  private async process(registry: JobHandlerRegistry, job: Job, signal?: AbortSignal): Promise<unknown> {
    const name = job.name;
    const handler = isJobName(name) ? registry.handler(name) : undefined;
    if (!isJobName(name) || !handler) throw new UnrecoverableError(`no handler for job ${name} in this process`);
    let payload: unknown;
    try {
      payload = parsePayload(name, job.data);
    } catch (error) {
      throw new UnrecoverableError((error as Error).message);
    }
    const id = job.id ?? '';
    const attempt = job.attemptsMade + 1;
    const abort = signal ?? new AbortController().signal;
    if (isTaskBacked(name)) {
      return this.runTask(name, handler, payload as { taskId: number }, { id, attempt, signal: abort });
    }
    const log = (line: string) => {
      this.options.logger?.info({ job: name, jobId: id }, line);
      return Promise.resolve();
    };
    try {
      return await handler.run(payload, { id, attempt, signal: abort, log });
    } catch (error) {
      if (JOBS[name].retryable(error)) throw error;
      throw new UnrecoverableError(describeError(error));
    }
  }

  /**
   * Runs a task-backed job and records it in its task: Running under a new status revision (the start time in ms)
   * when the handler starts, then Success, Error (the error in the task's log) or nothing more when the task was
   * stopped meanwhile (its Stopped status is final). A task found already ended is not run; one found Running (an
   * earlier attempt failed, or was cut short) runs again under a new revision.
   */
  private async runTask(
    name: JobName,
    handler: BoundJobHandler,
    payload: { taskId: number },
    run: Omit<JobContext, 'log'>,
  ): Promise<unknown> {
    const tasks = this.options.tasks!;
    const { taskId } = payload;
    const maxFails = JOBS[name].maxFails;
    const log = async (line: string) => {
      await tasks.appendTaskLog(taskId, line.endsWith('\n') ? line : `${line}\n`);
    };
    const task = await tasks.getTask(taskId);
    if (!task) throw new UnrecoverableError(`task ${taskId} of job ${name} does not exist`);
    if (isFinalTaskStatus(task.status)) return undefined;
    // Revisions only grow: a second run within the same millisecond as the first still supersedes it.
    const revision = Math.max(Date.now(), task.statusRevision + 1);
    const started = await tasks.updateTaskStatus(taskId, { status: 'Running', revision });
    // Stopped between the read and the report: the stop wins.
    if (!started?.applied) return undefined;

    const poll = setInterval(() => {
      tasks.getTask(taskId).then(
        (current) => {
          if (current?.status === 'Stopped') for (const worker of this.workers) worker.cancelJob(run.id, 'stopped');
        },
        () => undefined,
      );
    }, this.options.stopPollMs ?? DEFAULT_STOP_POLL_MS);
    poll.unref();
    let failure: { error: unknown } | undefined;
    try {
      await handler.run(payload, { ...run, log });
    } catch (error) {
      failure = { error };
    } finally {
      clearInterval(poll);
    }

    if (run.signal.aborted) {
      const current = await tasks.getTask(taskId);
      if (current?.status === 'Stopped') return undefined;
      if (this.closing) {
        if (isRerunnable(name) && run.attempt < maxFails) {
          await log(`${SHUTDOWN_MESSAGE}; it runs again`);
          throw new Error(SHUTDOWN_MESSAGE);
        }
        await log(SHUTDOWN_MESSAGE);
        await tasks.updateTaskStatus(taskId, { status: 'Error', revision, message: SHUTDOWN_MESSAGE });
        throw new UnrecoverableError(SHUTDOWN_MESSAGE);
      }
    }
    if (!failure) {
      await tasks.updateTaskStatus(taskId, { status: 'Success', revision });
      return undefined;
    }
    const message = describeError(failure.error);
    if (JOBS[name].retryable(failure.error) && run.attempt < maxFails) {
      await log(`attempt ${run.attempt} of ${maxFails} failed: ${message}; trying again`);
      throw failure.error;
    }
    await log(message);
    await tasks.updateTaskStatus(taskId, { status: 'Error', revision, message });
    throw new UnrecoverableError(message);
  }
}
