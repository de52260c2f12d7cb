import { Injectable } from '@nestjs/common';
import { type ProjectRole, parseProjectRole, projectRoleName } from '@wharf/auth';
import { parsePagination } from '@wharf/db';
import { DataSource } from 'typeorm';
import { type ProjectRef, type RequestAuth, principalName } from '../auth/principal.js';
import {
  type ListMembersQueryDto,
  type ProjectMemberEntityDto,
  type ProjectMemberReqDto,
  type RoleRequestDto,
} from '../dtos/member.dto.js';
import { ApiError } from '../errors/api-error.js';
import { Paged, type WithHeaders, created } from '../http/responses.js';
import { type MemberRecord, MemberRepository, type MemberUser } from '../repositories/member.repository.js';
import { AuditService } from './audit.service.js';

function roleOf(id: number): ProjectRole {
  const role = parseProjectRole(id);
  if (role === undefined) throw ApiError.badRequest('role_id: must be a role id from 1 to 5');
  return role;
}

function toDto(record: MemberRecord): ProjectMemberEntityDto {
  return {
    id: record.id,
    project_id: record.projectId,
    entity_name: record.entityName,
    // The database allows only roles 1 to 5.
    role_name: projectRoleName(record.role),
    role_id: record.role,
    entity_id: record.entityId,
    entity_type: record.entityType,
  };
}

function hasValue(value: unknown): boolean {
  return value !== null && value !== undefined && value !== '' && value !== 0;
}

/** Project members: users and the role each holds in a project. */
@Injectable()
export class MemberService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly members: MemberRepository,
    private readonly audit: AuditService,
  ) {}

  async list(project: ProjectRef, query: ListMembersQueryDto): Promise<Paged<ProjectMemberEntityDto>> {
    const pagination = parsePagination(query.page, query.page_size);
    const { items, total } = await this.members.list(project.projectId, query.entityname, pagination);
    return new Paged(items.map(toDto), total, pagination.page, pagination.pageSize);
  }

  async get(project: ProjectRef, memberId: number): Promise<ProjectMemberEntityDto> {
    const member = await this.members.find(project.projectId, memberId);
    if (!member) throw ApiError.notFound(`member ${memberId} not found in project ${project.name}`);
    return toDto(member);
  }

  /**
   * Adds a user by id or name. `projectNameOrId` is the path segment the caller used, which the Location repeats
   * as Harbor's does.
   */
  async create(
    auth: RequestAuth,
    project: ProjectRef,
    projectNameOrId: string,
    body: ProjectMemberReqDto,
  ): Promise<WithHeaders<undefined>> {
    const group = body.member_group;
    if (group && Object.values(group).some(hasValue)) {
      throw ApiError.badRequest('member_group: user groups are not supported; add users with member_user');
    }
    const role = roleOf(body.role_id);
    const user = await this.findUser(body.member_user);
    const id = await this.dataSource.transaction(async (manager) => {
      const memberId = await this.members.insert(manager, project.projectId, user.userId, role);
      if (memberId === undefined) {
        throw ApiError.conflict(`user ${user.username} is already a member of project ${project.name}`);
      }
      await this.audit.record(manager, {
        projectId: project.projectId,
        operation: 'create',
        resourceType: 'member',
        resource: user.username,
        username: principalName(auth.principal),
      });
      return memberId;
    });
    return created(`/api/v2.0/projects/${encodeURIComponent(projectNameOrId)}/members/${id}`);
  }

  private async findUser(given: ProjectMemberReqDto['member_user']): Promise<MemberUser> {
    if (given?.user_id !== null && given?.user_id !== undefined) {
      const user = await this.members.findUserById(given.user_id);
      if (!user) throw ApiError.badRequest(`member_user.user_id: user ${given.user_id} not found`);
      return user;
    }
    if (given?.username !== null && given?.username !== undefined && given.username !== '') {
      const user = await this.members.findUserByName(given.username);
      if (!user) throw ApiError.badRequest(`member_user.username: user ${given.username} not found`);
      return user;
    }
    throw ApiError.badRequest('member_user: give the user_id or the username of the user to add');
  }

  async updateRole(auth: RequestAuth, project: ProjectRef, memberId: number, body: RoleRequestDto): Promise<void> {
    const role = roleOf(body.role_id);
    await this.dataSource.transaction(async (manager) => {
      const member = await this.members.updateRole(manager, project.projectId, memberId, role);
      if (!member) throw ApiError.notFound(`member ${memberId} not found in project ${project.name}`);
      await this.audit.record(manager, {
        projectId: project.projectId,
        operation: 'update',
        resourceType: 'member',
        resource: member.entityName,
        username: principalName(auth.principal),
      });
    });
  }

  async delete(auth: RequestAuth, project: ProjectRef, memberId: number): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const member = await this.members.delete(manager, project.projectId, memberId);
      if (!member) throw ApiError.notFound(`member ${memberId} not found in project ${project.name}`);
      await this.audit.record(manager, {
        projectId: project.projectId,
        operation: 'delete',
        resourceType: 'member',
        resource: member.entityName,
        username: principalName(auth.principal),
      });
    });
  }
}
