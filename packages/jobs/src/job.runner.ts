import { randomUUID } from 'node:crypto';
import { DelayedError, type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
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
import { type Heartbeat, readHeartbeats } from './heartbeat.js';
import { type BoundJobHandler, type JobHandlerRegistry } from './job-handler.registry.js';
import { type JobContext } from './on-job.decorator.js';
import { type QueuedTask, type ReconcilableTaskStore, type TaskStore, isFinalTaskStatus } from './task-store.js';

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
  /**
   * Whether a task-backed run cut short (its worker lost or shut down) may run again; by default, a job of more than
   * one attempt may.
   */
  rerunnable?: (name: JobName) => boolean;
  /**
   * How long a worker's hold on a running job lasts unless renewed (BullMQ's lock, and the interval of its stalled-job
   * check): a job whose worker died is taken by another about this long, at most twice this, later.
   */
  lockDurationMs?: number;
  /** This process's name in the jobs it takes (BullMQ's `processedBy`), e.g. host and pid. */
  name?: string;
  /** Where task-backed jobs record their runs; a runner started with a task-backed job needs it. */
  tasks?: TaskStore;
  /**
   * How often a running task's status is read again, so that a stop whose notice this process missed (Redis was
   * away for a moment) still ends the run.
   */
  stopPollMs?: number;
  /** How long a job of a paused type waits (delayed) before it is looked at again. */
  pausePollMs?: number;
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
const DEFAULT_PAUSE_POLL_MS = 5_000;
const DEFAULT_LOCK_DURATION_MS = 30_000;
const SHUTDOWN_MESSAGE = 'the worker shut down during the run';
/** The status message of a task whose run ended with its worker (killed, or its host lost). */
export const WORKER_LOST_MESSAGE = 'the worker running this task was lost before it finished';
const RECONCILE_BATCH = 500;
/** BullMQ states of a job that is still to run or running. */
const LIVE_JOB_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

export interface ReconcileResult {
  /** Tasks whose job was gone from Redis, queued again. */
  requeued: number[];
  /** Tasks recorded as Error: their job was gone and may not run twice, or ended without recording its result. */
  failed: number[];
}

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
    await this.control().publish(this.cancelChannel, JSON.stringify(jobIds));
  }

  /**
   * Pauses job types, for every runner on the same Redis and prefix: a job of a paused type that a worker takes goes
   * back to wait (delayed by `pausePollMs`) instead of running, until its type is resumed, or is dropped if its type
   * is declared to skip the runs due while paused (`whilePaused`). Running jobs go on. Pausing a paused type keeps
   * the time it was first paused.
   */
  async pause(names: readonly JobName[]): Promise<void> {
    if (names.length === 0) return;
    const now = String(Date.now());
    const batch = this.control().multi();
    for (const name of names) batch.hsetnx(this.pausedKey, name, now);
    await batch.exec();
  }

  /** Resumes paused job types: their waiting jobs run again, each at its next look (within `pausePollMs`). */
  async resume(names: readonly JobName[]): Promise<void> {
    if (names.length > 0) await this.control().hdel(this.pausedKey, ...names);
  }

  /** The heartbeats of the jobservice processes alive on this Redis database. */
  heartbeats(): Promise<Heartbeat[]> {
    return readHeartbeats(this.control());
  }

  /**
   * The job types paused now, each with the time (epoch ms) it was paused: a job of such a type that a worker took
   * since then is only on its way back to wait.
   */
  async pausedJobTypes(): Promise<Map<string, number>> {
    const paused = await this.control().hgetall(this.pausedKey);
    return new Map(Object.entries(paused).map(([name, since]) => [name, Number(since)]));
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
      const worker = new Worker(queue, (job, token, signal) => this.process(registry, job, token, signal), {
        connection: { ...this.options.connection },
        prefix: this.prefix,
        concurrency,
        name: this.options.name,
        lockDuration: this.options.lockDurationMs ?? DEFAULT_LOCK_DURATION_MS,
        stalledInterval: this.options.lockDurationMs ?? DEFAULT_LOCK_DURATION_MS,
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

  /**
   * Compares the unfinished tasks in PostgreSQL with the queues, and repairs what Redis lost: a task whose job no
   * longer exists (Redis flushed or replaced) is queued again from its recorded job and payload if the job may run
   * twice (the `rerunnable` option), and recorded as Error otherwise; a task whose job ended
   * without recording its result (failed after its worker was lost twice, or its report lost) is recorded as Error.
   * One process at a time reconciles (a lock in Redis); a process that finds the lock taken does nothing.
   */
  async reconcile(store: ReconcilableTaskStore): Promise<ReconcileResult> {
    const result: ReconcileResult = { requeued: [], failed: [] };
    const publisher = this.control();
    const lock = `${this.prefix}:reconcile`;
    const token = randomUUID();
    if ((await publisher.set(lock, token, 'PX', 60_000, 'NX')) !== 'OK') return result;
    try {
      for (let afterId = 0; ;) {
        const batch = await store.listUnfinishedJobTasks(afterId, RECONCILE_BATCH);
        for (const task of batch) await this.reconcileTask(store, task, result);
        if (batch.length < RECONCILE_BATCH) return result;
        afterId = batch[batch.length - 1].id;
      }
    } finally {
      // Released only if still ours: a reconciliation longer than the lock's life does not free another's.
      await publisher.eval(
        `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`,
        1,
        lock,
        token,
      );
    }
  }

  private async reconcileTask(store: ReconcilableTaskStore, task: QueuedTask, result: ReconcileResult): Promise<void> {
    const name = task.jobName;
    if (task.jobId === null || !isJobName(name) || !isTaskBacked(name)) return;
    const state = await this.queue(JOBS[name].queue).getJobState(task.jobId);
    if (LIVE_JOB_STATES.has(state)) return;
    // The run may have recorded its end since the list was read.
    const current = await store.getTask(task.id);
    if (!current || isFinalTaskStatus(current.status)) return;
    if (state === 'unknown' && this.rerunnable(name) && task.jobData !== null) {
      const queued = await this.enqueue(name, { ...task.jobData, taskId: task.id });
      if (queued.added) {
        await store.setTaskJobId(task.id, queued.id);
        await store.appendTaskLog(
          task.id,
          `its job ${task.jobId} was lost from the queue; queued again as ${queued.id}\n`,
        );
        result.requeued.push(task.id);
        return;
      }
    }
    const message =
      state === 'unknown' ? `its job ${task.jobId} was lost from the queue` : `${WORKER_LOST_MESSAGE} (job ${state})`;
    await this.failTask(store, task.id, current.statusRevision, message);
    result.failed.push(task.id);
  }

  /** Records a task as Error with `message`, and in its log with `detail` when given. */
  private async failTask(
    tasks: TaskStore,
    taskId: number,
    revision: number,
    message: string,
    detail?: string,
  ): Promise<void> {
    await tasks.appendTaskLog(taskId, `${detail === undefined ? message : `${message}; ${detail}`}\n`);
    await tasks.updateTaskStatus(taskId, { status: 'Error', revision, message });
  }

  private rerunnable(name: JobName): boolean {
    return (this.options.rerunnable ?? isRerunnable)(name);
  }

  /** The connection for stop notices, pauses and the reconciliation lock; opened on first use. */
  private control(): Redis {
    this.publisher ??= new Redis({ ...this.options.connection, maxRetriesPerRequest: 1 });
    return this.publisher;
  }

  private get pausedKey(): string {
    return `${this.prefix}:paused-job-types-since`;
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

  private async process(
    registry: JobHandlerRegistry,
    job: Job,
    token: string | undefined,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const name = job.name;
    const handler = isJobName(name) ? registry.handler(name) : undefined;
    if (!isJobName(name) || !handler) throw new UnrecoverableError(`no handler for job ${name} in this process`);
    if (token !== undefined && (await this.control().hexists(this.pausedKey, name)) === 1) {
      if (JOBS[name].whilePaused === 'skip') {
        this.options.logger?.info(
          { job: name, jobId: job.id, data: job.data as unknown },
          'job type paused: this run is skipped, not held',
        );
        return undefined;
      }
      // Its type is paused: back to wait without counting an attempt, to be looked at again later.
      await job.moveToDelayed(Date.now() + (this.options.pausePollMs ?? DEFAULT_PAUSE_POLL_MS), token);
      throw new DelayedError();
    }
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
      const stalled = job.stalledCounter > 0;
      return this.runTask(name, handler, payload as { taskId: number }, { id, attempt, signal: abort }, stalled);
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
   * stopped meanwhile (its Stopped status is final). A task found already ended is not run. One found Running had an
   * earlier run that failed or was cut short (its worker lost: BullMQ gives the job again once the worker stops
   * renewing its lock): it runs again under a new revision if the job may run twice, and is recorded as Error
   * otherwise.
   */
  private async runTask(
    name: JobName,
    handler: BoundJobHandler,
    payload: { taskId: number },
    run: Omit<JobContext, 'log'>,
    stalled: boolean,
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
    if (task.status === 'Running' && !this.rerunnable(name)) {
      // An earlier run started and never reported: BullMQ gave the job again after its worker stopped renewing it.
      await this.failTask(
        tasks,
        taskId,
        task.statusRevision,
        WORKER_LOST_MESSAGE,
        'a job of one attempt does not run twice',
      );
      throw new UnrecoverableError(WORKER_LOST_MESSAGE);
    }
    if (task.status === 'Running' && stalled) await log(`${WORKER_LOST_MESSAGE}; running it again`);
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
        if (this.rerunnable(name) && run.attempt < maxFails) {
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
