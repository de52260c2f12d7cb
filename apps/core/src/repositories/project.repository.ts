import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { type ProjectRef } from '../auth/principal.js';

interface ProjectRefRow {
  project_id: number;
  name: string;
  owner_id: number | null;
  public: boolean;
}

const PROJECT_REF_SELECT = `
  SELECT p.project_id, p.name, p.owner_id,
         COALESCE((SELECT m.value = 'true' FROM project_metadata m
                    WHERE m.project_id = p.project_id AND m.name = 'public'), false) AS public
    FROM project p`;

function toRef(row: ProjectRefRow): ProjectRef {
  return { projectId: row.project_id, name: row.name, public: row.public, ownerId: row.owner_id };
}

@Injectable()
export class ProjectRepository {
  constructor(private readonly dataSource: DataSource) {}

  async findRefByName(name: string): Promise<ProjectRef | undefined> {
    const rows = await this.dataSource.query<ProjectRefRow[]>(`${PROJECT_REF_SELECT} WHERE p.name = $1`, [name]);
    return rows[0] ? toRef(rows[0]) : undefined;
  }

  async findRefById(id: number): Promise<ProjectRef | undefined> {
    const rows = await this.dataSource.query<ProjectRefRow[]>(`${PROJECT_REF_SELECT} WHERE p.project_id = $1`, [id]);
    return rows[0] ? toRef(rows[0]) : undefined;
  }

  /** The role of a user in a project (direct membership), or undefined when the user is no member. */
  async memberRole(projectId: number, userId: number): Promise<number | undefined> {
    const rows = await this.dataSource.query<{ role: number }[]>(
      `SELECT role FROM project_member WHERE project_id = $1 AND entity_type = 'u' AND entity_id = $2`,
      [projectId, userId],
    );
    return rows[0]?.role;
  }
}
