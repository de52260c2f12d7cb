import { createHash, randomBytes } from 'node:crypto';
import { type ProjectRole, hashPassword } from '@wharf/auth';
import { DataSource } from 'typeorm';
import { seedMember, seedRobot } from './sql-seed.js';
import { type Credentials, type TestCore } from './test-core.js';

export interface TestUser extends Credentials {
  userId: number;
}

/** One permission of a robot: kind, namespace (`/`, a project name or `*`), resource, action. */
export type Grant = ['system' | 'project', string, string, string];

export interface ManifestLayer {
  digest: string;
  size: number;
}

/**
 * Rows written straight into a test server's database for the project, member and quota tests: accounts, robots,
 * memberships, and registry content as pushes leave it (repositories, manifests and their layer references), so
 * the database triggers keep quota usage as they do for real pushes.
 */
export interface ProjectFixtures {
  dataSource: DataSource;
  user(username: string, options?: { sysadmin?: boolean }): Promise<TestUser>;
  member(projectId: number, userId: number, role: ProjectRole): Promise<void>;
  robot(name: string, grants: Grant[], project?: { projectId: number; name: string }): Promise<Credentials>;
  /** A repository named `<project>/<path>`; the database assigns its project from the name. */
  repository(name: string): Promise<number>;
  /** A manifest of `size` bytes in a repository, referencing `layers`. */
  manifest(repositoryId: number, size: number, layers: ManifestLayer[]): Promise<number>;
  deleteManifest(manifestId: number): Promise<void>;
  deleteRepository(repositoryId: number): Promise<void>;
}

export function randomDigest(): string {
  return `sha256:${createHash('sha256').update(randomBytes(32)).digest('hex')}`;
}

export function projectFixtures(core: TestCore): ProjectFixtures {
  const dataSource = core.server.app.get(DataSource);
  return {
    dataSource,
    async user(username, options = {}) {
      const password = `Pw-${randomBytes(9).toString('base64url')}1a`;
      const [row] = await dataSource.query<{ user_id: number }[]>(
        `INSERT INTO wharf_user (username, email, password_hash, sysadmin_flag) VALUES ($1, $2, $3, $4)
         RETURNING user_id`,
        [username, `${username}@example.com`, await hashPassword(password), options.sysadmin ?? false],
      );
      return { userId: row.user_id, username, password };
    },
    member: (projectId, userId, role) => seedMember(dataSource, projectId, userId, role),
    robot: (name, grants, project) => seedRobot(dataSource, name, grants, project),
    async repository(name) {
      const [row] = await dataSource.query<{ id: string }[]>(
        `INSERT INTO registry_repository (name) VALUES ($1) RETURNING id`,
        [name],
      );
      return Number(row.id);
    },
    async manifest(repositoryId, size, layers) {
      const payload = Buffer.from(JSON.stringify({ schemaVersion: 2, layers: layers.map((l) => l.digest) }));
      const [row] = await dataSource.query<{ id: string }[]>(
        `INSERT INTO registry_manifest (repository_id, digest, media_type, size, payload)
         VALUES ($1, $2, 'application/vnd.oci.image.manifest.v1+json', $3, $4) RETURNING id`,
        [repositoryId, randomDigest(), size, payload],
      );
      const manifestId = Number(row.id);
      for (const [position, layer] of layers.entries()) {
        await dataSource.query(
          `INSERT INTO registry_manifest_reference (manifest_id, position, kind, digest, media_type, size)
           VALUES ($1, $2, 'layer', $3, 'application/vnd.oci.image.layer.v1.tar', $4)`,
          [manifestId, position, layer.digest, layer.size],
        );
      }
      return manifestId;
    },
    async deleteManifest(manifestId) {
      await dataSource.query(`DELETE FROM registry_manifest WHERE id = $1`, [manifestId]);
    },
    async deleteRepository(repositoryId) {
      await dataSource.query(`DELETE FROM registry_repository WHERE id = $1`, [repositoryId]);
    },
  };
}
