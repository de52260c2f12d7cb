import { Controller, Delete, Get, Post, Put } from '@nestjs/common';
import { Auth, CurrentProject } from '../auth/auth.decorator.js';
import { type ProjectRef, type RequestAuth } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import {
  ListMembersQueryDto,
  MemberParamsDto,
  ProjectMemberEntityDto,
  ProjectMemberListDto,
  ProjectMemberReqDto,
  RoleRequestDto,
} from '../dtos/member.dto.js';
import { ProjectParamsDto } from '../dtos/project.dto.js';
import { type Paged, type WithHeaders } from '../http/responses.js';
import { Body, Endpoint, Params, Query } from '../openapi/endpoint.decorator.js';
import { MemberService } from '../services/member.service.js';

const PROJECT_PARAM = 'project_name_or_id';
const IS_RESOURCE_NAME = {
  'X-Is-Resource-Name': 'true: project_name_or_id is a name even when it consists of digits only',
};

@Controller(API_PREFIX)
export class MemberController {
  constructor(private readonly members: MemberService) {}

  @Get('projects/:project_name_or_id/members')
  @Endpoint({
    operationId: 'listProjectMembers',
    summary: 'The members of a project, optionally those whose name contains entityname',
    tag: 'member',
    access: { kind: 'project', resource: 'member', action: 'list', param: PROJECT_PARAM },
    params: ProjectParamsDto,
    query: ListMembersQueryDto,
    headers: IS_RESOURCE_NAME,
    response: {
      description: 'One page of members',
      schema: ProjectMemberListDto,
      headers: ['X-Total-Count', 'Link'],
    },
    errors: [400, 404],
  })
  list(
    @CurrentProject() project: ProjectRef,
    @Query() query: ListMembersQueryDto,
  ): Promise<Paged<ProjectMemberEntityDto>> {
    return this.members.list(project, query);
  }

  @Post('projects/:project_name_or_id/members')
  @Endpoint({
    operationId: 'createProjectMember',
    summary: 'Adds a user to a project with a role',
    tag: 'member',
    access: { kind: 'project', resource: 'member', action: 'create', param: PROJECT_PARAM },
    params: ProjectParamsDto,
    headers: IS_RESOURCE_NAME,
    body: ProjectMemberReqDto,
    status: 201,
    response: { description: 'The member was added', headers: ['Location'] },
    errors: [400, 404, 409],
  })
  create(
    @Auth() auth: RequestAuth,
    @CurrentProject() project: ProjectRef,
    @Params() params: ProjectParamsDto,
    @Body() body: ProjectMemberReqDto,
  ): Promise<WithHeaders<undefined>> {
    return this.members.create(auth, project, params.project_name_or_id, body);
  }

  @Get('projects/:project_name_or_id/members/:mid')
  @Endpoint({
    operationId: 'getProjectMember',
    summary: 'One member of a project',
    tag: 'member',
    access: { kind: 'project', resource: 'member', action: 'read', param: PROJECT_PARAM },
    params: MemberParamsDto,
    headers: IS_RESOURCE_NAME,
    response: { description: 'The member', schema: ProjectMemberEntityDto },
    errors: [400, 404],
  })
  get(@CurrentProject() project: ProjectRef, @Params() params: MemberParamsDto): Promise<ProjectMemberEntityDto> {
    return this.members.get(project, params.mid);
  }

  @Put('projects/:project_name_or_id/members/:mid')
  @Endpoint({
    operationId: 'updateProjectMember',
    summary: "Changes a member's role",
    tag: 'member',
    access: { kind: 'project', resource: 'member', action: 'update', param: PROJECT_PARAM },
    params: MemberParamsDto,
    headers: IS_RESOURCE_NAME,
    body: RoleRequestDto,
    response: { description: 'The role was changed' },
    errors: [400, 404],
  })
  update(
    @Auth() auth: RequestAuth,
    @CurrentProject() project: ProjectRef,
    @Params() params: MemberParamsDto,
    @Body() body: RoleRequestDto,
  ): Promise<void> {
    return this.members.updateRole(auth, project, params.mid, body);
  }

  @Delete('projects/:project_name_or_id/members/:mid')
  @Endpoint({
    operationId: 'deleteProjectMember',
    summary: 'Removes a member from a project',
    tag: 'member',
    access: { kind: 'project', resource: 'member', action: 'delete', param: PROJECT_PARAM },
    params: MemberParamsDto,
    headers: IS_RESOURCE_NAME,
    response: { description: 'The member was removed' },
    errors: [400, 404],
  })
  delete(
    @Auth() auth: RequestAuth,
    @CurrentProject() project: ProjectRef,
    @Params() params: MemberParamsDto,
  ): Promise<void> {
    return this.members.delete(auth, project, params.mid);
  }
}
