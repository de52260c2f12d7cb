import { Injectable } from '@nestjs/common';
import { ExecutionRepository, ScheduleRepository } from '@wharf/db';
import {
  type Heartbeat,
  JOBS,
  JobName,
  JobRunner,
  QUEUES,
  type QueueName,
  isFinalTaskStatus,
  isJobName,
  isTaskBacked,
} from '@wharf/jobs';
import {
  type ActionRequestDto,
  type JobQueueDto,
  type ScheduleListQuery,
  type ScheduleTaskDto,
  type SchedulerStatusDto,
  type WorkerDto,
  type WorkerPoolDto,
} from '../dtos/jobservice.dto.js';
import { ApiError } from '../errors/api-error.js';
import { Paged } from '../http/responses.js';
import { TaskService } from './task.service.js';

/** A job in a queue, as BullMQ reads it. */
type Job = Awaited<ReturnType<ReturnType<JobRunner['queue']>['getJobs']>>[number];

/** Harbor's name for every job type at once. */
const ALL = 'all';
/** BullMQ's states of a job that waits to run. */
const PENDING_STATES = ['waiting', 'delayed', 'prioritized'] as const;

/** Harbor's job service dashboard: what the job platform runs, holds and has scheduled, and stopping or pausing it. */
@Injectable()
export class JobMonitorService {
  constructor(
    private readonly executions: ExecutionRepository,
    private readonly schedules: ScheduleRepository,
    private readonly jobs: JobRunner,
    private readonly tasks: TaskService,
  ) {}

  /** The log of the task a job ran for; a job of no task (or an unknown id) has none to show. */
  async jobLog(jobId: string): Promise<string> {
    const task = await this.executions.getTaskByJobId(jobId);
    const log = task && (await this.executions.taskLog(task.id));
    if (!log) throw ApiError.notFound(`no task log for job ${jobId}`);
    return log.text;
  }

  /** One pool per live jobservice process (its heartbeat), by id. */
  async listPools(): Promise<WorkerPoolDto[]> {
    const beats = await this.jobs.heartbeats();
    return beats
      .map((beat) => ({
        worker_pool_id: poolId(beat),
        pid: beat.pid,
        host: beat.host,
        start_at: new Date(beat.startedAt).toISOString(),
        heartbeat_at: new Date(beat.beatAt).toISOString(),
        concurrency: queuesOf(beat).reduce((sum, queue) => sum + QUEUES[queue].concurrency, 0),
      }))
      .sort((a, b) => a.worker_pool_id.localeCompare(b.worker_pool_id));
  }

  /**
   * The workers of a pool (or of every pool, `all`): one per concurrency slot of each queue it works, with the job
   * that process is running in it (BullMQ's active jobs, by the process that took them).
   */
  async listWorkers(pool: string): Promise<WorkerDto[]> {
    const beats = (await this.jobs.heartbeats()).filter((beat) => pool === ALL || poolId(beat) === pool);
    if (beats.length === 0 && pool !== ALL) throw ApiError.notFound(`no worker pool ${pool}`);
    const active = new Map<QueueName, Job[]>();
    const workers: WorkerDto[] = [];
    for (const beat of beats.sort((a, b) => poolId(a).localeCompare(poolId(b)))) {
      const id = poolId(beat);
      for (const queue of queuesOf(beat)) {
        if (!active.has(queue)) active.set(queue, await this.jobs.queue(queue).getJobs(['active'], 0, -1));
        const running = active
          .get(queue)!
          .filter((job) => job?.processedBy === id)
          .sort((a, b) => (a.processedOn ?? 0) - (b.processedOn ?? 0));
        for (let slot = 0; slot < QUEUES[queue].concurrency; slot++) {
          const job = running[slot];
          workers.push({
            id: `${id}:${queue}:${slot + 1}`,
            pool_id: id,
            job_name: job?.name ?? '',
            job_id: job?.id ?? '',
            ...(job?.processedOn ? { start_at: new Date(job.processedOn).toISOString() } : {}),
          });
        }
      }
    }
    return workers;
  }

  /** Every schedule of background work, by id. */
  async listSchedules(query: ScheduleListQuery): Promise<Paged<ScheduleTaskDto>> {
    const page = await this.schedules.list(query.page, query.page_size);
    return new Paged(
      page.items.map((schedule) => ({
        id: schedule.id,
        vendor_type: schedule.vendorType,
        vendor_id: schedule.vendorId,
        cron: schedule.cron,
        update_time: schedule.updateTime.toISOString(),
      })),
      page.total,
      page.page,
      page.pageSize,
    );
  }

  /**
   * Whether the schedules are paused: Harbor asks it of every job type at once (`all`) and answers for the job that
   * starts scheduled runs.
   */
  async schedulerStatus(jobType: string): Promise<SchedulerStatusDto> {
    if (jobType.toLowerCase() !== ALL) throw ApiError.badRequest("job_type can only be 'all'");
    return { paused: (await this.jobs.pausedJobTypes()).has(JobName.ScheduledRun) };
  }

  /**
   * Per job type: the jobs due that wait to run, how long the oldest has waited, and whether the type is paused. A job of a
   * paused type that a worker took after the pause is only on its way back to wait, and counts as waiting; it is
   * looked for among the active jobs before and after reading the waiting ones, so that it is seen wherever it is.
   */
  async listQueues(): Promise<JobQueueDto[]> {
    const paused = await this.jobs.pausedJobTypes();
    const pausedTypes = Object.values(JobName).filter((type) => paused.has(type));
    const held = (jobs: Job[]) =>
      jobs.filter((job) => job.processedOn !== undefined && job.processedOn >= (paused.get(job.name) ?? Infinity));
    const before = pausedTypes.length > 0 ? held(await this.jobsOf(pausedTypes, ['active'])) : [];
    const pending = await this.jobsOf(Object.values(JobName), PENDING_STATES);
    const after = pausedTypes.length > 0 ? held(await this.jobsOf(pausedTypes, ['active'])) : [];
    const byId = new Map([...before, ...pending, ...after].map((job) => [job.id, job]));
    const now = Date.now();
    const dueAt = (job: Job) => job.timestamp + (job.opts.delay ?? 0);
    return Object.values(JobName).map((type) => {
      // A job enqueued to run later (a schedule's next run) is not waiting before it is due; one a worker has taken was
      // due (a held job put back to wait may carry a new delay). It waits from the time it was due.
      const waiting = [...byId.values()].filter(
        (job) => job.name === String(type) && (dueAt(job) <= now || job.processedOn !== undefined),
      );
      const since = Math.min(now, ...waiting.map(dueAt));
      return {
        job_type: type,
        count: waiting.length,
        latency: Math.max(0, Math.floor((now - since) / 1000)),
        paused: paused.has(type),
      };
    });
  }

  /**
   * Harbor's actions on a job type (or `all`): `pause` holds its waiting jobs (running ones go on) until `resume`;
   * `stop` removes its waiting jobs and stops its running ones, the tasks of task-backed jobs ending Stopped.
   */
  async act(jobType: string, { action }: ActionRequestDto): Promise<void> {
    const types = this.jobTypes(jobType);
    if (action === 'pause') return this.jobs.pause(types);
    if (action === 'resume') return this.jobs.resume(types);
    const found = await this.jobsOf(types, [...PENDING_STATES, 'active']);
    const executions = new Set<number>();
    const others: string[] = [];
    for (const job of found) {
      const id = job.id;
      if (id === undefined) continue;
      const task = isTaskBacked(job.name as JobName) ? await this.executions.getTaskByJobId(id) : undefined;
      if (task && !isFinalTaskStatus(task.status)) executions.add(task.executionId);
      else others.push(id);
    }
    // Through the tasks' own stop: they end Stopped, and their jobs leave the queue or see their signal aborted.
    for (const executionId of executions) await this.tasks.stop(executionId);
    await this.jobs.cancel(others);
  }

  private jobTypes(jobType: string): JobName[] {
    if (jobType.toLowerCase() === ALL) return Object.values(JobName);
    if (!isJobName(jobType)) throw ApiError.notFound(`no job type ${jobType}`);
    return [jobType];
  }

  /** The jobs of these types in these states, from the queues that carry them. */
  private async jobsOf(types: readonly JobName[], states: readonly string[]): Promise<Job[]> {
    const queues = new Set(types.map((type) => JOBS[type].queue));
    const found: Job[] = [];
    for (const queue of queues) {
      const jobs = await this.jobs.queue(queue).getJobs([...states] as never, 0, -1);
      found.push(...jobs.filter((job) => job && (types as readonly string[]).includes(job.name)));
    }
    return found;
  }
}

/** A pool's id: the host and pid of its process, as its runner names itself in the jobs it takes. */
function poolId(beat: Heartbeat): string {
  return `${beat.host}:${beat.pid}`;
}

/** The queues a jobservice process works: those of the job types it runs. */
function queuesOf(beat: Heartbeat): QueueName[] {
  return [...new Set(beat.jobTypes.filter(isJobName).map((type) => JOBS[type].queue))].sort();
}
