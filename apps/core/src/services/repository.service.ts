import { Injectable } from '@nestjs/common';
import { parsePagination, parseQuery, parseSort } from '@wharf/db';
import { RegistryWriter } from '@wharf/registry';
import { DataSource } from 'typeorm';
import { type Principal, type ProjectRef, type RequestAuth, principalName } from '../auth/principal.js';
import {
  type ListQuery,
  type RepositoryDto,
  type RepositoryParams,
  type RepositoryUpdateDto,
} from '../dtos/repository.dto.js';
import { ApiError } from '../errors/api-error.js';
import { throughPolicies } from '../registry/registry-errors.js';
import { Paged } from '../http/responses.js';
import {
  type ImageRepositoryRecord,
  ImageRepositoryRepository,
  type RepositoryScope,
} from '../repositories/repository.repository.js';
import { ArtifactPageIndex } from './artifact.page-index.js';
import { AuditService } from './audit.service.js';

function toDto(record: ImageRepositoryRecord, artifactCount: number): RepositoryDto {
  return {
    id: record.id,
    project_id: record.projectId,
    name: record.name,
    description: record.description,
    artifact_count: artifactCount,
    pull_count: record.pullCount,
    creation_time: record.createdAt.toISOString(),
    update_time: record.updatedAt.toISOString(),
  };
}

/**
 * Which repositories `GET /repositories` shows, as Harbor decides: a system admin sees all; a user the public
 * projects' and those of the projects they are a member of; anyone else (anonymous, robots) the public ones.
 */
function visibleScope(principal: Principal): RepositoryScope {
  switch (principal.kind) {
    case 'user':
      return principal.sysadmin ? { kind: 'all' } : { kind: 'visible', userId: principal.userId };
    case 'robot':
    case 'anonymous':
      return { kind: 'visible' };
  }
}

/** Harbor's repositories: the image repositories of the registry, with a description and counts. */
@Injectable()
export class ImageRepositoryService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly repositories: ImageRepositoryRepository,
    private readonly pageIndex: ArtifactPageIndex,
    private readonly audit: AuditService,
    private readonly writer: RegistryWriter,
  ) {}

  /** The repository `name` (without its project) of the project, or 404. */
  async find(project: ProjectRef, name: string): Promise<ImageRepositoryRecord> {
    const fullName = `${project.name}/${name}`;
    const record = await this.repositories.findByName(fullName);
    if (!record) throw ApiError.notFound(`repository ${fullName} not found`);
    return record;
  }

  listVisible(principal: Principal, query: ListQuery): Promise<Paged<RepositoryDto>> {
    return this.list(visibleScope(principal), query);
  }

  listInProject(project: ProjectRef, query: ListQuery): Promise<Paged<RepositoryDto>> {
    return this.list({ kind: 'project', projectId: project.projectId }, query);
  }

  async get(project: ProjectRef, params: RepositoryParams): Promise<RepositoryDto> {
    const record = await this.find(project, params.repository_name);
    const counts = await this.pageIndex.counts([record]);
    return toDto(record, counts.get(record.id) ?? 0);
  }

  async update(
    auth: RequestAuth,
    project: ProjectRef,
    params: RepositoryParams,
    body: RepositoryUpdateDto,
  ): Promise<void> {
    const record = await this.find(project, params.repository_name);
    await this.dataSource.transaction(async (m) => {
      if (!(await this.writer.setDescription(record.id, body.description, { manager: m }))) {
        throw ApiError.notFound(`repository ${record.name} not found`);
      }
      await this.audit.record(m, {
        projectId: project.projectId,
        operation: 'update',
        resourceType: 'repository',
        resource: record.name,
        username: principalName(auth.principal),
      });
    });
  }

  /**
   * Deletes the repository with every artifact and tag in it. Each artifact's deletion is recorded as a registry
   * event (and so in the audit log, as a push is); the repository's own deletion is audited here.
   */
  async delete(auth: RequestAuth, project: ProjectRef, params: RepositoryParams): Promise<void> {
    const record = await this.find(project, params.repository_name);
    const actor = principalName(auth.principal);
    await this.dataSource.transaction(async (m) => {
      if (!(await throughPolicies(() => this.writer.deleteRepository(record.name, { actor, manager: m })))) {
        throw ApiError.notFound(`repository ${record.name} not found`);
      }
      await this.audit.record(m, {
        projectId: project.projectId,
        operation: 'delete',
        resourceType: 'repository',
        resource: record.name,
        username: actor,
      });
    });
    this.pageIndex.forget(record.name);
  }

  private async list(scope: RepositoryScope, query: ListQuery): Promise<Paged<RepositoryDto>> {
    const page = parsePagination(query.page, query.page_size);
    const { items, total } = await this.repositories.list(scope, parseQuery(query.q), parseSort(query.sort), page);
    const counts = await this.pageIndex.counts(items);
    return new Paged(
      items.map((record) => toDto(record, counts.get(record.id) ?? 0)),
      total,
      page.page,
      page.pageSize,
    );
  }
}
