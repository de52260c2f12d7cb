import { z } from 'zod';
import { PageQuery } from './list.dto.js';

/** Harbor's `ScheduleObj`: when a job runs. */
export const ScheduleObjDto = z
  .object({
    type: z.enum(['Hourly', 'Daily', 'Weekly', 'Custom', 'Manual', 'None', 'Schedule']),
    cron: z.string().max(128).optional(),
    next_scheduled_time: z.iso.datetime().optional(),
  })
  .meta({ id: 'ScheduleObj' });
export type ScheduleObjDto = z.infer<typeof ScheduleObjDto>;

/**
 * Harbor's `GCHistory` and `ExecHistory` (the same fields): one run of a system job, its parameters as the JSON
 * text they were given in.
 */
export const SystemJobRunDto = z
  .object({
    id: z.number().int(),
    job_name: z.string(),
    job_kind: z.string(),
    job_parameters: z.string(),
    schedule: ScheduleObjDto.optional(),
    job_status: z.string(),
    deleted: z.boolean(),
    creation_time: z.iso.datetime(),
    update_time: z.iso.datetime(),
  })
  .meta({ id: 'ExecHistory' });
export type SystemJobRunDto = z.infer<typeof SystemJobRunDto>;

export const SystemJobRunListDto = z.array(SystemJobRunDto);

export const SystemJobListQuery = z.object({
  q: z.string().max(2048).optional(),
  sort: z.string().max(256).optional(),
  ...PageQuery,
});
export type SystemJobListQuery = z.infer<typeof SystemJobListQuery>;

const id = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, 'must be a positive whole number')
  .transform(Number)
  .meta({ type: 'integer', minimum: 1 });

/** The path parameters naming one run of a system job, its id under the name Harbor gives it (`gc_id`, `purge_id`). */
export function runIdParams(name: string) {
  return z.object({ [name]: id });
}

/** Harbor's `Schedule` as a request: when to run, and with which parameters. */
export const ScheduleRequestDto = z
  .object({
    schedule: ScheduleObjDto,
    parameters: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'Schedule' });
export type ScheduleRequestDto = z.infer<typeof ScheduleRequestDto>;

/** Harbor's `Schedule` as answered: the schedule, its parameters and times; only `schedule` when there is none. */
export const SystemJobScheduleDto = z.object({
  id: z.number().int().optional(),
  schedule: ScheduleObjDto,
  parameters: z.record(z.string(), z.unknown()).optional(),
  creation_time: z.iso.datetime().optional(),
  update_time: z.iso.datetime().optional(),
});
export type SystemJobScheduleDto = z.infer<typeof SystemJobScheduleDto>;
