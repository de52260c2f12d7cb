import { Injectable } from '@nestjs/common';
import { type RobotGrant } from '@wharf/auth';
import { DataSource } from 'typeorm';

/** What authentication needs of a robot account. */
export interface RobotCredentials {
  id: number;
  name: string;
  level: 'system' | 'project';
  projectId: number | null;
  secretHash: string;
  salt: string;
  /** Unix seconds; -1 never expires. */
  expiresAt: number;
  disabled: boolean;
  grants: RobotGrant[];
}

interface CredentialsRow {
  id: number;
  name: string;
  level: 'system' | 'project';
  project_id: number | null;
  secret_hash: string;
  salt: string;
  expires_at: string;
  disabled: boolean;
  grants: RobotGrant[];
}

@Injectable()
export class RobotRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * A robot by its login name's parts: `robot$<name>` is a system robot, `robot$<project>+<name>` a robot of
   * that project.
   */
  async findCredentials(projectName: string | undefined, name: string): Promise<RobotCredentials | undefined> {
    const rows = await this.dataSource.query<CredentialsRow[]>(
      `SELECT r.id, r.name, r.level, r.project_id, r.secret_hash, r.salt, r.expires_at, r.disabled,
              COALESCE((SELECT json_agg(json_build_object('kind', rp.kind, 'namespace', rp.namespace,
                                                          'resource', rp.resource, 'action', rp.action))
                          FROM robot_permission rp WHERE rp.robot_id = r.id AND rp.effect = 'allow'), '[]') AS grants
         FROM robot r
         LEFT JOIN project p ON p.project_id = r.project_id
        WHERE r.name = $1 AND ${projectName === undefined ? 'r.project_id IS NULL' : 'p.name = $2'}`,
      projectName === undefined ? [name] : [name, projectName],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      id: row.id,
      name: row.name,
      level: row.level,
      projectId: row.project_id,
      secretHash: row.secret_hash,
      salt: row.salt,
      expiresAt: Number(row.expires_at),
      disabled: row.disabled,
      grants: row.grants,
    };
  }
}
