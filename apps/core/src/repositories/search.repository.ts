import { Injectable } from '@nestjs/common';
import { escapeLike } from '@wharf/db';
import { DataSource } from 'typeorm';
import { TOP_LEVEL } from './artifact.repository.js';

/**
 * The projects a caller may see: every project, or the public ones plus those the caller is a member of and those
 * named in its robot permissions.
 */
export type ProjectVisibility =
  { kind: 'all' } | { kind: 'public-and'; memberUserId?: number; projectNames?: readonly string[] };

/** `project p` is public: its `public` metadata says so (served by project_metadata_public_idx). */
export const PROJECT_IS_PUBLIC = `EXISTS (SELECT 1 FROM project_metadata pm
  WHERE pm.project_id = p.project_id AND pm.name = 'public' AND pm.value = 'true')`;

/** An SQL condition on `project p` that holds for the projects `visibility` lets the caller see. */
export function visibleProjectCondition(visibility: ProjectVisibility, params: unknown[]): string {
  if (visibility.kind === 'all') return 'TRUE';
  const alternatives = [PROJECT_IS_PUBLIC];
  if (visibility.memberUserId !== undefined) {
    alternatives.push(`EXISTS (SELECT 1 FROM project_member mb WHERE mb.project_id = p.project_id
      AND mb.entity_type = 'u' AND mb.entity_id = $${params.push(visibility.memberUserId)})`);
  }
  if (visibility.projectNames !== undefined && visibility.projectNames.length > 0) {
    alternatives.push(`p.name = ANY($${params.push(visibility.projectNames)}::text[])`);
  }
  return `(${alternatives.join(' OR ')})`;
}

export interface FoundProject {
  projectId: number;
  name: string;
  ownerId: number | null;
  ownerName: string | null;
  creationTime: Date;
  updateTime: Date;
  repoCount: number;
  metadata: Record<string, string>;
  /** The caller's role in the project by direct membership. */
  role: number | null;
}

export interface FoundRepository {
  name: string;
  projectId: number;
  projectName: string;
  projectPublic: boolean;
  pullCount: number;
  artifactCount: number;
}

interface ProjectRow {
  project_id: number;
  name: string;
  owner_id: number | null;
  owner_name: string | null;
  creation_time: Date;
  update_time: Date;
  repo_count: string;
  metadata: Record<string, string> | null;
  role: number | null;
}

interface RepositoryRow {
  name: string;
  project_id: number;
  project_name: string;
  project_public: boolean;
  pull_count: string;
  artifact_count: string;
}

export interface SearchRequest {
  /** Text the names must contain, matched without regard to case. */
  text: string;
  visibility: ProjectVisibility;
  /** The user whose role in each project is reported. */
  userId?: number;
  limit: number;
}

function containsPattern(text: string): string {
  return `%${escapeLike(text)}%`;
}

@Injectable()
export class SearchRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Visible projects whose name contains the text, by name; their counts are computed for this page only. */
  async projects(request: SearchRequest): Promise<FoundProject[]> {
    const params: unknown[] = [containsPattern(request.text)];
    const visible = visibleProjectCondition(request.visibility, params);
    const role =
      request.userId === undefined
        ? 'NULL::int'
        : `(SELECT mr.role FROM project_member mr WHERE mr.project_id = p.project_id
             AND mr.entity_type = 'u' AND mr.entity_id = $${params.push(request.userId)})`;
    const rows = await this.dataSource.query<ProjectRow[]>(
      `SELECT p.project_id, p.name, p.owner_id, u.username AS owner_name, p.creation_time, p.update_time,
              (SELECT count(*) FROM registry_repository r WHERE r.project_id = p.project_id) AS repo_count,
              (SELECT json_object_agg(m.name, m.value) FROM project_metadata m
                WHERE m.project_id = p.project_id) AS metadata,
              ${role} AS role
         FROM project p
         LEFT JOIN wharf_user u ON u.user_id = p.owner_id
        WHERE p.name ILIKE $1 ESCAPE '\\' AND ${visible}
        ORDER BY p.name
        LIMIT $${params.push(request.limit)}`,
      params,
    );
    return rows.map((row) => ({
      projectId: row.project_id,
      name: row.name,
      ownerId: row.owner_id,
      ownerName: row.owner_name,
      creationTime: row.creation_time,
      updateTime: row.update_time,
      repoCount: Number(row.repo_count),
      metadata: row.metadata ?? {},
      role: row.role,
    }));
  }

  /** Repositories of visible projects whose name contains the text, by name. */
  async repositories(request: SearchRequest): Promise<FoundRepository[]> {
    const params: unknown[] = [containsPattern(request.text)];
    const visible = visibleProjectCondition(request.visibility, params);
    const rows = await this.dataSource.query<RepositoryRow[]>(
      `SELECT r.name, p.project_id, p.name AS project_name, ${PROJECT_IS_PUBLIC} AS project_public, r.pull_count,
              (SELECT count(*) FROM registry_manifest m WHERE m.repository_id = r.id AND ${TOP_LEVEL}) AS artifact_count
         FROM registry_repository r
         JOIN project p ON p.project_id = r.project_id
        WHERE r.name ILIKE $1 ESCAPE '\\' AND ${visible}
        ORDER BY r.name
        LIMIT $${params.push(request.limit)}`,
      params,
    );
    return rows.map((row) => ({
      name: row.name,
      projectId: row.project_id,
      projectName: row.project_name,
      projectPublic: row.project_public,
      pullCount: Number(row.pull_count),
      artifactCount: Number(row.artifact_count),
    }));
  }
}
