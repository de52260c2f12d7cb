import { Controller, Delete, Get, Put } from '@nestjs/common';
import { Auth, CurrentProject } from '../auth/auth.decorator.js';
import { type ProjectRef, type RequestAuth } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import {
  ListQuery,
  ProjectNameParams,
  RepositoryDto,
  RepositoryListDto,
  RepositoryParams,
  RepositoryUpdateDto,
} from '../dtos/repository.dto.js';
import { type Paged } from '../http/responses.js';
import { Body, Endpoint, Params, Query } from '../openapi/endpoint.decorator.js';
import { ImageRepositoryService } from '../services/repository.service.js';

const PAGE_HEADERS = ['X-Total-Count', 'Link'];

/** Harbor's repositories: every repository of the registry belongs to the project its name starts with. */
@Controller(API_PREFIX)
export class RepositoryController {
  constructor(private readonly repositories: ImageRepositoryService) {}

  @Get('repositories')
  @Endpoint({
    operationId: 'listAllRepositories',
    summary: 'Lists the repositories the caller may see: all for a system admin, else public and member projects',
    tag: 'repository',
    access: { kind: 'anyone' },
    query: ListQuery,
    response: { description: 'One page of repositories', schema: RepositoryListDto, headers: PAGE_HEADERS },
    errors: [400],
  })
  listAll(@Auth() auth: RequestAuth, @Query() query: ListQuery): Promise<Paged<RepositoryDto>> {
    return this.repositories.listVisible(auth.principal, query);
  }

  @Get('projects/:project_name/repositories')
  @Endpoint({
    operationId: 'listRepositories',
    summary: 'Lists the repositories of a project',
    tag: 'repository',
    access: { kind: 'project', resource: 'repository', action: 'list', param: 'project_name' },
    params: ProjectNameParams,
    query: ListQuery,
    response: { description: 'One page of repositories', schema: RepositoryListDto, headers: PAGE_HEADERS },
    errors: [400, 404],
  })
  list(@CurrentProject() project: ProjectRef, @Query() query: ListQuery): Promise<Paged<RepositoryDto>> {
    return this.repositories.listInProject(project, query);
  }

  @Get('projects/:project_name/repositories/:repository_name')
  @Endpoint({
    operationId: 'getRepository',
    summary: 'One repository; a name with "/" is URL-encoded twice (a/b → a%252Fb)',
    tag: 'repository',
    access: { kind: 'project', resource: 'repository', action: 'list', param: 'project_name' },
    params: RepositoryParams,
    response: { description: 'The repository', schema: RepositoryDto },
    errors: [400, 404],
  })
  get(@CurrentProject() project: ProjectRef, @Params() params: RepositoryParams): Promise<RepositoryDto> {
    return this.repositories.get(project, params);
  }

  @Put('projects/:project_name/repositories/:repository_name')
  @Endpoint({
    operationId: 'updateRepository',
    summary: "Changes a repository's description",
    tag: 'repository',
    access: { kind: 'project', resource: 'repository', action: 'update', param: 'project_name' },
    params: RepositoryParams,
    body: RepositoryUpdateDto,
    response: { description: 'The description was changed' },
    errors: [400, 404],
  })
  update(
    @Auth() auth: RequestAuth,
    @CurrentProject() project: ProjectRef,
    @Params() params: RepositoryParams,
    @Body() body: RepositoryUpdateDto,
  ): Promise<void> {
    return this.repositories.update(auth, project, params, body);
  }

  @Delete('projects/:project_name/repositories/:repository_name')
  @Endpoint({
    operationId: 'deleteRepository',
    summary: 'Deletes a repository with all its artifacts and tags',
    tag: 'repository',
    access: { kind: 'project', resource: 'repository', action: 'delete', param: 'project_name' },
    params: RepositoryParams,
    response: { description: 'The repository was deleted' },
    errors: [400, 404],
  })
  delete(
    @Auth() auth: RequestAuth,
    @CurrentProject() project: ProjectRef,
    @Params() params: RepositoryParams,
  ): Promise<void> {
    return this.repositories.delete(auth, project, params);
  }
}
