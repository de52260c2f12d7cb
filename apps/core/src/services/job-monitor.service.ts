import { Injectable } from '@nestjs/common';
import { ExecutionRepository, ScheduleRepository } from '@wharf/db';
import { type ScheduleListQuery, type ScheduleTaskDto } from '../dtos/jobservice.dto.js';
import { ApiError } from '../errors/api-error.js';
import { Paged } from '../http/responses.js';

/** Harbor's job service dashboard: what the job platform runs and has scheduled. */
@Injectable()
export class JobMonitorService {
  constructor(
    private readonly executions: ExecutionRepository,
    private readonly schedules: ScheduleRepository,
  ) {}

  /** The log of the task a job ran for; a job of no task (or an unknown id) has none to show. */
  async jobLog(jobId: string): Promise<string> {
    const task = await this.executions.getTaskByJobId(jobId);
    const log = task && (await this.executions.taskLog(task.id));
    if (!log) throw ApiError.notFound(`no task log for job ${jobId}`);
    return log.text;
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
}
