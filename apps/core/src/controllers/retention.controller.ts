import { Controller, Delete, Get, Post, Put } from '@nestjs/common';
import { Auth } from '../auth/auth.decorator.js';
import { type RequestAuth } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import {
  RetentionMetadataDto,
  RetentionParamsDto,
  RetentionPolicyDto,
  RetentionPolicyOutDto,
} from '../dtos/retention.dto.js';
import { type WithHeaders, created } from '../http/responses.js';
import { Body, Endpoint, Params } from '../openapi/endpoint.decorator.js';
import { RETENTION_METADATA, RetentionService } from '../services/retention.service.js';

/**
 * Harbor's tag retention policies. Routes name a policy, not a project: any signed-in caller reaches them, and the
 * service checks the tag-retention permission in the policy's project.
 */
@Controller(API_PREFIX)
export class RetentionController {
  constructor(private readonly retentions: RetentionService) {}

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
}
