import { Injectable } from '@nestjs/common';
import { parsePagination, parseQuery, parseSort } from '@wharf/db';
import { RegistryWriter } from '@wharf/registry';
import { DataSource } from 'typeorm';
import { type ProjectRef, type RequestAuth, principalName } from '../auth/principal.js';
import { type ArtifactParams } from '../dtos/artifact.dto.js';
import { type NewTagDto, type TagDto, type TagListQuery, type TagParams } from '../dtos/tag.dto.js';
import { ApiError } from '../errors/api-error.js';
import { Paged } from '../http/responses.js';
import { ImmutabilityRules } from '../policy/immutability.js';
import { throughPolicies } from '../registry/registry-errors.js';
import { TagRepository } from '../repositories/tag.repository.js';
import { ArtifactService, describeReference, tagDto } from './artifact.service.js';
import { AuditService } from './audit.service.js';
import { ImageRepositoryService } from './repository.service.js';

/** Tags of an artifact: listed, added and removed through the API, as Harbor's artifact routes do. */
@Injectable()
export class TagService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly repositories: ImageRepositoryService,
    private readonly artifacts: ArtifactService,
    private readonly tags: TagRepository,
    private readonly audit: AuditService,
    private readonly writer: RegistryWriter,
    private readonly immutability: ImmutabilityRules,
  ) {}

  async list(project: ProjectRef, params: ArtifactParams, query: TagListQuery): Promise<Paged<TagDto>> {
    const repository = await this.repositories.find(project, params.repository_name);
    const page = parsePagination(query.page, query.page_size);
    const terms = parseQuery(query.q);
    const sort = parseSort(query.sort);
    const artifact = await this.artifacts.find(repository, params.reference);
    const { items, total } = await this.tags.listOfArtifact(artifact.id, terms, sort, page);
    const immutable = await this.immutability.matcher(repository.projectId);
    return new Paged(
      items.map((tag) => tagDto(tag, immutable(repository.name, tag.name))),
      total,
      page.page,
      page.pageSize,
    );
  }

  /**
   * Adds a tag to the artifact. A tag of that name elsewhere in the repository is not moved: Harbor answers 409,
   * and a push is the way to move a tag.
   */
  async create(auth: RequestAuth, project: ProjectRef, params: ArtifactParams, body: NewTagDto): Promise<void> {
    const repository = await this.repositories.find(project, params.repository_name);
    await this.dataSource.transaction(async (m) => {
      const artifact = await this.artifacts.find(repository, params.reference, m);
      const outcome = await this.writer.createTag(repository.name, body.name, artifact.digest, { manager: m });
      if (outcome === 'exists') {
        throw ApiError.conflict(`tag ${body.name} already exists in repository ${repository.name}`);
      }
      if (outcome === 'not-found') {
        throw ApiError.notFound(`artifact ${describeReference(repository.name, params.reference)} not found`);
      }
      await this.audit.record(m, {
        projectId: project.projectId,
        operation: 'create',
        resourceType: 'tag',
        resource: `${repository.name}:${body.name}`,
        username: principalName(auth.principal),
      });
    });
  }

  /**
   * Removes a tag of the artifact; the artifact stays. The deletion is a registry event in the same transaction,
   * which the audit log records.
   */
  async delete(auth: RequestAuth, project: ProjectRef, params: TagParams): Promise<void> {
    const repository = await this.repositories.find(project, params.repository_name);
    const artifact = await this.artifacts.find(repository, params.reference);
    const deleted = await throughPolicies(() =>
      this.writer.deleteTag(repository.name, params.tag_name, {
        digest: artifact.digest,
        actor: principalName(auth.principal),
      }),
    );
    if (!deleted) {
      throw ApiError.notFound(`tag ${params.tag_name} of artifact ${repository.name}@${artifact.digest} not found`);
    }
  }
}
