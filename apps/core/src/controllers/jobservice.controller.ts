import { Controller, Get, Put } from '@nestjs/common';
import { z } from 'zod';
import { API_PREFIX } from '../constants.js';
import {
  ActionRequestDto,
  JobLogParams,
  type JobQueueDto,
  JobQueueListDto,
  JobTypeParams,
  ScheduleListQuery,
  type ScheduleTaskDto,
  ScheduleTaskListDto,
  SchedulerStatusDto,
  PoolParams,
  type WorkerDto,
  WorkerListDto,
  type WorkerPoolDto,
  WorkerPoolListDto,
} from '../dtos/jobservice.dto.js';
import { type Paged } from '../http/responses.js';
import { Body, Endpoint, Params, Query } from '../openapi/endpoint.decorator.js';
import { JobMonitorService } from '../services/job-monitor.service.js';

const ACCESS = (action: 'list' | 'stop') => ({ kind: 'system', resource: 'jobservice-monitor', action }) as const;

/** Harbor's job service dashboard (`/jobservice`) and its schedule list (`/schedules`). */
@Controller(API_PREFIX)
export class JobServiceController {
  constructor(private readonly monitor: JobMonitorService) {}

  @Get('jobservice/pools')
  @Endpoint({
    operationId: 'getWorkerPools',
    summary: 'One worker pool per running jobservice process: its host, pid, start, last heartbeat and concurrency',
    tag: 'jobservice',
    access: ACCESS('list'),
    response: { description: 'The pools', schema: WorkerPoolListDto },
  })
  listPools(): Promise<WorkerPoolDto[]> {
    return this.monitor.listPools();
  }

  @Get('jobservice/pools/:pool_id/workers')
  @Endpoint({
    operationId: 'getWorkers',
    summary: "The workers of a pool ('all' for every pool): one per concurrency slot, with the job running in it",
    tag: 'jobservice',
    access: ACCESS('list'),
    params: PoolParams,
    response: { description: 'The workers', schema: WorkerListDto },
    errors: [400, 404],
  })
  listWorkers(@Params() params: PoolParams): Promise<WorkerDto[]> {
    return this.monitor.listWorkers(params.pool_id);
  }

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

  @Get('jobservice/queues')
  @Endpoint({
    operationId: 'listJobQueues',
    summary:
      'Per job type: the jobs waiting to run, how long the oldest has waited (seconds), and whether it is paused',
    tag: 'jobservice',
    access: ACCESS('list'),
    response: { description: 'One entry per job type', schema: JobQueueListDto },
  })
  listQueues(): Promise<JobQueueDto[]> {
    return this.monitor.listQueues();
  }

  @Put('jobservice/queues/:job_type')
  @Endpoint({
    operationId: 'actionPendingJobs',
    summary:
      "Stops a job type's waiting and running jobs (their tasks end Stopped), or pauses or resumes the type; " +
      "'all' for every job type",
    tag: 'jobservice',
    access: ACCESS('stop'),
    params: JobTypeParams,
    body: ActionRequestDto,
    response: { description: 'Done' },
    errors: [400, 404],
  })
  async act(@Params() params: JobTypeParams, @Body() body: ActionRequestDto): Promise<void> {
    await this.monitor.act(params.job_type, body);
  }

  @Get('schedules/:job_type/paused')
  @Endpoint({
    operationId: 'getSchedulePaused',
    summary: "Whether scheduled runs are paused (the job type that starts them); job_type must be 'all'",
    tag: 'schedule',
    access: { kind: 'authenticated' },
    params: JobTypeParams,
    response: { description: 'The status', schema: SchedulerStatusDto },
    errors: [400],
  })
  schedulerStatus(@Params() params: JobTypeParams): Promise<SchedulerStatusDto> {
    return this.monitor.schedulerStatus(params.job_type);
  }
}
