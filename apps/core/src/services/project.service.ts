import { Injectable } from '@nestjs/common';
import { ALL_PROJECTS_NAMESPACE, ProjectRole } from '@wharf/auth';
import { parsePagination, parseQuery, parseSort } from '@wharf/db';
import { DataSource } from 'typeorm';
import { type Principal, type ProjectRef, type RequestAuth, principalName } from '../auth/principal.js';
import {
  type CreateProjectReqDto,
  type HeadProjectQueryDto,
  type ListProjectsQueryDto,
  PROJECT_METADATA_KEYS,
  type ProjectDeletableDto,
  type ProjectDto,
  type ProjectMetadataDto,
  type ProjectMetadataReqDto,
  type ProjectSummaryDto,
  type UpdateProjectReqDto,
} from '../dtos/project.dto.js';
import { ContentTrust } from '../policy/content-trust.js';
import { ApiError } from '../errors/api-error.js';
import { Paged, type WithHeaders, created } from '../http/responses.js';
import {
  ProjectRepository,
  type ProjectRecord,
  type ProjectVisibility,
  isForeignKeyViolation,
} from '../repositories/project.repository.js';
import { QuotaRepository } from '../repositories/quota.repository.js';
import { AccessService } from './access.service.js';
import { AuditService } from './audit.service.js';
import { CveAllowlistService } from './cve-allowlist.service.js';
import { SettingService } from './setting.service.js';

/** Harbor's answer, word for word, when a project that holds repositories is to be deleted. */
/** Says why and what to do, not "cannot be deleted": the client already says what failed. */
export const PROJECT_NOT_EMPTY = 'the project still holds repositories; delete them first';

/** Harbor ranks roles by power to fill the deprecated `current_user_role_id`. */
const ROLE_POWER: Record<number, number> = {
  [ProjectRole.ProjectAdmin]: 50,
  [ProjectRole.Maintainer]: 40,
  [ProjectRole.Developer]: 30,
  [ProjectRole.Guest]: 20,
  [ProjectRole.LimitedGuest]: 10,
};

function highestRole(roles: readonly number[]): number | undefined {
  let best: number | undefined;
  for (const role of roles) {
    if (best === undefined || (ROLE_POWER[role] ?? 0) > (ROLE_POWER[best] ?? 0)) best = role;
  }
  return best;
}

function toMetadataDto(stored: Record<string, string>): ProjectMetadataDto {
  const out: Record<string, string> = {};
  for (const key of PROJECT_METADATA_KEYS) {
    const value = stored[key];
    if (value !== undefined) out[key] = value;
  }
  return { ...out, public: stored.public === 'true' ? 'true' : 'false' };
}

function toDto(record: ProjectRecord): ProjectDto {
  const role = highestRole(record.viewerRoles);
  return {
    project_id: record.projectId,
    ...(record.ownerId === null ? {} : { owner_id: record.ownerId }),
    name: record.name,
    creation_time: record.creationTime.toISOString(),
    update_time: record.updateTime.toISOString(),
    ...(record.ownerName === undefined ? {} : { owner_name: record.ownerName }),
    ...(role === undefined ? {} : { current_user_role_id: role, current_user_role_ids: record.viewerRoles }),
    repo_count: record.repoCount,
    ...(record.metadata === undefined ? {} : { metadata: toMetadataDto(record.metadata) }),
  };
}

/**
 * The metadata values a request sets: its `metadata` object, with the deprecated top-level `public` as a fallback
 * (Harbor accepts it for replication from old versions). Null values mean "not given".
 */
function requestedMetadata(
  deprecatedPublic: boolean | null | undefined,
  metadata: ProjectMetadataReqDto | null | undefined,
): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (value !== null && value !== undefined) values[key] = value;
  }
  if (values.public === undefined && deprecatedPublic !== null && deprecatedPublic !== undefined) {
    values.public = String(deprecatedPublic);
  }
  return values;
}

/** Projects: creation under the system's restriction, visibility in lists, settings, deletion and summaries. */
@Injectable()
export class ProjectService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly projects: ProjectRepository,
    private readonly quotas: QuotaRepository,
    private readonly access: AccessService,
    private readonly audit: AuditService,
    private readonly settings: SettingService,
    private readonly allowlists: CveAllowlistService,
    private readonly contentTrust: ContentTrust,
  ) {}

  async create(auth: RequestAuth, body: CreateProjectReqDto, nameInLocation: boolean): Promise<WithHeaders<undefined>> {
    const { principal } = auth;
    if (principal.kind === 'anonymous') throw ApiError.unauthorized();
    // Harbor's "is system admin" for project creation: an administrator or a system robot granted project:create.
    const creatorIsAdmin = this.access.canInSystem(principal, 'project', 'create');
    if (principal.kind === 'robot' && !creatorIsAdmin) {
      throw ApiError.forbidden('only system robot accounts granted project creation can create projects');
    }
    const settings = await this.settings.get();
    if (settings.project_creation_restriction === 'adminonly' && !creatorIsAdmin) {
      throw ApiError.forbidden('only system administrators can create projects');
    }
    if (body.registry_id !== null && body.registry_id !== undefined) {
      throw ApiError.badRequest('registry_id: proxy cache projects are not supported; omit registry_id');
    }
    const metadata = requestedMetadata(body.public, body.metadata);
    if (metadata.retention_id !== undefined) {
      if (metadata.retention_id !== '') {
        throw ApiError.badRequest('metadata.retention_id: must be omitted when creating a project');
      }
      delete metadata.retention_id;
    }
    metadata.public ??= 'false';
    // As Harbor: only an administrator chooses the limit; 0 or none means the system's default for new projects.
    const storageLimit =
      creatorIsAdmin && body.storage_limit !== null && body.storage_limit !== undefined && body.storage_limit !== 0
        ? body.storage_limit
        : settings.storage_per_project;
    const ownerId = principal.kind === 'user' ? principal.userId : await this.projects.defaultOwnerId();
    if (ownerId === undefined) {
      throw ApiError.precondition('no system administrator exists to own a project created by a robot account');
    }

    const projectId = await this.dataSource.transaction(async (manager) => {
      const id = await this.projects.create(manager, { name: body.project_name, ownerId, metadata, storageLimit });
      if (id === undefined) throw ApiError.conflict(`project ${body.project_name} already exists`);
      if (body.cve_allowlist) await this.allowlists.put(id, body.cve_allowlist, manager);
      await this.audit.record(manager, {
        projectId: id,
        operation: 'create',
        resourceType: 'project',
        resource: body.project_name,
        username: principalName(principal),
      });
      return id;
    });
    return created(`/api/v2.0/projects/${nameInLocation ? body.project_name : projectId}`);
  }

  /** Harbor's HEAD /projects: 404 when no project has the name, else whether the caller may see it. */
  async exists(auth: RequestAuth, query: HeadProjectQueryDto): Promise<void> {
    const project = await this.projects.findRefByName(query.project_name);
    if (!project) throw ApiError.notFound(`project ${query.project_name} not found`);
    if (!(await this.access.canInProject(auth.principal, project, 'project', 'read'))) {
      throw auth.principal.kind === 'anonymous' ? ApiError.unauthorized() : ApiError.forbidden();
    }
  }

  async list(auth: RequestAuth, query: ListProjectsQueryDto): Promise<Paged<ProjectDto>> {
    const pagination = parsePagination(query.page, query.page_size);
    const terms = parseQuery(query.q);
    const sort = parseSort(query.sort);
    const { principal } = auth;
    // Anonymous callers see public projects only, so asking them for private ones finds nothing.
    if (principal.kind === 'anonymous' && query.public === false) {
      return new Paged([], 0, pagination.page, pagination.pageSize);
    }
    const { items, total } = await this.projects.list({
      visibility: this.visibility(principal),
      terms,
      sort,
      pagination,
      nameContains: query.name === '' ? undefined : query.name,
      owner: query.owner === '' ? undefined : query.owner,
      public: query.public,
      viewerUserId: principal.kind === 'user' ? principal.userId : undefined,
      detail: query.with_detail ?? true,
    });
    return new Paged(items.map(toDto), total, pagination.page, pagination.pageSize);
  }

  private visibility(principal: Principal): ProjectVisibility {
    if (this.access.canInSystem(principal, 'project', 'list')) return { kind: 'all' };
    switch (principal.kind) {
      case 'anonymous':
        return { kind: 'public' };
      case 'user':
        return { kind: 'member-or-public', userId: principal.userId };
      case 'robot': {
        const projectGrants = principal.grants.filter((grant) => grant.kind === 'project');
        // A robot whose permissions cover every project sees every project, as a system robot does in Harbor.
        if (projectGrants.some((grant) => grant.namespace === ALL_PROJECTS_NAMESPACE && grant.effect !== 'deny')) {
          return { kind: 'all' };
        }
        return { kind: 'named-or-public', names: [...new Set(projectGrants.map((grant) => grant.namespace))] };
      }
    }
  }

  async get(auth: RequestAuth, project: ProjectRef): Promise<ProjectDto> {
    const viewer = auth.principal.kind === 'user' ? auth.principal.userId : undefined;
    const record = await this.projects.findRecord(project.projectId, viewer);
    if (!record) throw ApiError.notFound(`project ${project.name} not found`);
    return { ...toDto(record), cve_allowlist: await this.allowlists.ofProject(project.projectId) };
  }

  async update(auth: RequestAuth, project: ProjectRef, body: UpdateProjectReqDto): Promise<void> {
    const { principal } = auth;
    const changes = requestedMetadata(body.public, body.metadata);
    if (changes.retention_id !== undefined) {
      // The retention policy owns this value; a request may only repeat it (Harbor's portal sends it back).
      const stored = await this.projects.metadata(project.projectId);
      if (changes.retention_id !== (stored.retention_id ?? '')) {
        throw ApiError.badRequest(
          'metadata.retention_id: omit it, or send the one already associated with this project',
        );
      }
      delete changes.retention_id;
    }
    const storageLimit = body.storage_limit ?? undefined;
    if (storageLimit !== undefined && !this.access.canInSystem(principal, 'quota', 'update')) {
      throw ApiError.forbidden('only system administrators can change the storage limit of a project');
    }
    await this.dataSource.transaction(async (manager) => {
      if (!(await this.projects.updateMetadata(manager, project.projectId, changes))) {
        throw ApiError.notFound(`project ${project.name} not found`);
      }
      if (storageLimit !== undefined) {
        await this.quotas.setHardStorageOfProject(manager, project.projectId, storageLimit);
      }
      if (body.cve_allowlist) await this.allowlists.put(project.projectId, body.cve_allowlist, manager);
      await this.audit.record(manager, {
        projectId: project.projectId,
        operation: 'update',
        resourceType: 'project',
        resource: project.name,
        username: principalName(principal),
      });
    });
    // Prevention or its allowlist may have changed: this server's next pull meets the change.
    this.allowlists.forgetPolicies();
    // The change notice reaches the registry too, but a pull right after this request must meet the new settings.
    this.contentTrust.forget();
  }

  async delete(auth: RequestAuth, project: ProjectRef): Promise<void> {
    try {
      await this.dataSource.transaction(async (manager) => {
        // Locked first, so a repository pushed meanwhile either is counted here or fails against the deleted project.
        if (!(await this.projects.lock(manager, project.projectId))) {
          throw ApiError.notFound(`project ${project.name} not found`);
        }
        if ((await this.projects.repositoryCount(project.projectId, manager)) > 0) {
          throw ApiError.precondition(PROJECT_NOT_EMPTY);
        }
        await this.projects.delete(manager, project.projectId);
        await this.audit.record(manager, {
          projectId: project.projectId,
          operation: 'delete',
          resourceType: 'project',
          resource: project.name,
          username: principalName(auth.principal),
        });
      });
    } catch (error) {
      if (isForeignKeyViolation(error)) throw ApiError.precondition(PROJECT_NOT_EMPTY);
      throw error;
    }
  }

  async deletable(project: ProjectRef): Promise<ProjectDeletableDto> {
    const repositories = await this.projects.repositoryCount(project.projectId);
    return repositories > 0 ? { deletable: false, message: PROJECT_NOT_EMPTY } : { deletable: true };
  }

  /** Member counts and the quota appear only for callers who may see members and the quota, as in Harbor. */
  async summary(auth: RequestAuth, project: ProjectRef): Promise<ProjectSummaryDto> {
    const { principal } = auth;
    const [mayListMembers, mayReadQuota] = await Promise.all([
      this.access.canInProject(principal, project, 'member', 'list'),
      this.access.canInProject(principal, project, 'quota', 'read'),
    ]);
    const [repoCount, roleCounts, quota] = await Promise.all([
      this.projects.repositoryCount(project.projectId),
      mayListMembers ? this.projects.memberCountsByRole(project.projectId) : undefined,
      mayReadQuota ? this.quotas.findByProject(project.projectId) : undefined,
    ]);
    const count = (role: ProjectRole): number => roleCounts?.get(role) ?? 0;
    return {
      repo_count: repoCount,
      ...(roleCounts === undefined
        ? {}
        : {
            project_admin_count: count(ProjectRole.ProjectAdmin),
            maintainer_count: count(ProjectRole.Maintainer),
            developer_count: count(ProjectRole.Developer),
            guest_count: count(ProjectRole.Guest),
            limited_guest_count: count(ProjectRole.LimitedGuest),
          }),
      ...(quota === undefined
        ? {}
        : { quota: { hard: { storage: quota.hardStorage }, used: { storage: quota.usedStorage } } }),
    };
  }
}
