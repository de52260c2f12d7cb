import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CoreProcess,
  type JobServiceProcess,
  type PrivateRedis,
  type TestDatabase,
  type TestImageLayout,
  buildImageLayout,
  createTestDatabase,
  startPrivateRedis,
  startWharfCore,
  startWharfJobService,
} from '@wharf/testkit';
import { Skopeo } from './support/clients.js';
import { sha256 } from './support/http.js';
import { e2eTarget } from './support/target.js';

jest.setTimeout(300_000);

interface Account {
  username: string;
  password: string;
}

interface ApiResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

interface AuditLog {
  username: string;
  resource: string;
  resource_type: string;
  operation: string;
}

/** The size an image adds to a project that holds none of it: manifest, config and layers. */
function imageSize(image: TestImageLayout): number {
  return image.manifest.size + image.config.size + image.layers.reduce((sum, layer) => sum + layer.size, 0);
}

function creds(account: Account): string {
  return `${account.username}:${account.password}`;
}

/** The scenario of a team adopting Wharf, with the real skopeo against `wharf start core`. Core has no reference. */
const describeCore = e2eTarget() === 'wharf' ? describe : describe.skip;

describeCore('wharf core with skopeo: users, projects, robots, quota and audit', () => {
  let workDir: string;
  let database: TestDatabase;
  let core: CoreProcess;
  let redis: PrivateRedis;
  let jobservice: JobServiceProcess;
  let skopeo: Skopeo;
  let host: string;
  let image: TestImageLayout;
  let big: TestImageLayout;
  let developer: Account;
  let guest: Account;
  let robot: Account;
  let secretProjectId: number;

  async function api<T = unknown>(
    method: string,
    path: string,
    options: { as?: Account; body?: unknown } = {},
  ): Promise<ApiResponse<T>> {
    const account = options.as ?? core.admin;
    const headers: Record<string, string> = {
      authorization: `Basic ${Buffer.from(creds(account)).toString('base64')}`,
    };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${core.url}/api/v2.0${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    const isJson = (response.headers.get('content-type') ?? '').includes('json') && text.length > 0;
    return { status: response.status, headers: response.headers, body: (isJson ? JSON.parse(text) : text) as T };
  }

  async function expectCreated(path: string, body: unknown): Promise<ApiResponse<unknown>> {
    const response = await api('POST', path, { body });
    expect({ path, status: response.status, body: response.body }).toEqual({
      path,
      status: 201,
      body: expect.anything(),
    });
    return response;
  }

  async function quotaOf(projectId: number): Promise<{ id: number; hard: number; used: number }> {
    const response = await api<{ id: number; hard: { storage: number }; used: { storage: number } }[]>(
      'GET',
      `/quotas?reference=project&reference_id=${projectId}`,
    );
    expect(response.status).toBe(200);
    expect(response.body).toHaveLength(1);
    const [quota] = response.body;
    return { id: quota.id, hard: quota.hard.storage, used: quota.used.storage };
  }

  /** The audit log, newest first, once it holds an entry like each of `expected` (delivery is asynchronous). */
  async function auditLogShows(...expected: Partial<AuditLog>[]): Promise<AuditLog[]> {
    const matches = (entry: AuditLog, like: Partial<AuditLog>) =>
      Object.entries(like).every(([key, value]) => entry[key as keyof AuditLog] === value);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const response = await api<AuditLog[]>('GET', '/audit-logs?page_size=100&sort=-op_time');
      expect(response.status).toBe(200);
      const missing = expected.filter((like) => !response.body.some((entry) => matches(entry, like)));
      if (missing.length === 0) return response.body;
      if (Date.now() > deadline) {
        throw new Error(`no audit entries like ${JSON.stringify(missing)} in ${JSON.stringify(response.body)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'wharf-e2e-core-'));
    database = await createTestDatabase('wharf_e2e_core');
    // A Redis of its own: jobservice works every job of its queues, which no other test may share.
    redis = await startPrivateRedis();
    core = await startWharfCore({
      database,
      dataDir: join(workDir, 'data'),
      extraConfig: { external_redis: { host: `127.0.0.1:${redis.port}` } },
    });
    // Registry events reach the audit log through jobservice, as in a deployment.
    jobservice = await startWharfJobService(core);
    host = core.host;
    skopeo = await Skopeo.create(await mkdtemp(join(workDir, 'skopeo-')));
    image = await buildImageLayout(join(workDir, 'app'), {
      seed: 'e2e-core-app',
      layerSizes: [1024, 200 * 1024],
      ref: '1.0',
    });
    big = await buildImageLayout(join(workDir, 'big'), { seed: 'e2e-core-big', layerSizes: [512 * 1024], ref: '2.0' });
  });

  afterAll(async () => {
    await Promise.allSettled([jobservice?.stop()]);
    await Promise.allSettled([core?.stop()]);
    await Promise.allSettled([redis?.stop(), database?.drop(), rm(workDir, { recursive: true, force: true })]);
  });

  it('sets up, as the administrator, two users, a private and a public project, members and a robot', async () => {
    developer = { username: 'alice', password: 'Alice-Passw0rd' };
    guest = { username: 'gus', password: 'Gus-Passw0rd' };
    for (const user of [developer, guest]) {
      await expectCreated('/users', {
        username: user.username,
        email: `${user.username}@example.com`,
        realname: user.username,
        password: user.password,
      });
    }
    const created = await expectCreated('/projects', {
      project_name: 'secret',
      metadata: { public: 'false' },
      storage_limit: -1,
    });
    secretProjectId = Number(/\/projects\/(\d+)$/.exec(created.headers.get('location') ?? '')?.[1]);
    expect(secretProjectId).toBeGreaterThan(0);
    await expectCreated('/projects', { project_name: 'shared', metadata: { public: 'true' }, storage_limit: -1 });
    await expectCreated('/projects/secret/members', { role_id: 2, member_user: { username: developer.username } });
    await expectCreated('/projects/secret/members', { role_id: 3, member_user: { username: guest.username } });

    const robotResponse = await expectCreated('/robots', {
      name: 'ci',
      description: 'pushes from CI',
      level: 'project',
      duration: -1,
      disable: false,
      permissions: [
        {
          kind: 'project',
          namespace: 'secret',
          access: [
            { resource: 'repository', action: 'push' },
            { resource: 'repository', action: 'pull' },
          ],
        },
      ],
    });
    const { name, secret } = robotResponse.body as { name: string; secret: string };
    expect(name).toBe('robot$secret+ci');
    robot = { username: name, password: secret };
  });

  it("pushes an image with the robot's credentials and counts it in the project's usage", async () => {
    await skopeo.copy(`oci:${image.path}:1.0`, `docker://${host}/secret/app:1.0`, [
      '--preserve-digests',
      '--dest-creds',
      creds(robot),
    ]);
    const raw = await skopeo.run([
      'inspect',
      '--raw',
      '--tls-verify=false',
      '--creds',
      creds(robot),
      `docker://${host}/secret/app:1.0`,
    ]);
    expect(sha256(Buffer.from(raw))).toBe(image.manifest.digest);
    expect((await quotaOf(secretProjectId)).used).toBe(imageSize(image));
  });

  it('lets the developer push and pull in the private project', async () => {
    await skopeo.copy(`docker://${host}/secret/app:1.0`, `docker://${host}/secret/app:dev`, [
      '--src-creds',
      creds(developer),
      '--dest-creds',
      creds(developer),
    ]);
    const tags = JSON.parse(
      await skopeo.run(['list-tags', '--tls-verify=false', '--creds', creds(developer), `docker://${host}/secret/app`]),
    ) as { Tags: string[] };
    expect([...tags.Tags].sort()).toEqual(['1.0', 'dev']);
  });

  it('lets a guest pull but not push', async () => {
    const inspected = JSON.parse(
      await skopeo.run(['inspect', '--tls-verify=false', '--creds', creds(guest), `docker://${host}/secret/app:1.0`]),
    ) as { Digest: string };
    expect(inspected.Digest).toBe(image.manifest.digest);
    await expect(
      skopeo.copy(`oci:${image.path}:1.0`, `docker://${host}/secret/app:guest`, ['--dest-creds', creds(guest)]),
    ).rejects.toThrow(/unauthorized|denied|authentication required/i);
  });

  it('lets anonymous clients pull from the public project and not from the private one', async () => {
    await skopeo.copy(`oci:${image.path}:1.0`, `docker://${host}/shared/base:1.0`, [
      '--preserve-digests',
      '--dest-creds',
      creds(core.admin),
    ]);
    const inspected = JSON.parse(
      await skopeo.run(['inspect', '--tls-verify=false', '--no-creds', `docker://${host}/shared/base:1.0`]),
    ) as { Digest: string };
    expect(inspected.Digest).toBe(image.manifest.digest);
    await expect(
      skopeo.run(['inspect', '--tls-verify=false', '--no-creds', `docker://${host}/secret/app:1.0`]),
    ).rejects.toThrow(/unauthorized|denied|authentication required/i);
  });

  it('refuses a push over the quota with Harbor’s message and leaves the usage as it was', async () => {
    const before = await quotaOf(secretProjectId);
    const update = await api('PUT', `/quotas/${before.id}`, { body: { hard: { storage: before.used + 64 * 1024 } } });
    expect(update.status).toBe(200);

    await expect(
      skopeo.copy(`oci:${big.path}:2.0`, `docker://${host}/secret/big:2.0`, ['--dest-creds', creds(robot)]),
    ).rejects.toThrow(
      /Quota exceeded when processing the request of adding [\d.]+ [KM]iB of storage resource, which when updated to current usage of [\d.]+ KiB will exceed the configured upper limit of [\d.]+ KiB\./,
    );
    expect((await quotaOf(secretProjectId)).used).toBe(before.used);
  });

  it('shows each step in the audit log', async () => {
    const admin = core.admin.username;
    const entries = await auditLogShows(
      { operation: 'create', resource_type: 'user', resource: developer.username, username: admin },
      { operation: 'create', resource_type: 'user', resource: guest.username, username: admin },
      { operation: 'create', resource_type: 'project', resource: 'secret', username: admin },
      { operation: 'create', resource_type: 'project', resource: 'shared', username: admin },
      { operation: 'create', resource_type: 'member', resource: developer.username, username: admin },
      { operation: 'create', resource_type: 'member', resource: guest.username, username: admin },
      { operation: 'create', resource_type: 'robot', resource: robot.username, username: admin },
      { operation: 'create', resource_type: 'artifact', resource: 'secret/app:1.0', username: robot.username },
      { operation: 'create', resource_type: 'artifact', resource: 'secret/app:dev', username: developer.username },
      { operation: 'create', resource_type: 'artifact', resource: 'shared/base:1.0', username: admin },
      { operation: 'pull', resource_type: 'artifact', username: guest.username },
      { operation: 'pull', resource_type: 'artifact', username: 'anonymous' },
      { operation: 'update', resource_type: 'quota', resource: 'secret', username: admin },
    );
    // The refused push stored nothing, so nothing of it was logged as pushed.
    expect(entries.filter((entry) => entry.resource.startsWith('secret/big'))).toEqual([]);
  });

  it('frees the storage of a deleted artifact and logs the delete', async () => {
    const before = await quotaOf(secretProjectId);
    const deleted = await api('DELETE', '/projects/secret/repositories/app/artifacts/1.0');
    expect(deleted.status).toBe(200);
    expect((await quotaOf(secretProjectId)).used).toBeLessThan(before.used);
    expect((await quotaOf(secretProjectId)).used).toBe(0);
    await expect(
      skopeo.run([
        'inspect',
        '--raw',
        '--tls-verify=false',
        '--creds',
        creds(robot),
        `docker://${host}/secret/app:1.0`,
      ]),
    ).rejects.toThrow(/manifest unknown/i);
    const entries = await auditLogShows({
      operation: 'delete',
      resource_type: 'artifact',
      username: core.admin.username,
    });
    const deletes = entries.filter((entry) => entry.operation === 'delete' && entry.resource_type === 'artifact');
    expect(deletes.every((entry) => entry.resource.startsWith('secret/app'))).toBe(true);
  });
});
