import { createHash, randomBytes } from 'node:crypto';
import { type ProjectRole, generateRobotSecret, hashPassword, hashRobotSecret, newSalt } from '@wharf/auth';
import { decodeJwt } from 'jose';
import { DataSource } from 'typeorm';
import { type Credentials, type TestCore, basicAuth } from '../../testing/test-core.js';

/**
 * Accounts and projects written straight into core's database, so tests of the token service and the registry do
 * not depend on the management API, plus the plain-HTTP registry client those tests push and pull with.
 */
export class RegistryFixtures {
  private readonly db: DataSource;

  constructor(private readonly core: TestCore) {
    this.db = core.server.app.get(DataSource);
  }

  query<T = unknown>(sql: string, params: unknown[] = []): Promise<T> {
    return this.db.query<T>(sql, params);
  }

  async user(username: string, options: { sysadmin?: boolean } = {}): Promise<Credentials & { userId: number }> {
    const password = `Pw1-${randomBytes(9).toString('base64url')}`;
    const rows = await this.db.query<{ user_id: number }[]>(
      `INSERT INTO wharf_user (username, email, realname, password_hash, sysadmin_flag)
       VALUES ($1, $2, $1, $3, $4) RETURNING user_id`,
      [username, `${username}@example.com`, await hashPassword(password), options.sysadmin ?? false],
    );
    return { username, password, userId: rows[0].user_id };
  }

  /** A project with its quota row; `storageLimit` in bytes, -1 (default) for none. */
  async project(name: string, options: { public?: boolean; storageLimit?: number } = {}): Promise<number> {
    const rows = await this.db.query<{ project_id: number }[]>(
      `INSERT INTO project (name) VALUES ($1) RETURNING project_id`,
      [name],
    );
    const projectId = rows[0].project_id;
    await this.db.query(`INSERT INTO project_metadata (project_id, name, value) VALUES ($1, 'public', $2)`, [
      projectId,
      String(options.public ?? false),
    ]);
    await this.db.query(`INSERT INTO quota (project_id, hard_storage) VALUES ($1, $2)`, [
      projectId,
      options.storageLimit ?? -1,
    ]);
    return projectId;
  }

  async member(projectId: number, userId: number, role: ProjectRole): Promise<void> {
    await this.db.query(
      `INSERT INTO project_member (project_id, entity_id, entity_type, role) VALUES ($1, $2, 'u', $3)`,
      [projectId, userId, role],
    );
  }

  /** A project robot (`robot$<project>+<name>`) holding `resource:action` grants in its project. */
  async projectRobot(
    projectName: string,
    name: string,
    access: string[],
    options: { disabled?: boolean } = {},
  ): Promise<Credentials> {
    const project = await this.db.query<{ project_id: number }[]>(`SELECT project_id FROM project WHERE name = $1`, [
      projectName,
    ]);
    const secret = generateRobotSecret();
    const salt = newSalt();
    const rows = await this.db.query<{ id: number }[]>(
      `INSERT INTO robot (name, level, project_id, secret_hash, salt, duration, expires_at, disabled)
       VALUES ($1, 'project', $2, $3, $4, -1, -1, $5) RETURNING id`,
      [name, project[0].project_id, hashRobotSecret(secret, salt), salt, options.disabled ?? false],
    );
    for (const entry of access) {
      const [resource, action] = entry.split(':');
      await this.db.query(
        `INSERT INTO robot_permission (robot_id, kind, namespace, resource, action) VALUES ($1, 'project', $2, $3, $4)`,
        [rows[0].id, projectName, resource, action],
      );
    }
    return { username: `robot$${projectName}+${name}`, password: secret };
  }

  async setStorageLimit(projectId: number, bytes: number): Promise<void> {
    await this.db.query(`UPDATE quota SET hard_storage = $2 WHERE project_id = $1`, [projectId, bytes]);
  }

  async usedStorage(projectId: number): Promise<number> {
    const rows = await this.db.query<{ used: string }[]>(
      `SELECT used_storage::text AS used FROM quota WHERE project_id = $1`,
      [projectId],
    );
    return Number(rows[0].used);
  }

  /** GET /service/token as a registry client does; the raw response. */
  tokenResponse(scopes: string[], credentials?: Credentials, service = 'harbor-registry'): Promise<Response> {
    const query = new URLSearchParams({ service });
    for (const scope of scopes) query.append('scope', scope);
    const headers: Record<string, string> = {};
    if (credentials) headers.authorization = basicAuth(credentials);
    return fetch(`${this.core.url}/service/token?${query.toString()}`, { headers });
  }

  async token(scopes: string[], credentials?: Credentials): Promise<string> {
    const response = await this.tokenResponse(scopes, credentials);
    const body = (await response.json()) as { token?: string };
    if (response.status !== 200 || !body.token) {
      throw new Error(`token service answered ${response.status}: ${JSON.stringify(body)}`);
    }
    return body.token;
  }
}

/** The `access` claim of a token, without checking its signature. */
export function grantedAccess(token: string): { type: string; name: string; actions: string[] }[] {
  return decodeJwt(token).access as { type: string; name: string; actions: string[] }[];
}

export interface RegistryResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface PushedImage {
  digest: string;
  manifest: Buffer;
  config: Buffer;
  layers: Buffer[];
  /** What the image adds to a project that holds none of it: manifest, config and layers. */
  size: number;
}

/** An OCI image manifest over a config and layers, as bytes (its digest is what the registry stores it under). */
export function imageManifest(config: Buffer, layers: Buffer[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: layers.map((layer) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: sha256(layer),
        size: layer.length,
      })),
    }),
  );
}

/** Raw /v2 requests with a bearer token, the way a client library speaks to the registry. */
export class RegistryClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  async request(
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: Buffer } = {},
  ): Promise<RegistryResponse> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const url = path.startsWith('http') ? path : `${this.baseUrl}${path}`;
    const response = await fetch(url, { method, headers, body: init.body, redirect: 'manual' });
    return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
  }

  /** POST then PUT ?digest= with the whole blob; the PUT's response (201 when stored). */
  async pushBlob(repository: string, data: Buffer): Promise<RegistryResponse> {
    const started = await this.request('POST', `/v2/${repository}/blobs/uploads/`);
    if (started.status !== 202) return started;
    const location = new URL(started.headers.get('location') ?? '', this.baseUrl);
    location.searchParams.set('digest', sha256(data));
    return this.request('PUT', location.toString(), {
      headers: { 'content-type': 'application/octet-stream' },
      body: data,
    });
  }

  putManifest(repository: string, reference: string, manifest: Buffer): Promise<RegistryResponse> {
    return this.request('PUT', `/v2/${repository}/manifests/${reference}`, {
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest,
    });
  }

  getManifest(repository: string, reference: string): Promise<RegistryResponse> {
    return this.request('GET', `/v2/${repository}/manifests/${reference}`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
  }

  /** Pushes config, layers and the manifest; throws unless each step succeeds. */
  async pushImage(repository: string, tag: string, config: Buffer, layers: Buffer[]): Promise<PushedImage> {
    for (const blob of [config, ...layers]) {
      const stored = await this.pushBlob(repository, blob);
      if (stored.status !== 201)
        throw new Error(`blob push to ${repository}: ${stored.status} ${stored.body.toString('utf8')}`);
    }
    const manifest = imageManifest(config, layers);
    const put = await this.putManifest(repository, tag, manifest);
    if (put.status !== 201)
      throw new Error(`manifest push to ${repository}: ${put.status} ${put.body.toString('utf8')}`);
    const size = manifest.length + config.length + layers.reduce((sum, layer) => sum + layer.length, 0);
    return { digest: sha256(manifest), manifest, config, layers, size };
  }
}
