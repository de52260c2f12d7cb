import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { PROJECT_IS_PUBLIC, type ProjectVisibility, visibleProjectCondition } from './search.repository.js';

export interface ProjectCounts {
  publicProjects: number;
  privateProjects: number;
  publicRepositories: number;
  privateRepositories: number;
}

interface CountsRow {
  public_projects: string;
  private_projects: string;
  public_repositories: string;
  private_repositories: string;
}

@Injectable()
export class StatisticRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Public and private projects among the visible ones, and their repositories (counted per project by index). */
  async projectCounts(visibility: ProjectVisibility): Promise<ProjectCounts> {
    const params: unknown[] = [];
    const visible = visibleProjectCondition(visibility, params);
    const rows = await this.dataSource.query<CountsRow[]>(
      `SELECT count(*) FILTER (WHERE v.public) AS public_projects,
              count(*) FILTER (WHERE NOT v.public) AS private_projects,
              COALESCE(sum(v.repositories) FILTER (WHERE v.public), 0) AS public_repositories,
              COALESCE(sum(v.repositories) FILTER (WHERE NOT v.public), 0) AS private_repositories
         FROM (SELECT ${PROJECT_IS_PUBLIC} AS public,
                      (SELECT count(*) FROM registry_repository r WHERE r.project_id = p.project_id) AS repositories
                 FROM project p
                WHERE ${visible}) v`,
      params,
    );
    const row = rows[0];
    return {
      publicProjects: Number(row?.public_projects ?? 0),
      privateProjects: Number(row?.private_projects ?? 0),
      publicRepositories: Number(row?.public_repositories ?? 0),
      privateRepositories: Number(row?.private_repositories ?? 0),
    };
  }

  /** Bytes of every stored blob, each counted once however many repositories share it. */
  async storageConsumption(): Promise<number> {
    const rows = await this.dataSource.query<{ bytes: string }[]>(
      `SELECT COALESCE(sum(size), 0) AS bytes FROM registry_blob`,
    );
    return Number(rows[0]?.bytes ?? 0);
  }
}
