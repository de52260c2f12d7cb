import { createHash, randomBytes } from 'node:crypto';
import { type ProjectRole, hashPassword } from '@wharf/auth';
import { RegistryRepository } from '@wharf/db';
import { DataSource } from 'typeorm';
import { seedMember, seedRobot } from './sql-seed.js';
import { type Credentials, type TestCore } from './test-core.js';

/**
 * Rows written straight into a test server's database: users, projects, members, robots and registry content, for
 * the tests of the audit log, statistics and search, which read what other parts of the API create.
 */
export interface Fixtures {
  dataSource: DataSource;
  registry: RegistryRepository;
  user(username: string, options?: { sysadmin?: boolean }): Promise<{ userId: number; credentials: Credentials }>;
  project(name: string, options?: { public?: boolean; ownerId?: number }): Promise<number>;
  member(projectId: number, userId: number, role: ProjectRole): Promise<void>;
  /** A robot with `grants` as [kind, namespace, resource, action]; a project robot when `project` is given. */
  robot(
    name: string,
    grants: ['system' | 'project', string, string, string][],
    project?: { projectId: number; name: string },
  ): Promise<Credentials>;
  /** Pushes a manifest with one layer of `layerSize` bytes; returns the manifest's digest. */
  push(repository: string, options?: { tag?: string; actor?: string; layerSize?: number }): Promise<string>;
}

export function digestOf(content: string | Buffer): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

export function fixtures(core: TestCore): Fixtures {
  const dataSource = core.server.app.get(DataSource);
  const registry = new RegistryRepository(dataSource);
  return {
    dataSource,
    registry,
    async user(username, options = {}) {
      const password = `Pw-${randomBytes(9).toString('base64url')}1a`;
      const [row] = await dataSource.query<{ user_id: number }[]>(
        `INSERT INTO wharf_user (username, email, password_hash, sysadmin_flag) VALUES ($1, $2, $3, $4)
         RETURNING user_id`,
        [username, `${username}@example.com`, await hashPassword(password), options.sysadmin ?? false],
      );
      return { userId: row.user_id, credentials: { username, password } };
    },
    async project(name, options = {}) {
      const [row] = await dataSource.query<{ project_id: number }[]>(
        `INSERT INTO project (name, owner_id) VALUES ($1, $2) RETURNING project_id`,
        [name, options.ownerId ?? null],
      );
      await dataSource.query(`INSERT INTO project_metadata (project_id, name, value) VALUES ($1, 'public', $2)`, [
        row.project_id,
        String(options.public ?? false),
      ]);
      return row.project_id;
    },
    member: (projectId, userId, role) => seedMember(dataSource, projectId, userId, role),
    robot: (name, grants, project) => seedRobot(dataSource, name, grants, project),
    async push(repository, options = {}) {
      const layer = randomBytes(Math.max(options.layerSize ?? 16, 1));
      const layerDigest = digestOf(layer);
      await registry.linkBlob(repository, layerDigest, layer.length);
      const payload = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: layerDigest, size: layer.length },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
        }),
      );
      const digest = digestOf(payload);
      await registry.putManifest({
        repository,
        digest,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        payload,
        references: [
          {
            kind: 'layer',
            digest: layerDigest,
            mediaType: 'application/vnd.oci.image.layer.v1.tar',
            size: layer.length,
          },
        ],
        tag: options.tag,
        actor: options.actor,
      });
      return digest;
    },
  };
}
