import { z } from 'zod';
import { PageQuery } from './list.dto.js';

/** A job's id as the job queue gives it (and tasks record it). */
export const JobLogParams = z.object({
  job_id: z.string().regex(/^[A-Za-z0-9:._-]{1,64}$/, 'must be 1 to 64 letters, digits or ":._-"'),
});
export type JobLogParams = z.infer<typeof JobLogParams>;

/** Harbor's `ScheduleTask`: one schedule of background work. */
export const ScheduleTaskDto = z
  .object({
    id: z.number().int(),
    vendor_type: z.string(),
    vendor_id: z.number().int(),
    cron: z.string(),
    update_time: z.iso.datetime(),
  })
  .meta({ id: 'ScheduleTask' });
export type ScheduleTaskDto = z.infer<typeof ScheduleTaskDto>;

export const ScheduleTaskListDto = z.array(ScheduleTaskDto);

export const ScheduleListQuery = z.object({ ...PageQuery });
export type ScheduleListQuery = z.infer<typeof ScheduleListQuery>;

/** Harbor's `JobQueue`: the jobs of one type waiting to run. */
export const JobQueueDto = z
  .object({
    job_type: z.string(),
    /** Jobs waiting, delayed or prioritized. */
    count: z.number().int(),
    /** Seconds the oldest of them has been waiting. */
    latency: z.number().int(),
    paused: z.boolean(),
  })
  .meta({ id: 'JobQueue' });
export type JobQueueDto = z.infer<typeof JobQueueDto>;

export const JobQueueListDto = z.array(JobQueueDto);

/** A job type (`GARBAGE_COLLECTION`, …) or `all`. */
export const JobTypeParams = z.object({ job_type: z.string().max(64) });
export type JobTypeParams = z.infer<typeof JobTypeParams>;

/** Harbor's `ActionRequest`. */
export const ActionRequestDto = z.object({ action: z.enum(['stop', 'pause', 'resume']) }).meta({ id: 'ActionRequest' });
export type ActionRequestDto = z.infer<typeof ActionRequestDto>;

/** Harbor's `SchedulerStatus`. */
export const SchedulerStatusDto = z.object({ paused: z.boolean() }).meta({ id: 'SchedulerStatus' });
export type SchedulerStatusDto = z.infer<typeof SchedulerStatusDto>;

/** Harbor's `WorkerPool`: one running jobservice process. */
export const WorkerPoolDto = z
  .object({
    /** The process's host and pid: `host:pid`. */
    worker_pool_id: z.string(),
    pid: z.number().int(),
    host: z.string(),
    start_at: z.iso.datetime(),
    heartbeat_at: z.iso.datetime(),
    /** Jobs it runs at once: the concurrency of every queue it works, summed. */
    concurrency: z.number().int(),
  })
  .meta({ id: 'WorkerPool' });
export type WorkerPoolDto = z.infer<typeof WorkerPoolDto>;

export const WorkerPoolListDto = z.array(WorkerPoolDto);

/** Harbor's `Worker`: one slot of a queue in a pool, and the job running in it, if any. */
export const WorkerDto = z
  .object({
    /** `host:pid:queue:slot`. */
    id: z.string(),
    pool_id: z.string(),
    /** Empty while the slot is idle. */
    job_name: z.string(),
    job_id: z.string(),
    /** When its job started; absent while idle. */
    start_at: z.iso.datetime().optional(),
  })
  .meta({ id: 'Worker' });
export type WorkerDto = z.infer<typeof WorkerDto>;

export const WorkerListDto = z.array(WorkerDto);

/** A pool's id (`host:pid`) or `all`. */
export const PoolParams = z.object({ pool_id: z.string().max(300) });
export type PoolParams = z.infer<typeof PoolParams>;
