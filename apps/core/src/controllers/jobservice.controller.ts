import { Controller, Get } from '@nestjs/common';
import { z } from 'zod';
import { API_PREFIX } from '../constants.js';
import { JobLogParams, ScheduleListQuery, type ScheduleTaskDto, ScheduleTaskListDto } from '../dtos/jobservice.dto.js';
import { type Paged } from '../http/responses.js';
import { Endpoint, Params, Query } from '../openapi/endpoint.decorator.js';
import { JobMonitorService } from '../services/job-monitor.service.js';

const ACCESS = (action: 'list' | 'stop') => ({ kind: 'system', resource: 'jobservice-monitor', action }) as const;

/** Harbor's job service dashboard (`/jobservice`) and its schedule list (`/schedules`). */
@Controller(API_PREFIX)
export class JobServiceController {
  constructor(private readonly monitor: JobMonitorService) {}

  @Get('jobservice/jobs/:job_id/log')
  @Endpoint({
    operationId: 'actionGetJobLog',
    summary: 'The log of the task a job ran for',
    tag: 'jobservice',
    access: ACCESS('list'),
    params: JobLogParams,
    response: { description: 'The log', schema: z.string() },
    errors: [400, 404],
  })
  jobLog(@Params() params: JobLogParams): Promise<string> {
    return this.monitor.jobLog(params.job_id);
  }

  @Get('schedules')
  @Endpoint({
    operationId: 'listSchedules',
    summary: 'Every schedule of background work: its vendor, cron and last change',
    tag: 'schedule',
    access: ACCESS('list'),
    query: ScheduleListQuery,
    response: { description: 'One page of schedules', schema: ScheduleTaskListDto, headers: ['X-Total-Count', 'Link'] },
    errors: [400],
  })
  listSchedules(@Query() query: ScheduleListQuery): Promise<Paged<ScheduleTaskDto>> {
    return this.monitor.listSchedules(query);
  }
}
