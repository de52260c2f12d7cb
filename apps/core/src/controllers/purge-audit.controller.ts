import { Controller, Get, Post, Put } from '@nestjs/common';
import { z } from 'zod';
import { API_PREFIX } from '../constants.js';
import {
  PurgeParams,
  ScheduleRequestDto,
  SystemJobListQuery,
  type SystemJobRunDto,
  SystemJobRunDto as RunSchema,
  SystemJobRunListDto,
  SystemJobScheduleDto,
} from '../dtos/system-job.dto.js';
import { type Paged, WithHeaders, created } from '../http/responses.js';
import { Body, Endpoint, Params, Query } from '../openapi/endpoint.decorator.js';
import { PURGE_AUDIT, SystemJobService } from '../services/system-job.service.js';

const LIST_HEADERS = ['X-Total-Count', 'Link'];
const ACCESS = (action: 'create' | 'read' | 'update' | 'list' | 'stop') =>
  ({ kind: 'system', resource: 'purge-audit', action }) as const;

/** Harbor's `/system/purgeaudit`: purging the audit log now or on a schedule, its history, logs and stop. */
@Controller(API_PREFIX)
export class PurgeAuditController {
  constructor(private readonly jobs: SystemJobService) {}

  @Get('system/purgeaudit')
  @Endpoint({
    operationId: 'getPurgeHistory',
    summary: 'The runs of the audit log purge, newest first',
    tag: 'purge',
    access: ACCESS('list'),
    query: SystemJobListQuery,
    response: { description: 'One page of runs', schema: SystemJobRunListDto, headers: LIST_HEADERS },
    errors: [400],
  })
  history(@Query() query: SystemJobListQuery): Promise<Paged<SystemJobRunDto>> {
    return this.jobs.history(PURGE_AUDIT, query);
  }

  @Get('system/purgeaudit/schedule')
  @Endpoint({
    operationId: 'getPurgeSchedule',
    summary: "The audit log purge's schedule and the parameters each scheduled run gets",
    tag: 'purge',
    access: ACCESS('read'),
    response: { description: 'The schedule (type None when there is none)', schema: SystemJobScheduleDto },
  })
  getSchedule(): Promise<SystemJobScheduleDto> {
    return this.jobs.getSchedule(PURGE_AUDIT);
  }

  @Post('system/purgeaudit/schedule')
  @Endpoint({
    operationId: 'createPurgeSchedule',
    summary:
      'Purges the audit log now (schedule type Manual) or sets its schedule, with audit_retention_hour, ' +
      'include_event_types and dry_run',
    tag: 'purge',
    access: ACCESS('create'),
    body: ScheduleRequestDto,
    status: 201,
    response: { description: 'The run was started (Location) or the schedule set', headers: ['Location'] },
    errors: [400, 409],
  })
  async create(@Body() body: ScheduleRequestDto): Promise<WithHeaders<undefined>> {
    const id = await this.jobs.setSchedule(PURGE_AUDIT, body);
    return id === undefined ? new WithHeaders(undefined, {}) : created(`${API_PREFIX}/system/purgeaudit/${id}`);
  }

  @Put('system/purgeaudit/schedule')
  @Endpoint({
    operationId: 'updatePurgeSchedule',
    summary: "Changes the audit log purge's schedule (None removes it) or, with type Manual, runs it now",
    tag: 'purge',
    access: ACCESS('update'),
    body: ScheduleRequestDto,
    response: { description: 'The schedule was set' },
    errors: [400, 409],
  })
  async update(@Body() body: ScheduleRequestDto): Promise<void> {
    await this.jobs.setSchedule(PURGE_AUDIT, body);
  }

  @Get('system/purgeaudit/:purge_id')
  @Endpoint({
    operationId: 'getPurgeJob',
    summary: 'One run of the audit log purge',
    tag: 'purge',
    access: ACCESS('read'),
    params: PurgeParams,
    response: { description: 'The run', schema: RunSchema },
    errors: [400, 404],
  })
  get(@Params() params: PurgeParams): Promise<SystemJobRunDto> {
    return this.jobs.get(PURGE_AUDIT, params.purge_id);
  }

  @Put('system/purgeaudit/:purge_id')
  @Endpoint({
    operationId: 'stopPurge',
    summary: 'Stops a run of the audit log purge; what it purged stays purged',
    tag: 'purge',
    access: ACCESS('stop'),
    params: PurgeParams,
    response: { description: 'Stopped' },
    errors: [400, 404],
  })
  async stop(@Params() params: PurgeParams): Promise<void> {
    await this.jobs.stop(PURGE_AUDIT, params.purge_id);
  }

  @Get('system/purgeaudit/:purge_id/log')
  @Endpoint({
    operationId: 'getPurgeJobLog',
    summary: 'The log of one run of the audit log purge',
    tag: 'purge',
    access: ACCESS('read'),
    params: PurgeParams,
    response: { description: 'The log', schema: z.string() },
    errors: [400, 404],
  })
  log(@Params() params: PurgeParams): Promise<string> {
    return this.jobs.log(PURGE_AUDIT, params.purge_id);
  }
}
