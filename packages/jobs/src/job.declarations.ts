import { z } from 'zod';
import { JobName, QueueName } from './enum.js';
import { JobDeclarationError } from './errors.js';
import { isTransientError } from './retryable.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Payload schemas, one per job: the single source of the types handlers receive. */
export const JOB_PAYLOADS = {
  [JobName.UploadPurge]: z.strictObject({
    taskId: z.number().int().positive(),
    /** Upload sessions untouched for longer than this are abandoned. */
    ageMs: z.number().int().positive(),
    dryRun: z.boolean().default(false),
  }),
  [JobName.EventTrim]: z.strictObject({
    /** Delivered events older than this are deleted (core's outbox retention when left out). */
    retentionMs: z.number().int().positive().optional(),
  }),
  [JobName.OutboxDelivery]: z.strictObject({
    /** Deliver the events pending up to this id; without it, whatever is pending when the job runs. */
    upToId: z.number().int().positive().optional(),
  }),
  [JobName.PurgeAuditLog]: z.strictObject({
    taskId: z.number().int().positive(),
    /** Records older than this many hours are purged. */
    retentionHours: z.number().int().positive(),
    /** Event types (`create_artifact`) or whole operations (`pull`); none purges nothing. */
    includeEventTypes: z.array(z.string().min(1)).max(100),
    dryRun: z.boolean().default(false),
  }),
  [JobName.GarbageCollection]: z.strictObject({
    taskId: z.number().int().positive(),
    /** Delete untagged manifests first, then the blobs only they referenced. */
    deleteUntagged: z.boolean().default(false),
    dryRun: z.boolean().default(false),
    /** Batches of the sweep run at once. */
    workers: z.number().int().min(1).max(10).default(1),
    /** What is younger than this many hours is kept. */
    timeWindowHours: z.number().min(0).max(8784).default(2),
  }),
  [JobName.ScheduledRun]: z.strictObject({
    /** The schedule (a row in PostgreSQL) whose time has come: its vendor's run starts, with trigger SCHEDULE. */
    scheduleId: z.number().int().positive(),
  }),
  [JobName.Retention]: z.strictObject({
    taskId: z.number().int().positive(),
    /** The tag retention policy to apply, as it stands when the job runs. */
    policyId: z.number().int().positive(),
    /** The repository of the policy's project this task works on. */
    repositoryId: z.number().int().positive(),
    repository: z.string().min(1),
    /** Decide and log, delete nothing. */
    dryRun: z.boolean().default(false),
  }),
  [JobName.ScanArtifact]: z.strictObject({
    taskId: z.number().int().positive(),
    /** The scan report this run fills in (Harbor's report_id). */
    reportUuid: z.string().regex(UUID),
    /** The scanner registration the scan was asked of. */
    registrationUuid: z.string().regex(UUID),
    projectId: z.number().int().positive(),
    repository: z.string().min(1),
    digest: z.string().regex(/^sha256:[a-f0-9]{64}$/),
    /** The manifest's media type, which the scan request names. */
    mediaType: z.string().min(1),
  }),
} as const satisfies Record<JobName, z.ZodType>;

/** What a handler of job `N` receives: its payload once parsed (defaults applied). */
export type JobPayload<N extends JobName> = z.output<(typeof JOB_PAYLOADS)[N]>;
/** What `enqueue` accepts for job `N`, before defaults. */
export type JobInput<N extends JobName> = z.input<(typeof JOB_PAYLOADS)[N]>;
/** The task-backed jobs: their payload carries the id of the task (in PostgreSQL) each run is recorded in. */
export type TaskBackedJobName = { [N in JobName]: JobPayload<N> extends { taskId: number } ? N : never }[JobName];
/** The payload of a task-backed job as a launcher gives it: without the task id, which the launcher adds. */
export type TaskJobInput<N extends TaskBackedJobName> = Omit<JobInput<N>, 'taskId'>;
/** Every job as name and payload, discriminated by name. */
export type JobItem = { [N in JobName]: { name: N; data: JobPayload<N> } }[JobName];

export interface JobDeclaration<N extends JobName = JobName> {
  queue: QueueName;
  /**
   * Attempts before the job is failed for good, counting the first. It also says whether a run may be repeated: a
   * task-backed run cut short by its worker's shutdown runs again only in a job of more than one attempt.
   */
  maxFails: number;
  /**
   * The job's payload carries `taskId` and the runner records each run in that task: Running when the handler
   * starts, then Success, Error or Stopped, with the handler's log lines and errors in the task's log.
   */
  taskBacked?: boolean;
  /** Whether an error thrown by the handler is worth another attempt; otherwise the job fails at once. */
  retryable: (error: unknown) => boolean;
  /**
   * Jobs with the same id are one: while one is waiting or running, enqueueing another is a no-op. Undefined lets
   * every enqueue through.
   */
  deduplicationId: (payload: JobPayload<N>) => string | undefined;
  /**
   * What a job of this type does when it comes due while its type is paused: `hold` (the default) waits until the
   * type is resumed, `skip` is dropped (a firing of a schedule, as Harbor skips the firings due while paused).
   */
  whilePaused?: 'hold' | 'skip';
}

export interface QueueDeclaration {
  /** Jobs of this queue one process runs at once (overridable per process). */
  concurrency: number;
}

export const QUEUES: Record<QueueName, QueueDeclaration> = {
  [QueueName.Maintenance]: { concurrency: 1 },
  [QueueName.Events]: { concurrency: 1 },
  // Each system job runs one at a time (its deduplication id); two slots let a purge run beside a long collection.
  [QueueName.System]: { concurrency: 2 },
  [QueueName.Retention]: { concurrency: 2 },
  // A scan is mostly waiting on the scanner (a trivy process, or an adapter's report): a few at once per process.
  [QueueName.Scan]: { concurrency: 4 },
};

type JobDeclarations = { [N in JobName]: JobDeclaration<N> };

export const JOBS: JobDeclarations = {
  // One purge at a time per mode: a second is redundant while the first still runs.
  [JobName.UploadPurge]: {
    queue: QueueName.Maintenance,
    taskBacked: true,
    maxFails: 3,
    retryable: isTransientError,
    deduplicationId: ({ dryRun }) => `upload-purge:${dryRun ? 'dry-run' : 'run'}`,
  },
  [JobName.EventTrim]: {
    queue: QueueName.Maintenance,
    maxFails: 3,
    retryable: isTransientError,
    deduplicationId: () => 'event-trim',
  },
  // Delivery is ordered and at least once: one job per bound, and a pending job covers later events anyway.
  [JobName.OutboxDelivery]: {
    queue: QueueName.Events,
    maxFails: 5,
    retryable: isTransientError,
    deduplicationId: ({ upToId }) => `outbox-delivery:${upToId ?? 'pending'}`,
  },
  // One purge at a time: a second would only count or delete what the first is already deleting. Batches are
  // idempotent, so a purge whose worker was lost simply runs again.
  [JobName.PurgeAuditLog]: {
    queue: QueueName.System,
    taskBacked: true,
    maxFails: 3,
    retryable: isTransientError,
    deduplicationId: () => 'purge-audit-log',
  },
  // One collection at a time (the database refuses a second as well). A run cut short leaves every blob kept or
  // deleted, and the next run finishes what it started, so a lost worker's run simply runs again.
  [JobName.GarbageCollection]: {
    queue: QueueName.System,
    taskBacked: true,
    maxFails: 3,
    retryable: isTransientError,
    deduplicationId: () => 'garbage-collection',
  },
  // A schedule's time has come: the handler starts the vendor's run unless one is still unfinished. Only the job
  // queue's schedulers make these, once per due time; a missed start is not made up, as Harbor's are not, and neither
  // is one that falls due while SCHEDULED_RUN is paused: on resume only the firings still to come run.
  [JobName.ScheduledRun]: {
    queue: QueueName.System,
    maxFails: 3,
    retryable: isTransientError,
    deduplicationId: ({ scheduleId }) => `scheduled-run:${scheduleId}`,
    whilePaused: 'skip',
  },
  // One run of a policy at a time in a repository; a run that lost its worker starts the repository over.
  [JobName.Retention]: {
    queue: QueueName.Retention,
    taskBacked: true,
    maxFails: 3,
    retryable: isTransientError,
    deduplicationId: ({ policyId, repositoryId }) => `retention:${policyId}:${repositoryId}`,
  },
  // One run per report: a report is started once per scan request, so only the same job queued twice is one. A scan
  // is not repeated: a lost run ends its report as failed, and the user scans again.
  [JobName.ScanArtifact]: {
    queue: QueueName.Scan,
    taskBacked: true,
    maxFails: 1,
    retryable: () => false,
    deduplicationId: ({ reportUuid }) => `scan:${reportUuid}`,
  },
};

export function jobDeclaration<N extends JobName>(name: N): JobDeclaration<N> {
  return JOBS[name];
}

export function isJobName(value: unknown): value is JobName {
  return typeof value === 'string' && Object.hasOwn(JOB_PAYLOADS, value);
}

export function isTaskBacked(name: JobName): name is TaskBackedJobName {
  return JOBS[name].taskBacked === true;
}

/** Whether a run of job `name` cut short (its worker shutting down) may run again, or must be recorded as failed. */
export function isRerunnable(name: JobName): boolean {
  return JOBS[name].maxFails > 1;
}

function hasTaskId(schema: z.ZodType): boolean {
  const shape = (schema as { shape?: Record<string, unknown> }).shape;
  return shape !== undefined && Object.hasOwn(shape, 'taskId');
}

/** The job types that run on `queue`. */
export function jobsOnQueue(queue: QueueName, jobs: Record<string, Pick<JobDeclaration, 'queue'>> = JOBS): JobName[] {
  return (Object.keys(jobs) as JobName[]).filter((name) => jobs[name].queue === queue);
}

/**
 * Checks that every declared job can run: a known queue, limits of at least one, a schema, a predicate and a
 * deduplication function. Throws one error naming every fault.
 */
export function validateJobDeclarations(
  jobs: Record<string, JobDeclaration<never>> = JOBS,
  queues: Record<string, QueueDeclaration> = QUEUES,
  payloads: Record<string, z.ZodType> = JOB_PAYLOADS,
): void {
  const faults: string[] = [];
  const isCount = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 1;
  for (const [name, queue] of Object.entries(queues)) {
    if (!isCount(queue.concurrency)) faults.push(`queue ${name}: concurrency must be a whole number of at least 1`);
  }
  for (const [name, job] of Object.entries(jobs)) {
    if (!Object.hasOwn(queues, job.queue)) faults.push(`job ${name}: unknown queue ${String(job.queue)}`);
    if (!isCount(job.maxFails)) faults.push(`job ${name}: maxFails must be a whole number of at least 1`);
    if (typeof job.retryable !== 'function') faults.push(`job ${name}: retryable must be a function`);
    if (typeof job.deduplicationId !== 'function') faults.push(`job ${name}: deduplicationId must be a function`);
    if (!Object.hasOwn(payloads, name)) faults.push(`job ${name}: no payload schema`);
    else if ((job.taskBacked === true) !== hasTaskId(payloads[name])) {
      faults.push(`job ${name}: a task-backed job, and it alone, has a taskId in its payload`);
    }
  }
  for (const name of Object.keys(payloads)) {
    if (!Object.hasOwn(jobs, name)) faults.push(`job ${name}: a payload schema but no declaration`);
  }
  if (faults.length > 0) throw new JobDeclarationError(`invalid job declarations: ${faults.join('; ')}`);
}
