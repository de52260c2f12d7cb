import { type ProjectRole, generateRobotSecret, hashRobotSecret, newSalt } from '@wharf/auth';
import { type DataSource } from 'typeorm';
import { type Credentials } from './test-core.js';

/** A robot permission as a row: kind, namespace, resource, action. */
export type SeedGrant = [kind: 'system' | 'project', namespace: string, resource: string, action: string];

/** Writes a project membership straight into the database, for tests that need one before the API is exercised. */
export async function seedMember(dataSource: DataSource, projectId: number, userId: number, role: ProjectRole) {
  await dataSource.query(
    `INSERT INTO project_member (project_id, entity_id, entity_type, role) VALUES ($1, $2, 'u', $3)`,
    [projectId, userId, role],
  );
}

/** Writes a robot account with its permissions straight into the database; answers its login credentials. */
export async function seedRobot(
  dataSource: DataSource,
  name: string,
  grants: readonly SeedGrant[],
  project?: { projectId: number; name: string },
): Promise<Credentials> {
  const secret = generateRobotSecret();
  const salt = newSalt();
  const [row] = await dataSource.query<{ id: number }[]>(
    `INSERT INTO robot (name, level, project_id, secret_hash, salt, duration, expires_at)
     VALUES ($1, $2, $3, $4, $5, -1, -1) RETURNING id`,
    [name, project ? 'project' : 'system', project?.projectId ?? null, hashRobotSecret(secret, salt), salt],
  );
  for (const [kind, namespace, resource, action] of grants) {
    await dataSource.query(
      `INSERT INTO robot_permission (robot_id, kind, namespace, resource, action) VALUES ($1, $2, $3, $4, $5)`,
      [row.id, kind, namespace, resource, action],
    );
  }
  return { username: project ? `robot$${project.name}+${name}` : `robot$${name}`, password: secret };
}
