import { Injectable } from '@nestjs/common';
import { ALL_PROJECTS_NAMESPACE } from '@wharf/auth';
import { type Principal } from '../auth/principal.js';
import { PROJECT_METADATA_KEYS } from '../dtos/project.dto.js';
import {
  type SearchDto,
  type SearchProjectDto,
  type SearchProjectMetadataDto,
  type SearchQuery,
} from '../dtos/search.dto.js';
import { type FoundProject, type ProjectVisibility, SearchRepository } from '../repositories/search.repository.js';

/**
 * Harbor answers every match; a short word would then list a whole installation. Results are cut at this many
 * projects and as many repositories, the first by name.
 */
export const SEARCH_LIMIT = 100;

/**
 * Which projects a caller sees in search and statistics: a system administrator all of them; anyone else the
 * public ones, plus, for a user, those they are a member of and, for a robot, those its permissions name (all of
 * them when it holds permissions on every project).
 */
export function projectVisibility(principal: Principal): ProjectVisibility {
  switch (principal.kind) {
    case 'anonymous':
      return { kind: 'public-and' };
    case 'user':
      return principal.sysadmin ? { kind: 'all' } : { kind: 'public-and', memberUserId: principal.userId };
    case 'robot': {
      const names = new Set<string>();
      for (const grant of principal.grants) {
        if (grant.kind !== 'project' || grant.effect === 'deny') continue;
        if (grant.namespace === ALL_PROJECTS_NAMESPACE) return { kind: 'all' };
        names.add(grant.namespace);
      }
      return { kind: 'public-and', projectNames: [...names] };
    }
  }
}

const METADATA_KEYS: ReadonlySet<string> = new Set(PROJECT_METADATA_KEYS);

function metadataOf(stored: Record<string, string>): SearchProjectMetadataDto {
  const metadata: SearchProjectMetadataDto = { public: 'false' };
  for (const [key, value] of Object.entries(stored)) {
    if (METADATA_KEYS.has(key)) metadata[key as keyof SearchProjectMetadataDto] = value;
  }
  return metadata;
}

function toProjectDto(project: FoundProject): SearchProjectDto {
  const dto: SearchProjectDto = {
    project_id: project.projectId,
    name: project.name,
    creation_time: project.creationTime.toISOString(),
    update_time: project.updateTime.toISOString(),
    deleted: false,
    repo_count: project.repoCount,
    metadata: metadataOf(project.metadata),
  };
  if (project.ownerId !== null) dto.owner_id = project.ownerId;
  if (project.ownerName !== null) dto.owner_name = project.ownerName;
  if (project.role !== null) {
    dto.current_user_role_id = project.role;
    dto.current_user_role_ids = [project.role];
  }
  return dto;
}

@Injectable()
export class SearchService {
  constructor(private readonly search: SearchRepository) {}

  /** Projects and repositories whose names contain `q` (any case) among those the caller may see. */
  async find(principal: Principal, query: SearchQuery): Promise<SearchDto> {
    const request = {
      text: query.q.trim(),
      visibility: projectVisibility(principal),
      userId: principal.kind === 'user' ? principal.userId : undefined,
      limit: SEARCH_LIMIT,
    };
    const [projects, repositories] = await Promise.all([
      this.search.projects(request),
      this.search.repositories(request),
    ]);
    return {
      project: projects.map(toProjectDto),
      repository: repositories.map((r) => ({
        project_id: r.projectId,
        project_name: r.projectName,
        project_public: r.projectPublic,
        repository_name: r.name,
        pull_count: r.pullCount,
        artifact_count: r.artifactCount,
      })),
    };
  }
}
