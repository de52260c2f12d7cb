import type { SystemResource } from '@wharf/auth';
import type { TaskBackedJobName } from '@wharf/jobs';
import { Controller, Get, Post, Put, type Type } from '@nestjs/common';
import { z } from 'zod';
import { API_PREFIX } from '../constants.js';
import {
  runIdParams,
  ScheduleRequestDto,
  SystemJobListQuery,
  type SystemJobRunDto,
  SystemJobRunDto as RunSchema,
  SystemJobRunListDto,
  SystemJobScheduleDto,
} from '../dtos/system-job.dto.js';
import { type Paged, WithHeaders, created } from '../http/responses.js';
import { Body, Endpoint, Params, Query } from '../openapi/endpoint.decorator.js';
import {
  GARBAGE_COLLECTION,
  PURGE_AUDIT,
  type SystemJobKind,
  SystemJobService,
} from '../services/system-job.service.js';

const LIST_HEADERS = ['X-Total-Count', 'Link'];

/** What differs between Harbor's system job routes: the path, the run id's name, and the words of the contract. */
interface SystemJobRoutes {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each kind has its own parameters
  kind: SystemJobKind<TaskBackedJobName, any>;
  /** Under `/system/`. */
  path: string;
  /** The name of a run's id in the path. */
  idParam: string;
  /** The system resource the routes are authorized on. */
  resource: SystemResource;
  tag: string;
  operationIds: Record<'history' | 'getSchedule' | 'create' | 'update' | 'get' | 'stop' | 'log', string>;
  summaries: Record<'history' | 'getSchedule' | 'create' | 'update' | 'get' | 'stop' | 'log', string>;
}

/**
 * The controller of one of Harbor's system jobs (`/system/gc`, `/system/purgeaudit`): its history, one run, its log
 * and stop, and its schedule, where a schedule of type Manual runs it now.
 */
function systemJobController(routes: SystemJobRoutes): Type<unknown> {
  const { kind, path, tag, operationIds: op, summaries: say } = routes;
  const base = `system/${path}`;
  const RunParams = runIdParams(routes.idParam);
  type RunParams = Record<string, number>;
  const access = (action: 'create' | 'read' | 'update' | 'list' | 'stop') =>
    ({ kind: 'system', resource: routes.resource, action }) as const;

  @Controller(API_PREFIX)
  class SystemJobController {
    constructor(readonly jobs: SystemJobService) {}

    @Get(base)
    @Endpoint({
      operationId: op.history,
      summary: say.history,
      tag,
      access: access('list'),
      query: SystemJobListQuery,
      response: { description: 'One page of runs', schema: SystemJobRunListDto, headers: LIST_HEADERS },
      errors: [400],
    })
    history(@Query() query: SystemJobListQuery): Promise<Paged<SystemJobRunDto>> {
      return this.jobs.history(kind, query);
    }

    @Get(`${base}/schedule`)
    @Endpoint({
      operationId: op.getSchedule,
      summary: say.getSchedule,
      tag,
      access: access('read'),
      response: { description: 'The schedule (type None when there is none)', schema: SystemJobScheduleDto },
    })
    getSchedule(): Promise<SystemJobScheduleDto> {
      return this.jobs.getSchedule(kind);
    }

    @Post(`${base}/schedule`)
    @Endpoint({
      operationId: op.create,
      summary: say.create,
      tag,
      access: access('create'),
      body: ScheduleRequestDto,
      status: 201,
      response: { description: 'The run was started (Location) or the schedule set', headers: ['Location'] },
      errors: [400, 409],
    })
    async create(@Body() body: ScheduleRequestDto): Promise<WithHeaders<undefined>> {
      const run = await this.jobs.setSchedule(kind, body);
      return run === undefined ? new WithHeaders(undefined, {}) : created(`${API_PREFIX}/${base}/${run}`);
    }

    @Put(`${base}/schedule`)
    @Endpoint({
      operationId: op.update,
      summary: say.update,
      tag,
      access: access('update'),
      body: ScheduleRequestDto,
      response: { description: 'The schedule was set' },
      errors: [400, 409],
    })
    async update(@Body() body: ScheduleRequestDto): Promise<void> {
      await this.jobs.setSchedule(kind, body);
    }

    @Get(`${base}/:${routes.idParam}`)
    @Endpoint({
      operationId: op.get,
      summary: say.get,
      tag,
      access: access('read'),
      params: RunParams,
      response: { description: 'The run', schema: RunSchema },
      errors: [400, 404],
    })
    get(@Params() params: RunParams): Promise<SystemJobRunDto> {
      return this.jobs.get(kind, params[routes.idParam]);
    }

    @Put(`${base}/:${routes.idParam}`)
    @Endpoint({
      operationId: op.stop,
      summary: say.stop,
      tag,
      access: access('stop'),
      params: RunParams,
      response: { description: 'Stopped' },
      errors: [400, 404],
    })
    async stop(@Params() params: RunParams): Promise<void> {
      await this.jobs.stop(kind, params[routes.idParam]);
    }

    @Get(`${base}/:${routes.idParam}/log`)
    @Endpoint({
      operationId: op.log,
      summary: say.log,
      tag,
      access: access('read'),
      params: RunParams,
      response: { description: 'The log', schema: z.string() },
      errors: [400, 404],
    })
    log(@Params() params: RunParams): Promise<string> {
      return this.jobs.log(kind, params[routes.idParam]);
    }
  }
  return SystemJobController;
}

/** Harbor's `/system/gc`: online garbage collection now or on a schedule, its history, its logs and stop. */
export const GcController = systemJobController({
  kind: GARBAGE_COLLECTION,
  path: 'gc',
  idParam: 'gc_id',
  resource: 'garbage-collection',
  tag: 'gc',
  operationIds: {
    history: 'getGCHistory',
    getSchedule: 'getGCSchedule',
    create: 'createGCSchedule',
    update: 'updateGCSchedule',
    get: 'getGC',
    stop: 'stopGC',
    log: 'getGCLog',
  },
  summaries: {
    history: 'The runs of garbage collection, newest first',
    getSchedule: "Garbage collection's schedule and the parameters each scheduled run gets",
    create:
      'Collects garbage now (schedule type Manual) or sets its schedule, with delete_untagged, dry_run, ' +
      'workers (1–10) and time_window (hours)',
    update: "Changes garbage collection's schedule (None removes it) or, with type Manual, runs it now",
    get: 'One run of garbage collection',
    stop: 'Stops a run of garbage collection; what it deleted stays deleted',
    log: 'The log of one run of garbage collection',
  },
});

/** Harbor's `/system/purgeaudit`: purging the audit log now or on a schedule, its history, logs and stop. */
export const PurgeAuditController = systemJobController({
  kind: PURGE_AUDIT,
  path: 'purgeaudit',
  idParam: 'purge_id',
  resource: 'purge-audit',
  tag: 'purge',
  operationIds: {
    history: 'getPurgeHistory',
    getSchedule: 'getPurgeSchedule',
    create: 'createPurgeSchedule',
    update: 'updatePurgeSchedule',
    get: 'getPurgeJob',
    stop: 'stopPurge',
    log: 'getPurgeJobLog',
  },
  summaries: {
    history: 'The runs of the audit log purge, newest first',
    getSchedule: "The audit log purge's schedule and the parameters each scheduled run gets",
    create:
      'Purges the audit log now (schedule type Manual) or sets its schedule, with audit_retention_hour, ' +
      'include_event_types and dry_run',
    update: "Changes the audit log purge's schedule (None removes it) or, with type Manual, runs it now",
    get: 'One run of the audit log purge',
    stop: 'Stops a run of the audit log purge; what it purged stays purged',
    log: 'The log of one run of the audit log purge',
  },
});
