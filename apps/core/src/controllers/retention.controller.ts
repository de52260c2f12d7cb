import { Controller, Delete, Get, Patch, Post, Put } from '@nestjs/common';
import { z } from 'zod';
import { Auth } from '../auth/auth.decorator.js';
import { type RequestAuth } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import {
  OperateRetentionExecutionDto,
  RetentionExecutionDto,
  RetentionExecutionListDto,
  RetentionExecutionParamsDto,
  RetentionExecutionTaskDto,
  RetentionExecutionTaskListDto,
  RetentionListQueryDto,
  RetentionMetadataDto,
  RetentionParamsDto,
  RetentionPolicyDto,
  RetentionPolicyOutDto,
  RetentionTaskParamsDto,
  TriggerRetentionDto,
} from '../dtos/retention.dto.js';
import { type Paged, type WithHeaders, created } from '../http/responses.js';
import { Body, Endpoint, Params, Query } from '../openapi/endpoint.decorator.js';
import { RetentionExecutionService } from '../services/retention-execution.service.js';
import { RETENTION_METADATA, RetentionService } from '../services/retention.service.js';

/**
 * Harbor's tag retention policies. Routes name a policy, not a project: any signed-in caller reaches them, and the
 * service checks the tag-retention permission in the policy's project.
 */
@Controller(API_PREFIX)
export class RetentionController {
  constructor(
    private readonly retentions: RetentionService,
    private readonly runs: RetentionExecutionService,
  ) {}

  @Get('retentions/metadatas')
  @Endpoint({
    operationId: 'getRentenitionMetadata',
    summary: 'The rule templates and selectors a retention policy may use',
    tag: 'retention',
    access: { kind: 'authenticated' },
    response: { description: 'Templates and selectors', schema: RetentionMetadataDto },
  })
  metadata(): RetentionMetadataDto {
    return RETENTION_METADATA;
  }

  @Post('retentions')
  @Endpoint({
    operationId: 'createRetention',
    summary: 'Creates the retention policy of a project (one per project; its id goes to the project metadata)',
    tag: 'retention',
    access: { kind: 'authenticated' },
    body: RetentionPolicyDto,
    status: 201,
    response: { description: 'The policy was created', headers: ['Location'] },
    errors: [400, 409],
  })
  async create(@Auth() auth: RequestAuth, @Body() body: RetentionPolicyDto): Promise<WithHeaders<undefined>> {
    const id = await this.retentions.create(auth, body);
    return created(`${API_PREFIX}/retentions/${id}`);
  }

  @Get('retentions/:id')
  @Endpoint({
    operationId: 'getRetention',
    summary: 'A retention policy',
    tag: 'retention',
    access: { kind: 'authenticated' },
    params: RetentionParamsDto,
    response: { description: 'The policy', schema: RetentionPolicyOutDto },
    errors: [400, 404],
  })
  get(@Auth() auth: RequestAuth, @Params() params: RetentionParamsDto): Promise<RetentionPolicyOutDto> {
    return this.retentions.get(auth, params.id);
  }

  @Put('retentions/:id')
  @Endpoint({
    operationId: 'updateRetention',
    summary: "Replaces a retention policy's rules and trigger; its project stays the same",
    tag: 'retention',
    access: { kind: 'authenticated' },
    params: RetentionParamsDto,
    body: RetentionPolicyDto,
    response: { description: 'The policy was updated' },
    errors: [400, 404, 409],
  })
  update(
    @Auth() auth: RequestAuth,
    @Params() params: RetentionParamsDto,
    @Body() body: RetentionPolicyDto,
  ): Promise<void> {
    return this.retentions.update(auth, params.id, body);
  }

  @Delete('retentions/:id')
  @Endpoint({
    operationId: 'deleteRetention',
    summary: 'Deletes a retention policy and unbinds it from its project',
    tag: 'retention',
    access: { kind: 'authenticated' },
    params: RetentionParamsDto,
    response: { description: 'The policy was deleted' },
    errors: [400, 404],
  })
  delete(@Auth() auth: RequestAuth, @Params() params: RetentionParamsDto): Promise<void> {
    return this.retentions.delete(auth, params.id);
  }

  @Post('retentions/:id/executions')
  @Endpoint({
    operationId: 'triggerRetentionExecution',
    summary: 'Runs a retention policy now, a task per repository in its scope; a dry run deletes nothing',
    tag: 'retention',
    access: { kind: 'authenticated' },
    params: RetentionParamsDto,
    body: TriggerRetentionDto,
    status: 201,
    response: { description: 'The run was started', headers: ['Location'] },
    errors: [400, 404],
  })
  async trigger(
    @Auth() auth: RequestAuth,
    @Params() params: RetentionParamsDto,
    @Body() body: TriggerRetentionDto,
  ): Promise<WithHeaders<undefined>> {
    const executionId = await this.runs.trigger(auth, params.id, body.dry_run ?? false);
    return created(`${API_PREFIX}/retentions/${params.id}/executions/${executionId}`);
  }

  @Get('retentions/:id/executions')
  @Endpoint({
    operationId: 'listRetentionExecutions',
    summary: 'The runs of a retention policy, newest first',
    tag: 'retention',
    access: { kind: 'authenticated' },
    params: RetentionParamsDto,
    query: RetentionListQueryDto,
    response: {
      description: 'One page of runs',
      schema: RetentionExecutionListDto,
      headers: ['X-Total-Count', 'Link'],
    },
    errors: [400, 404],
  })
  listExecutions(
    @Auth() auth: RequestAuth,
    @Params() params: RetentionParamsDto,
    @Query() query: RetentionListQueryDto,
  ): Promise<Paged<RetentionExecutionDto>> {
    return this.runs.list(auth, params.id, query);
  }

  @Patch('retentions/:id/executions/:eid')
  @Endpoint({
    operationId: 'operateRetentionExecution',
    summary: 'Stops a run of a retention policy: its unfinished tasks stop, what was deleted stays deleted',
    tag: 'retention',
    access: { kind: 'authenticated' },
    params: RetentionExecutionParamsDto,
    body: OperateRetentionExecutionDto,
    response: { description: 'The run was stopped' },
    errors: [400, 404],
  })
  operate(@Auth() auth: RequestAuth, @Params() params: RetentionExecutionParamsDto): Promise<void> {
    return this.runs.stop(auth, params.id, params.eid);
  }

  @Get('retentions/:id/executions/:eid/tasks')
  @Endpoint({
    operationId: 'listRetentionTasks',
    summary: 'The tasks of a run, one per repository, with how many artifacts each had and kept',
    tag: 'retention',
    access: { kind: 'authenticated' },
    params: RetentionExecutionParamsDto,
    query: RetentionListQueryDto,
    response: {
      description: 'One page of tasks',
      schema: RetentionExecutionTaskListDto,
      headers: ['X-Total-Count', 'Link'],
    },
    errors: [400, 404],
  })
  listTasks(
    @Auth() auth: RequestAuth,
    @Params() params: RetentionExecutionParamsDto,
    @Query() query: RetentionListQueryDto,
  ): Promise<Paged<RetentionExecutionTaskDto>> {
    return this.runs.listTasks(auth, params.id, params.eid, query);
  }

  @Get('retentions/:id/executions/:eid/tasks/:tid')
  @Endpoint({
    operationId: 'getRetentionTaskLog',
    summary: "A task's log: what it retained, deleted or could not delete in its repository",
    tag: 'retention',
    access: { kind: 'authenticated' },
    params: RetentionTaskParamsDto,
    response: { description: 'The log', schema: z.string() },
    errors: [400, 404],
  })
  taskLog(@Auth() auth: RequestAuth, @Params() params: RetentionTaskParamsDto): Promise<string> {
    return this.runs.taskLog(auth, params.id, params.eid, params.tid);
  }
}
