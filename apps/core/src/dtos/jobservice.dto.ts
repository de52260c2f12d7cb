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
