import { Controller, Delete, Get, Post } from '@nestjs/common';
import { Auth, CurrentProject } from '../auth/auth.decorator.js';
import { type ProjectRef, type RequestAuth } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import { ArtifactParams } from '../dtos/artifact.dto.js';
import { NewTagDto, TagDto, TagListDto, TagListQuery, TagParams } from '../dtos/tag.dto.js';
import { type Paged } from '../http/responses.js';
import { Body, Endpoint, Params, Query } from '../openapi/endpoint.decorator.js';
import { TagService } from '../services/tag.service.js';

const TAGS = 'projects/:project_name/repositories/:repository_name/artifacts/:reference/tags';

/** Tags of an artifact, under Harbor's artifact routes. */
@Controller(API_PREFIX)
export class TagController {
  constructor(private readonly tags: TagService) {}

  @Get(TAGS)
  @Endpoint({
    operationId: 'listTags',
    summary: 'Lists the tags of an artifact, newest first; q takes name=v or name=~v',
    tag: 'artifact',
    access: { kind: 'project', resource: 'tag', action: 'list', param: 'project_name' },
    params: ArtifactParams,
    query: TagListQuery,
    response: { description: 'One page of tags', schema: TagListDto, headers: ['X-Total-Count', 'Link'] },
    errors: [400, 404],
  })
  list(
    @CurrentProject() project: ProjectRef,
    @Params() params: ArtifactParams,
    @Query() query: TagListQuery,
  ): Promise<Paged<TagDto>> {
    return this.tags.list(project, params, query);
  }

  @Post(TAGS)
  @Endpoint({
    operationId: 'createTag',
    summary: 'Adds a tag to an artifact; a tag of that name already in the repository is refused (409), not moved',
    tag: 'artifact',
    access: { kind: 'project', resource: 'tag', action: 'create', param: 'project_name' },
    params: ArtifactParams,
    body: NewTagDto,
    status: 201,
    response: { description: 'The tag was added' },
    errors: [400, 404, 409],
  })
  create(
    @Auth() auth: RequestAuth,
    @CurrentProject() project: ProjectRef,
    @Params() params: ArtifactParams,
    @Body() body: NewTagDto,
  ): Promise<void> {
    return this.tags.create(auth, project, params, body);
  }

  @Delete(`${TAGS}/:tag_name`)
  @Endpoint({
    operationId: 'deleteTag',
    summary: 'Removes a tag from an artifact; the artifact stays',
    tag: 'artifact',
    access: { kind: 'project', resource: 'tag', action: 'delete', param: 'project_name' },
    params: TagParams,
    response: { description: 'The tag was removed' },
    errors: [400, 404],
  })
  delete(@Auth() auth: RequestAuth, @CurrentProject() project: ProjectRef, @Params() params: TagParams): Promise<void> {
    return this.tags.delete(auth, project, params);
  }
}
