import { Controller, Get, Post, Put } from '@nestjs/common';
import { z } from 'zod';
import { API_PREFIX } from '../constants.js';
import {
  GcParams,
  ScheduleRequestDto,
  SystemJobListQuery,
  type SystemJobRunDto,
  SystemJobRunDto as RunSchema,
  SystemJobRunListDto,
  SystemJobScheduleDto,
} from '../dtos/system-job.dto.js';
import { type Paged, WithHeaders, created } from '../http/responses.js';
import { Body, Endpoint, Params, Query } from '../openapi/endpoint.decorator.js';
import { GARBAGE_COLLECTION, SystemJobService } from '../services/system-job.service.js';

const LIST_HEADERS = ['X-Total-Count', 'Link'];
const ACCESS = (action: 'create' | 'read' | 'update' | 'list' | 'stop') =>
  ({ kind: 'system', resource: 'garbage-collection', action }) as const;

/** Harbor's `/system/gc`: online garbage collection now or on a schedule, its history, its logs and stop. */
@Controller(API_PREFIX)
export class GcController {
  constructor(private readonly jobs: SystemJobService) {}

  @Get('system/gc')
  @Endpoint({
    operationId: 'getGCHistory',
    summary: 'The runs of garbage collection, newest first',
    tag: 'gc',
    access: ACCESS('list'),
    query: SystemJobListQuery,
    response: { description: 'One page of runs', schema: SystemJobRunListDto, headers: LIST_HEADERS },
    errors: [400],
  })
  history(@Query() query: SystemJobListQuery): Promise<Paged<SystemJobRunDto>> {
    return this.jobs.history(GARBAGE_COLLECTION, query);
  }

  @Get('system/gc/schedule')
  @Endpoint({
    operationId: 'getGCSchedule',
    summary: "Garbage collection's schedule and the parameters each scheduled run gets",
    tag: 'gc',
    access: ACCESS('read'),
    response: { description: 'The schedule (type None when there is none)', schema: SystemJobScheduleDto },
  })
  getSchedule(): Promise<SystemJobScheduleDto> {
    return this.jobs.getSchedule(GARBAGE_COLLECTION);
  }

  @Post('system/gc/schedule')
  @Endpoint({
    operationId: 'createGCSchedule',
    summary:
      'Collects garbage now (schedule type Manual) or sets its schedule, with delete_untagged, dry_run, ' +
      'workers (1–10) and time_window (hours)',
    tag: 'gc',
    access: ACCESS('create'),
    body: ScheduleRequestDto,
    status: 201,
    response: { description: 'The run was started (Location) or the schedule set', headers: ['Location'] },
    errors: [400, 409],
  })
  async create(@Body() body: ScheduleRequestDto): Promise<WithHeaders<undefined>> {
    const id = await this.jobs.setSchedule(GARBAGE_COLLECTION, body);
    return id === undefined ? new WithHeaders(undefined, {}) : created(`${API_PREFIX}/system/gc/${id}`);
  }

  @Put('system/gc/schedule')
  @Endpoint({
    operationId: 'updateGCSchedule',
    summary: "Changes garbage collection's schedule (None removes it) or, with type Manual, runs it now",
    tag: 'gc',
    access: ACCESS('update'),
    body: ScheduleRequestDto,
    response: { description: 'The schedule was set' },
    errors: [400, 409],
  })
  async update(@Body() body: ScheduleRequestDto): Promise<void> {
    await this.jobs.setSchedule(GARBAGE_COLLECTION, body);
  }

  @Get('system/gc/:gc_id')
  @Endpoint({
    operationId: 'getGC',
    summary: 'One run of garbage collection',
    tag: 'gc',
    access: ACCESS('read'),
    params: GcParams,
    response: { description: 'The run', schema: RunSchema },
    errors: [400, 404],
  })
  get(@Params() params: GcParams): Promise<SystemJobRunDto> {
    return this.jobs.get(GARBAGE_COLLECTION, params.gc_id);
  }

  @Put('system/gc/:gc_id')
  @Endpoint({
    operationId: 'stopGC',
    summary: 'Stops a run of garbage collection; what it deleted stays deleted',
    tag: 'gc',
    access: ACCESS('stop'),
    params: GcParams,
    response: { description: 'Stopped' },
    errors: [400, 404],
  })
  async stop(@Params() params: GcParams): Promise<void> {
    await this.jobs.stop(GARBAGE_COLLECTION, params.gc_id);
  }

  @Get('system/gc/:gc_id/log')
  @Endpoint({
    operationId: 'getGCLog',
    summary: 'The log of one run of garbage collection',
    tag: 'gc',
    access: ACCESS('read'),
    params: GcParams,
    response: { description: 'The log', schema: z.string() },
    errors: [400, 404],
  })
  log(@Params() params: GcParams): Promise<string> {
    return this.jobs.log(GARBAGE_COLLECTION, params.gc_id);
  }
}
