import { Controller, Delete, Get, Post } from '@nestjs/common';
import { CurrentProject } from '../auth/auth.decorator.js';
import { type ProjectRef } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import { ProjectParamsDto } from '../dtos/project.dto.js';
import { TrustedKeyDto, TrustedKeyListDto, TrustedKeyParamsDto, TrustedKeyReqDto } from '../dtos/trusted-key.dto.js';
import { type WithHeaders } from '../http/responses.js';
import { Body, Endpoint, Params } from '../openapi/endpoint.decorator.js';
import { TrustedKeyService } from '../services/trusted-key.service.js';

const PROJECT_PARAM = 'project_name_or_id';
const KEYS = 'projects/:project_name_or_id/trusted-keys';
const IS_RESOURCE_NAME = {
  'X-Is-Resource-Name': 'true: project_name_or_id is a name even when it consists of digits only',
};

/**
 * The keys a project trusts for content trust: when it holds keys of a kind, only a signature of that kind that
 * verifies against one of them lets a pull through. Part of the project's configuration: its administrators manage
 * them, its members read them.
 */
@Controller(API_PREFIX)
export class TrustedKeyController {
  constructor(private readonly keys: TrustedKeyService) {}

  @Get(KEYS)
  @Endpoint({
    operationId: 'ListTrustedKeys',
    summary: 'Lists the cosign public keys and notation trust-store certificates a project trusts, oldest first',
    tag: 'project',
    access: { kind: 'project', resource: 'configuration', action: 'read', param: PROJECT_PARAM },
    params: ProjectParamsDto,
    headers: IS_RESOURCE_NAME,
    response: { description: 'The trusted keys', schema: TrustedKeyListDto },
    errors: [400, 404],
  })
  list(@CurrentProject() project: ProjectRef): Promise<TrustedKeyDto[]> {
    return this.keys.list(project);
  }

  @Post(KEYS)
  @Endpoint({
    operationId: 'CreateTrustedKey',
    summary:
      'Adds a trusted key: a cosign public key (PEM "PUBLIC KEY", ECDSA P-256/P-384/P-521 or RSA) or a notation ' +
      'trust-store certificate (PEM "CERTIFICATE"); private keys and anything unreadable are refused (400), the ' +
      'same key twice (409)',
    tag: 'project',
    access: { kind: 'project', resource: 'configuration', action: 'update', param: PROJECT_PARAM },
    params: ProjectParamsDto,
    headers: IS_RESOURCE_NAME,
    body: TrustedKeyReqDto,
    status: 201,
    response: { description: 'The key was added', headers: ['Location'] },
    errors: [400, 404, 409],
  })
  create(
    @CurrentProject() project: ProjectRef,
    @Params() params: ProjectParamsDto,
    @Body() body: TrustedKeyReqDto,
  ): Promise<WithHeaders<undefined>> {
    return this.keys.create(project, params.project_name_or_id, body);
  }

  @Get(`${KEYS}/:key_id`)
  @Endpoint({
    operationId: 'GetTrustedKey',
    summary: 'Reads one trusted key of a project',
    tag: 'project',
    access: { kind: 'project', resource: 'configuration', action: 'read', param: PROJECT_PARAM },
    params: TrustedKeyParamsDto,
    headers: IS_RESOURCE_NAME,
    response: { description: 'The key', schema: TrustedKeyDto },
    errors: [400, 404],
  })
  get(@CurrentProject() project: ProjectRef, @Params() params: TrustedKeyParamsDto): Promise<TrustedKeyDto> {
    return this.keys.get(project, params.key_id);
  }

  @Delete(`${KEYS}/:key_id`)
  @Endpoint({
    operationId: 'DeleteTrustedKey',
    summary: 'Removes a trusted key; signatures made with it no longer count once the project trusts no such key',
    tag: 'project',
    access: { kind: 'project', resource: 'configuration', action: 'update', param: PROJECT_PARAM },
    params: TrustedKeyParamsDto,
    headers: IS_RESOURCE_NAME,
    response: { description: 'The key was removed' },
    errors: [400, 404],
  })
  delete(@CurrentProject() project: ProjectRef, @Params() params: TrustedKeyParamsDto): Promise<void> {
    return this.keys.delete(project, params.key_id);
  }
}
