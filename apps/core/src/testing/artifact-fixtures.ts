import { createHash, randomBytes } from 'node:crypto';
import { type ProjectRole, hashPassword } from '@wharf/auth';
import { type ManifestReference, RegistryRepository } from '@wharf/db';
import { MediaType, type Platform, accessoryOf, parseDigest, parseManifest } from '@wharf/oci';
import { blobDataPath } from '@wharf/registry';
import { type StorageDriver } from '@wharf/storage';
import { DataSource } from 'typeorm';
import { STORAGE } from '../constants.js';
import { seedMember, seedRobot } from './sql-seed.js';
import { type Credentials, type TestCore } from './test-core.js';

export interface TestUser extends Credentials {
  userId: number;
}

export interface TestProject {
  projectId: number;
  name: string;
}

/** One permission of a robot: kind, namespace (`/`, a project name or `*`), resource, action. */
export type Grant = ['system' | 'project', string, string, string];

/** A manifest as a push leaves it: its digest, bytes, and the size Harbor reports for it. */
export interface Pushed {
  digest: string;
  payload: Buffer;
  /** Manifest + config + layers (for an index: manifest + its children's sizes). */
  size: number;
}

export interface ImageOptions {
  tag?: string;
  /** The config blob's JSON; a minimal linux/amd64 image config when absent. */
  config?: Record<string, unknown>;
  configMediaType?: string;
  /** Layer contents; one small random layer when absent. */
  layers?: Buffer[];
  /** The media type of every layer; a gzipped OCI layer when absent. */
  layerMediaType?: string;
  annotations?: Record<string, string>;
  artifactType?: string;
  subject?: Pushed;
  actor?: string;
}

export interface IndexChild {
  image: Pushed;
  platform: Platform;
}

/**
 * Rows and blobs written the way the registry engine writes a push (through its RegistryRepository and the
 * blob store's layout), for the repository and artifact API tests: accounts, projects, members, robots, images,
 * indexes and accessories.
 */
export interface ArtifactFixtures {
  dataSource: DataSource;
  registry: RegistryRepository;
  storage: StorageDriver;
  user(username: string, options?: { sysadmin?: boolean }): Promise<TestUser>;
  project(name: string, options?: { public?: boolean }): Promise<TestProject>;
  member(projectId: number, userId: number, role: ProjectRole): Promise<void>;
  robot(name: string, grants: Grant[], project?: TestProject): Promise<Credentials>;
  /** Stores a blob in the registry's storage and links it to the repository. */
  blob(repository: string, content: Buffer): Promise<string>;
  image(repository: string, options?: ImageOptions): Promise<Pushed>;
  index(repository: string, children: IndexChild[], options?: { tag?: string }): Promise<Pushed>;
  /** A registry token for `scope` (e.g. `repository:p/r:pull`) issued to `credentials`. */
  token(credentials: Credentials, scope: string): Promise<string>;
}

export function digestOf(content: Buffer | string): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

export function artifactFixtures(core: TestCore): ArtifactFixtures {
  const dataSource = core.server.app.get(DataSource);
  const registry = new RegistryRepository(dataSource);
  // The storage the server itself writes to.
  const storage = core.server.app.get<symbol, StorageDriver>(STORAGE);

  const blob = async (repository: string, content: Buffer): Promise<string> => {
    const digest = digestOf(content);
    const parsed = parseDigest(digest);
    if (!parsed) throw new Error(`not a digest: ${digest}`);
    await storage.putContent(blobDataPath(parsed), content);
    await registry.linkBlob(repository, digest, content.length);
    return digest;
  };

  return {
    dataSource,
    registry,
    storage,
    blob,
    async user(username, options = {}) {
      const password = `Pw-${randomBytes(9).toString('base64url')}1a`;
      const [row] = await dataSource.query<{ user_id: number }[]>(
        `INSERT INTO wharf_user (username, email, password_hash, sysadmin_flag) VALUES ($1, $2, $3, $4)
         RETURNING user_id`,
        [username, `${username}@example.com`, await hashPassword(password), options.sysadmin ?? false],
      );
      return { userId: row.user_id, username, password };
    },
    async project(name, options = {}) {
      const [row] = await dataSource.query<{ project_id: number }[]>(
        `INSERT INTO project (name) VALUES ($1) RETURNING project_id`,
        [name],
      );
      await dataSource.query(`INSERT INTO project_metadata (project_id, name, value) VALUES ($1, 'public', $2)`, [
        row.project_id,
        String(options.public ?? false),
      ]);
      await dataSource.query(`INSERT INTO quota (project_id) VALUES ($1)`, [row.project_id]);
      return { projectId: row.project_id, name };
    },
    member: (projectId, userId, role) => seedMember(dataSource, projectId, userId, role),
    robot: (name, grants, project) => seedRobot(dataSource, name, grants, project),
    async image(repository, options = {}) {
      const configJson = Buffer.from(
        JSON.stringify(
          options.config ?? {
            architecture: 'amd64',
            os: 'linux',
            config: { Env: ['PATH=/usr/bin'] },
            rootfs: { type: 'layers', diff_ids: [] },
            nonce: randomBytes(8).toString('hex'),
          },
        ),
      );
      const configMediaType = options.configMediaType ?? MediaType.OciConfig;
      const config = {
        mediaType: configMediaType,
        digest: await blob(repository, configJson),
        size: configJson.length,
      };
      const layers = [];
      for (const content of options.layers ?? [randomBytes(64)]) {
        layers.push({
          mediaType: options.layerMediaType ?? MediaType.OciLayerTarGzip,
          digest: await blob(repository, content),
          size: content.length,
        });
      }
      const manifest = {
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        ...(options.artifactType ? { artifactType: options.artifactType } : {}),
        config,
        layers,
        ...(options.subject
          ? {
              subject: {
                mediaType: MediaType.OciManifest,
                digest: options.subject.digest,
                size: options.subject.payload.length,
              },
            }
          : {}),
        ...(options.annotations ? { annotations: options.annotations } : {}),
      };
      const payload = Buffer.from(JSON.stringify(manifest));
      const digest = digestOf(payload);
      const references: ManifestReference[] = [
        { kind: 'config', digest: config.digest, mediaType: config.mediaType, size: config.size },
        ...layers.map((l) => ({ kind: 'layer' as const, digest: l.digest, mediaType: l.mediaType, size: l.size })),
      ];
      await registry.putManifest({
        repository,
        digest,
        mediaType: MediaType.OciManifest,
        artifactType: options.artifactType ?? configMediaType,
        payload,
        subjectDigest: options.subject?.digest,
        annotations: options.annotations,
        // As the engine classifies a push.
        accessory: accessoryOf(parseManifest(payload, MediaType.OciManifest), digest, options.tag),
        references,
        tag: options.tag,
        actor: options.actor,
      });
      return { digest, payload, size: payload.length + config.size + layers.reduce((sum, l) => sum + l.size, 0) };
    },
    async index(repository, children, options = {}) {
      const manifests = children.map((child) => ({
        mediaType: MediaType.OciManifest,
        digest: child.image.digest,
        size: child.image.payload.length,
        platform: child.platform,
      }));
      const payload = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }));
      const digest = digestOf(payload);
      await registry.putManifest({
        repository,
        digest,
        mediaType: MediaType.OciIndex,
        payload,
        references: manifests.map((m) => ({
          kind: 'manifest',
          digest: m.digest,
          mediaType: m.mediaType,
          size: m.size,
        })),
        tag: options.tag,
      });
      return { digest, payload, size: payload.length + children.reduce((sum, c) => sum + c.image.size, 0) };
    },
    async token(credentials, scope) {
      const query = new URLSearchParams({ service: 'harbor-registry', scope });
      const response = await core.request<{ token: string }>('GET', `/service/token?${query.toString()}`, {
        auth: credentials,
      });
      if (response.status !== 200) throw new Error(`token service answered ${response.status}: ${response.text}`);
      return response.body.token;
    },
  };
}
