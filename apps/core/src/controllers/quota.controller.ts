import { Controller, Get, Put } from '@nestjs/common';
import { Auth } from '../auth/auth.decorator.js';
import { type RequestAuth } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import { ListQuotasQueryDto, QuotaDto, QuotaListDto, QuotaParamsDto, QuotaUpdateReqDto } from '../dtos/quota.dto.js';
import { type Paged } from '../http/responses.js';
import { Body, Endpoint, Params, Query } from '../openapi/endpoint.decorator.js';
import { QuotaService } from '../services/quota.service.js';

@Controller(API_PREFIX)
export class QuotaController {
  constructor(private readonly quotas: QuotaService) {}

  @Get('quotas')
  @Endpoint({
    operationId: 'listQuotas',
    summary: 'The storage quotas of projects, with their usage',
    tag: 'quota',
    access: { kind: 'system', resource: 'quota', action: 'list' },
    query: ListQuotasQueryDto,
    response: { description: 'One page of quotas', schema: QuotaListDto, headers: ['X-Total-Count', 'Link'] },
    errors: [400],
  })
  list(@Query() query: ListQuotasQueryDto): Promise<Paged<QuotaDto>> {
    return this.quotas.list(query);
  }

  @Get('quotas/:id')
  @Endpoint({
    operationId: 'getQuota',
    summary: 'One project storage quota',
    tag: 'quota',
    access: { kind: 'system', resource: 'quota', action: 'read' },
    params: QuotaParamsDto,
    response: { description: 'The quota', schema: QuotaDto },
    errors: [400, 404],
  })
  get(@Params() params: QuotaParamsDto): Promise<QuotaDto> {
    return this.quotas.get(params.id);
  }

  @Put('quotas/:id')
  @Endpoint({
    operationId: 'updateQuota',
    summary: 'Sets the hard storage limit of a quota, in bytes; -1 for unlimited',
    tag: 'quota',
    access: { kind: 'system', resource: 'quota', action: 'update' },
    params: QuotaParamsDto,
    body: QuotaUpdateReqDto,
    response: { description: 'The quota was updated' },
    errors: [400, 404],
  })
  update(@Auth() auth: RequestAuth, @Params() params: QuotaParamsDto, @Body() body: QuotaUpdateReqDto): Promise<void> {
    return this.quotas.update(auth, params.id, body);
  }
}
