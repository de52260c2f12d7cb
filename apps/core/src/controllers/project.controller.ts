import { Controller, Delete, Get, Head, Headers, Post, Put } from '@nestjs/common';
import { Auth, CurrentProject } from '../auth/auth.decorator.js';
import { type ProjectRef, type RequestAuth } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import {
  CreateProjectReqDto,
  HeadProjectQueryDto,
  ListProjectsQueryDto,
  ProjectDeletableDto,
  ProjectDto,
  ProjectListDto,
  ProjectParamsDto,
  ProjectSummaryDto,
  UpdateProjectReqDto,
} from '../dtos/project.dto.js';
import { type Paged, type WithHeaders } from '../http/responses.js';
import { Body, Endpoint, Query } from '../openapi/endpoint.decorator.js';
import { ProjectService } from '../services/project.service.js';

const PROJECT_PARAM = 'project_name_or_id';
const IS_RESOURCE_NAME = {
  'X-Is-Resource-Name': 'true: project_name_or_id is a name even when it consists of digits only',
};

@Controller(API_PREFIX)
export class ProjectController {
  constructor(private readonly projects: ProjectService) {}

  // Declared before the GET of the same path, so Fastify keeps this HEAD rather than deriving one from the GET.
  @Head('projects')
  @Endpoint({
    operationId: 'headProject',
    summary: 'Whether a project of the given name exists',
    tag: 'project',
    access: { kind: 'anyone' },
    query: HeadProjectQueryDto,
    response: { description: 'The project exists' },
    errors: [400, 404],
  })
  head(@Auth() auth: RequestAuth, @Query() query: HeadProjectQueryDto): Promise<void> {
    return this.projects.exists(auth, query);
  }

  @Get('projects')
  @Endpoint({
    operationId: 'listProjects',
    summary: 'The projects the caller may see: public ones and those of their memberships (all for administrators)',
    tag: 'project',
    access: { kind: 'anyone' },
    query: ListProjectsQueryDto,
    response: { description: 'One page of projects', schema: ProjectListDto, headers: ['X-Total-Count', 'Link'] },
    errors: [400],
  })
  list(@Auth() auth: RequestAuth, @Query() query: ListProjectsQueryDto): Promise<Paged<ProjectDto>> {
    return this.projects.list(auth, query);
  }

  @Post('projects')
  @Endpoint({
    operationId: 'createProject',
    summary: 'Creates a project owned by the caller, with its quota',
    tag: 'project',
    access: { kind: 'authenticated' },
    body: CreateProjectReqDto,
    headers: { 'X-Resource-Name-In-Location': 'true: the Location names the project rather than its id' },
    status: 201,
    response: { description: 'The project was created', headers: ['Location'] },
    errors: [400, 409],
  })
  create(
    @Auth() auth: RequestAuth,
    @Body() body: CreateProjectReqDto,
    @Headers('x-resource-name-in-location') nameInLocation: string | undefined,
  ): Promise<WithHeaders<undefined>> {
    return this.projects.create(auth, body, nameInLocation === 'true');
  }

  @Get('projects/:project_name_or_id')
  @Endpoint({
    operationId: 'getProject',
    summary: 'A project with its settings',
    tag: 'project',
    access: { kind: 'project', resource: 'project', action: 'read', param: PROJECT_PARAM },
    params: ProjectParamsDto,
    headers: IS_RESOURCE_NAME,
    response: { description: 'The project', schema: ProjectDto },
    errors: [404],
  })
  get(@Auth() auth: RequestAuth, @CurrentProject() project: ProjectRef): Promise<ProjectDto> {
    return this.projects.get(auth, project);
  }

  @Put('projects/:project_name_or_id')
  @Endpoint({
    operationId: 'updateProject',
    summary: "Changes a project's settings; its storage limit only by a system administrator",
    tag: 'project',
    access: { kind: 'project', resource: 'project', action: 'update', param: PROJECT_PARAM },
    params: ProjectParamsDto,
    headers: IS_RESOURCE_NAME,
    body: UpdateProjectReqDto,
    response: { description: 'The project was updated' },
    errors: [400, 404],
  })
  update(
    @Auth() auth: RequestAuth,
    @CurrentProject() project: ProjectRef,
    @Body() body: UpdateProjectReqDto,
  ): Promise<void> {
    return this.projects.update(auth, project, body);
  }

  @Delete('projects/:project_name_or_id')
  @Endpoint({
    operationId: 'deleteProject',
    summary: 'Deletes an empty project with its members, robot accounts and quota',
    tag: 'project',
    access: { kind: 'project', resource: 'project', action: 'delete', param: PROJECT_PARAM },
    params: ProjectParamsDto,
    headers: IS_RESOURCE_NAME,
    response: { description: 'The project was deleted' },
    errors: [404, 412],
  })
  delete(@Auth() auth: RequestAuth, @CurrentProject() project: ProjectRef): Promise<void> {
    return this.projects.delete(auth, project);
  }

  @Get('projects/:project_name_or_id/_deletable')
  @Endpoint({
    operationId: 'getProjectDeletable',
    summary: 'Whether a project can be deleted, and why not',
    tag: 'project',
    access: { kind: 'project', resource: 'project', action: 'delete', param: PROJECT_PARAM },
    params: ProjectParamsDto,
    headers: IS_RESOURCE_NAME,
    response: { description: 'Whether the project can be deleted', schema: ProjectDeletableDto },
    errors: [404],
  })
  deletable(@CurrentProject() project: ProjectRef): Promise<ProjectDeletableDto> {
    return this.projects.deletable(project);
  }

  @Get('projects/:project_name_or_id/summary')
  @Endpoint({
    operationId: 'getProjectSummary',
    summary: 'Repository and member counts and the quota of a project',
    tag: 'project',
    access: { kind: 'project', resource: 'project', action: 'read', param: PROJECT_PARAM },
    params: ProjectParamsDto,
    headers: IS_RESOURCE_NAME,
    response: { description: 'The summary of the project', schema: ProjectSummaryDto },
    errors: [404],
  })
  summary(@Auth() auth: RequestAuth, @CurrentProject() project: ProjectRef): Promise<ProjectSummaryDto> {
    return this.projects.summary(auth, project);
  }
}
