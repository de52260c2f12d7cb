import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CoreProcess,
  type PrivateRedis,
  type TestDatabase,
  type TestImageLayout,
  buildImageLayout,
  createTestDatabase,
  startPrivateRedis,
  startWharfCore,
} from '@wharf/testkit';
import { Skopeo } from './support/clients.js';
import { sha256 } from './support/http.js';
import { e2eTarget } from './support/target.js';

jest.setTimeout(300_000);

const describeCore = e2eTarget() === 'wharf' ? describe : describe.skip;

describeCore('wharf core with skopeo while Redis is down', () => {
  let workDir: string;
  let database: TestDatabase;
  let redis: PrivateRedis;
  let core: CoreProcess;
  let skopeo: Skopeo;
  let image: TestImageLayout;
  let robot: string;
  const user = { username: 'steady', password: 'Steady-Passw0rd' };

  async function api(method: string, path: string, body: unknown): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${core.url}/api/v2.0${path}`, {
      method,
      headers: {
        authorization: `Basic ${Buffer.from(`${core.admin.username}:${core.admin.password}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'wharf-e2e-redis-down-'));
    database = await createTestDatabase('wharf_e2e_redis_down');
    redis = await startPrivateRedis();
    core = await startWharfCore({
      database,
      dataDir: join(workDir, 'data'),
      extraConfig: { external_redis: { host: `127.0.0.1:${redis.port}` } },
    });
    skopeo = await Skopeo.create(await mkdtemp(join(workDir, 'skopeo-')));
    image = await buildImageLayout(join(workDir, 'app'), { seed: 'e2e-redis-down', layerSizes: [4096], ref: '1.0' });
    const users = await api('POST', '/users', {
      username: user.username,
      email: 'steady@example.com',
      realname: 'Steady',
      password: user.password,
    });
    expect(users.status).toBe(201);
    expect((await api('POST', '/projects', { project_name: 'team', metadata: { public: 'false' } })).status).toBe(201);
    expect(
      (await api('POST', '/projects/team/members', { role_id: 3, member_user: { username: user.username } })).status,
    ).toBe(201);
    const created = await api('POST', '/robots', {
      name: 'ci',
      level: 'project',
      duration: -1,
      disable: false,
      permissions: [
        {
          kind: 'project',
          namespace: 'team',
          access: [
            { resource: 'repository', action: 'push' },
            { resource: 'repository', action: 'pull' },
          ],
        },
      ],
    });
    expect(created.status).toBe(201);
    const { name, secret } = created.body as { name: string; secret: string };
    robot = `${name}:${secret}`;
    await redis.kill();
  });

  afterAll(async () => {
    await Promise.allSettled([core?.stop(), redis?.stop()]);
    await Promise.allSettled([database?.drop(), rm(workDir, { recursive: true, force: true })]);
  });

  it('pushes with a robot and pulls with a user, their credentials checked against PostgreSQL', async () => {
    await skopeo.copy(`oci:${image.path}:1.0`, `docker://${core.host}/team/app:1.0`, [
      '--preserve-digests',
      '--dest-creds',
      robot,
    ]);
    const raw = await skopeo.run([
      'inspect',
      '--raw',
      '--tls-verify=false',
      '--creds',
      `${user.username}:${user.password}`,
      `docker://${core.host}/team/app:1.0`,
    ]);
    expect(sha256(Buffer.from(raw))).toBe(image.manifest.digest);
  });

  it('refuses a wrong password as unauthorized, not as a server error', async () => {
    const refused = skopeo.run([
      'inspect',
      '--raw',
      '--tls-verify=false',
      '--creds',
      `${user.username}:Wrong-Passw0rd`,
      `docker://${core.host}/team/app:1.0`,
    ]);
    await expect(refused).rejects.toThrow(/unauthorized|401/i);
  });
});
