import { Controller, Delete, Get, Patch, Post, Put } from '@nestjs/common';
import { type ScannerAdapterMetadata } from '@wharf/scanner';
import { CurrentProject } from '../auth/auth.decorator.js';
import { type ProjectRef } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import { ProjectParamsDto } from '../dtos/project.dto.js';
import {
  IsDefaultDto,
  ProjectScannerDto,
  ScannerAdapterMetadataDto,
  ScannerListQuery,
  ScannerParamsDto,
  ScannerRegistrationDto,
  ScannerRegistrationListDto,
  ScannerRegistrationReqDto,
  ScannerRegistrationSettingsDto,
} from '../dtos/scanner.dto.js';
import { type Paged, type WithHeaders } from '../http/responses.js';
import { Body, Endpoint, Params, Query } from '../openapi/endpoint.decorator.js';
import { ScannerService } from '../services/scanner.service.js';

const PROJECT_PARAM = 'project_name_or_id';
const IS_RESOURCE_NAME = {
  'X-Is-Resource-Name': 'true: project_name_or_id is a name even when it consists of digits only',
};
const REGISTRATION = 'scanners/:registration_id';
const system = (action: 'list' | 'read' | 'create' | 'update' | 'delete') =>
  ({ kind: 'system', resource: 'scanner', action }) as const;

/**
 * Harbor's scanner registrations (system administration) and each project's scanner: external scanners behind the
 * Scanner Adapter API v1, and the built-in Trivy scanner (`Trivy`, url `builtin:trivy`, immutable).
 */
@Controller(API_PREFIX)
export class ScannerController {
  constructor(private readonly scanners: ScannerService) {}

  @Get('scanners')
  @Endpoint({
    operationId: 'listScanners',
    summary: 'Lists the scanner registrations; q filters by name, description or url (exact, or ~ for a part)',
    tag: 'scanner',
    access: system('list'),
    query: ScannerListQuery,
    response: {
      description: 'One page of registrations',
      schema: ScannerRegistrationListDto,
      headers: ['X-Total-Count', 'Link'],
    },
    errors: [400],
  })
  list(@Query() query: ScannerListQuery): Promise<Paged<ScannerRegistrationDto>> {
    return this.scanners.list(query);
  }

  @Post('scanners')
  @Endpoint({
    operationId: 'createScanner',
    summary:
      'Registers a scanner adapter (not asked: ping it first). Its access credential is kept encrypted and never ' +
      'answered',
    tag: 'scanner',
    access: system('create'),
    body: ScannerRegistrationReqDto,
    status: 201,
    response: { description: 'The registration was added', headers: ['Location'] },
    errors: [400, 409],
  })
  create(@Body() body: ScannerRegistrationReqDto): Promise<WithHeaders<undefined>> {
    return this.scanners.create(body);
  }

  @Post('scanners/ping')
  @Endpoint({
    operationId: 'pingScanner',
    summary: "Asks a scanner adapter for its metadata with the given settings; 400 with the reason when it can't",
    tag: 'scanner',
    access: system('create'),
    body: ScannerRegistrationSettingsDto,
    response: { description: 'The adapter answered with usable metadata' },
    errors: [400],
  })
  ping(@Body() body: ScannerRegistrationSettingsDto): Promise<void> {
    return this.scanners.ping(body);
  }

  @Get(REGISTRATION)
  @Endpoint({
    operationId: 'getScanner',
    summary: 'Gets a scanner registration',
    tag: 'scanner',
    access: system('read'),
    params: ScannerParamsDto,
    response: { description: 'The registration', schema: ScannerRegistrationDto },
    errors: [404],
  })
  get(@Params() params: ScannerParamsDto): Promise<ScannerRegistrationDto> {
    return this.scanners.get(params.registration_id);
  }

  @Put(REGISTRATION)
  @Endpoint({
    operationId: 'updateScanner',
    summary:
      'Changes a scanner registration; an omitted or empty access_credential keeps the stored one. The built-in ' +
      'scanner is immutable (403)',
    tag: 'scanner',
    access: system('update'),
    params: ScannerParamsDto,
    body: ScannerRegistrationReqDto,
    response: { description: 'The registration was changed' },
    errors: [400, 404, 409],
  })
  update(@Params() params: ScannerParamsDto, @Body() body: ScannerRegistrationReqDto): Promise<void> {
    return this.scanners.update(params.registration_id, body);
  }

  @Delete(REGISTRATION)
  @Endpoint({
    operationId: 'deleteScanner',
    summary:
      'Deletes a scanner registration and answers it; the built-in scanner and the system default cannot be ' +
      'deleted (403). Projects that used it use the default again',
    tag: 'scanner',
    access: system('delete'),
    params: ScannerParamsDto,
    response: { description: 'The deleted registration', schema: ScannerRegistrationDto },
    errors: [404],
  })
  delete(@Params() params: ScannerParamsDto): Promise<ScannerRegistrationDto> {
    return this.scanners.delete(params.registration_id);
  }

  @Patch(REGISTRATION)
  @Endpoint({
    operationId: 'setScannerAsDefault',
    summary: 'Makes an enabled scanner registration the system default ({"is_default": true}); there is one default',
    tag: 'scanner',
    access: system('update'),
    params: ScannerParamsDto,
    body: IsDefaultDto,
    response: { description: 'The registration is the system default' },
    errors: [400, 404],
  })
  setDefault(@Params() params: ScannerParamsDto, @Body() body: IsDefaultDto): Promise<void> {
    return this.scanners.setDefault(params.registration_id, body);
  }

  @Get(`${REGISTRATION}/metadata`)
  @Endpoint({
    operationId: 'getScannerMetadata',
    summary:
      "The scanner's metadata: what it is and can do, from its adapter or the built-in scanner (503 if unavailable)",
    tag: 'scanner',
    access: system('read'),
    params: ScannerParamsDto,
    response: { description: 'The metadata of the scanner', schema: ScannerAdapterMetadataDto },
    errors: [404, 503],
  })
  metadata(@Params() params: ScannerParamsDto): Promise<ScannerAdapterMetadata> {
    return this.scanners.metadata(params.registration_id);
  }

  @Get('projects/:project_name_or_id/scanner')
  @Endpoint({
    operationId: 'getScannerOfProject',
    summary: "The project's scanner registration: the one set for it, or the system default",
    tag: 'project',
    access: { kind: 'project', resource: 'scanner', action: 'read', param: PROJECT_PARAM },
    params: ProjectParamsDto,
    headers: IS_RESOURCE_NAME,
    response: { description: 'The registration', schema: ScannerRegistrationDto },
    errors: [400, 404],
  })
  projectScanner(@CurrentProject() project: ProjectRef): Promise<ScannerRegistrationDto> {
    return this.scanners.projectScanner(project);
  }

  @Put('projects/:project_name_or_id/scanner')
  @Endpoint({
    operationId: 'setScannerOfProject',
    summary: "Sets the project's scanner to an enabled registration",
    tag: 'project',
    access: { kind: 'project', resource: 'scanner', action: 'create', param: PROJECT_PARAM },
    params: ProjectParamsDto,
    headers: IS_RESOURCE_NAME,
    body: ProjectScannerDto,
    response: { description: "The project's scanner was set" },
    errors: [400, 404],
  })
  setProjectScanner(@CurrentProject() project: ProjectRef, @Body() body: ProjectScannerDto): Promise<void> {
    return this.scanners.setProjectScanner(project, body.uuid);
  }

  @Get('projects/:project_name_or_id/scanner/candidates')
  @Endpoint({
    operationId: 'listScannerCandidatesOfProject',
    summary: "The enabled registrations the project's scanner may be set to; q as for /scanners",
    tag: 'project',
    access: { kind: 'project', resource: 'scanner', action: 'create', param: PROJECT_PARAM },
    params: ProjectParamsDto,
    query: ScannerListQuery,
    headers: IS_RESOURCE_NAME,
    response: {
      description: 'One page of registrations',
      schema: ScannerRegistrationListDto,
      headers: ['X-Total-Count', 'Link'],
    },
    errors: [400, 404],
  })
  candidates(@Query() query: ScannerListQuery): Promise<Paged<ScannerRegistrationDto>> {
    return this.scanners.list(query, { enabledOnly: true });
  }
}
