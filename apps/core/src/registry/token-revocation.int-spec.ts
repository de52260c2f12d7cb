import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ProjectRole, isScannerToken } from '@wharf/auth';
import { DataSource } from 'typeorm';
import { type CoreServer, startCoreServer } from '../core.server.js';
import { TokenService } from '../services/token.service.js';
import { SCANNER_ACTOR } from './registry.constants.js';
import { type Credentials, type TestCore, startTestCore } from '../testing/test-core.js';
import { RegistryClient, RegistryFixtures, type RegistryResponse } from './testing/registry-fixtures.js';

function errorOf(response: RegistryResponse): { code: string; message: string } {
  return (JSON.parse(response.body.toString('utf8')) as { errors: { code: string; message: string }[] }).errors[0];
}

function refusedForScope(response: RegistryResponse): void {
  expect(response.status).toBe(401);
  expect(errorOf(response).code).toBe('UNAUTHORIZED');
  expect(response.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
}

/**
 * The change notice reaches the registry's cache a moment after the change commits (PostgreSQL delivers it
 * asynchronously, also to the process that made the change): the refusal is awaited for up to a second.
 */
async function soon(send: () => Promise<RegistryResponse>, done: (status: number) => boolean) {
  const deadline = Date.now() + 1000;
  let response = await send();
  while (!done(response.status) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    response = await send();
  }
  return response;
}

async function refusedSoon(send: () => Promise<RegistryResponse>): Promise<void> {
  refusedForScope(await soon(send, (status) => status >= 300));
}

const config = Buffer.from('{"architecture":"amd64"}');

describe('registry tokens bound to what they were issued for', () => {
  let core: TestCore;
  let fx: RegistryFixtures;

  beforeAll(async () => {
    core = await startTestCore();
    fx = new RegistryFixtures(core);
  });

  afterAll(async () => {
    await core?.close();
  });

  async function client(scopes: string[], credentials?: Credentials, base = core.url): Promise<RegistryClient> {
    return new RegistryClient(base, await fx.token(scopes, credentials));
  }

  async function api(method: string, path: string, auth: Credentials, body?: unknown) {
    return core.request<{ errors?: unknown }>(method, `/api/v2.0${path}`, { auth, body });
  }

  describe('a project deleted and created again under its name', () => {
    it("grants the old project's token nothing in the namesake: no read, no push, no delete", async () => {
      const alice = await fx.user('alice');
      const bob = await fx.user('bob');
      expect((await api('POST', '/projects', alice, { project_name: 'recy' })).status).toBe(201);
      const old = await client(['repository:recy/img:pull,push,delete'], alice);
      await old.pushImage('recy/img', 'v1', config, [randomBytes(512)]);
      expect((await api('DELETE', '/projects/recy/repositories/img', alice)).status).toBe(200);
      expect((await api('DELETE', '/projects/recy', alice, undefined)).status).toBe(200);

      expect((await api('POST', '/projects', bob, { project_name: 'recy' })).status).toBe(201);
      const owner = await client(['repository:recy/img:pull,push'], bob);
      const image = await owner.pushImage('recy/img', 'v1', config, [randomBytes(700)]);

      refusedForScope(await old.getManifest('recy/img', 'v1'));
      refusedForScope(await old.request('GET', '/v2/recy/img/tags/list'));
      refusedForScope(await old.pushBlob('recy/img', randomBytes(64)));
      refusedForScope(await old.putManifest('recy/img', 'v1', image.manifest));
      refusedForScope(await old.request('DELETE', `/v2/recy/img/manifests/${image.digest}`));

      const kept = await owner.getManifest('recy/img', 'v1');
      expect(kept.status).toBe(200);
      expect(kept.headers.get('docker-content-digest')).toBe(image.digest);
    });

    it('refuses an old token even to an account that holds the same rights in the namesake', async () => {
      const root = await fx.user('root', { sysadmin: true });
      const first = await fx.project('again');
      const old = await client(['repository:again/app:pull,push'], root);
      // Allowed: the repository does not exist yet.
      expect((await old.request('GET', '/v2/again/app/tags/list')).status).toBe(404);
      await fx.query(`DELETE FROM project WHERE project_id = $1`, [first]);
      await fx.project('again');
      refusedForScope(await old.request('GET', '/v2/again/app/tags/list'));
      refusedForScope(await old.pushBlob('again/app', randomBytes(64)));
      // The challenge sends the client back to the token service, whose new token is bound to the new project.
      const renewed = await client(['repository:again/app:pull,push'], root);
      expect((await renewed.pushBlob('again/app', randomBytes(64))).status).toBe(201);
    });
  });

  describe('revocation before expiry', () => {
    let owner: Credentials;
    let projectId: number;

    beforeAll(async () => {
      owner = await fx.user('owner');
      expect((await api('POST', '/projects', owner, { project_name: 'team' })).status).toBe(201);
      projectId = (await fx.query<{ project_id: number }[]>(`SELECT project_id FROM project WHERE name = 'team'`))[0]
        .project_id;
      const seed = await client(['repository:team/base:pull,push'], owner);
      await seed.pushImage('team/base', '1', config, [randomBytes(300)]);
    });

    async function memberId(userId: number): Promise<number> {
      const rows = await fx.query<{ id: number }[]>(
        `SELECT id FROM project_member WHERE project_id = $1 AND entity_type = 'u' AND entity_id = $2`,
        [projectId, userId],
      );
      return rows[0].id;
    }

    it('stops a member removed from the project', async () => {
      const dev = await fx.user('dev-removed');
      await fx.member(projectId, dev.userId, ProjectRole.Developer);
      const token = await client(['repository:team/base:pull'], dev);
      expect((await token.getManifest('team/base', '1')).status).toBe(200);
      expect((await api('DELETE', `/projects/team/members/${await memberId(dev.userId)}`, owner)).status).toBe(200);
      await refusedSoon(() => token.getManifest('team/base', '1'));
    });

    it('takes away exactly what a lowered role no longer allows', async () => {
      const dev = await fx.user('dev-lowered');
      await fx.member(projectId, dev.userId, ProjectRole.Developer);
      const token = await client(['repository:team/base:pull,push'], dev);
      expect((await token.pushBlob('team/base', randomBytes(64))).status).toBe(201);
      const id = await memberId(dev.userId);
      expect((await api('PUT', `/projects/team/members/${id}`, owner, { role_id: ProjectRole.Guest })).status).toBe(
        200,
      );
      await refusedSoon(() => token.pushBlob('team/base', randomBytes(64)));
      expect((await token.getManifest('team/base', '1')).status).toBe(200);
    });

    it('stops a deleted user, and does not pass the token to a new account of the same name', async () => {
      const gone = await fx.user('gone');
      await fx.member(projectId, gone.userId, ProjectRole.Developer);
      const token = await client(['repository:team/base:pull'], gone);
      expect((await token.getManifest('team/base', '1')).status).toBe(200);
      expect((await api('DELETE', `/users/${gone.userId}`, core.admin)).status).toBe(200);
      await refusedSoon(() => token.getManifest('team/base', '1'));
      const namesake = await fx.user('gone');
      await fx.member(projectId, namesake.userId, ProjectRole.Developer);
      await refusedSoon(() => token.getManifest('team/base', '1'));
    });

    it('stops a robot that is disabled, loses a permission, or is deleted', async () => {
      const robot = await fx.projectRobot('team', 'ci', ['repository:pull', 'repository:push']);
      const [{ id }] = await fx.query<{ id: number }[]>(`SELECT id FROM robot WHERE name = 'ci'`);
      const token = await client(['repository:team/base:pull,push'], robot);
      expect((await token.pushBlob('team/base', randomBytes(64))).status).toBe(201);

      const record = (await core.request<Record<string, unknown>>('GET', `/api/v2.0/robots/${id}`, { auth: owner }))
        .body;
      expect((await api('PUT', `/robots/${id}`, owner, { ...record, disable: true })).status).toBe(200);
      await refusedSoon(() => token.getManifest('team/base', '1'));
      expect((await api('PUT', `/robots/${id}`, owner, { ...record, disable: false })).status).toBe(200);
      expect(
        (
          await soon(
            () => token.getManifest('team/base', '1'),
            (status) => status === 200,
          )
        ).status,
      ).toBe(200);

      await fx.query(`DELETE FROM robot_permission WHERE robot_id = $1 AND action = 'push'`, [id]);
      await refusedSoon(() => token.pushBlob('team/base', randomBytes(64)));
      expect((await token.getManifest('team/base', '1')).status).toBe(200);

      expect((await api('DELETE', `/robots/${id}`, owner)).status).toBe(200);
      await refusedSoon(() => token.getManifest('team/base', '1'));
    });

    it('stops an anonymous pull once the project is made private', async () => {
      await fx.project('opened', { public: true });
      const root = await fx.user('root2', { sysadmin: true });
      await (
        await client(['repository:opened/app:pull,push'], root)
      ).pushImage('opened/app', '1', config, [randomBytes(100)]);
      const anonymous = await client(['repository:opened/app:pull']);
      expect((await anonymous.getManifest('opened/app', '1')).status).toBe(200);
      expect((await api('PUT', '/projects/opened', root, { metadata: { public: 'false' } })).status).toBe(200);
      await refusedSoon(() => anonymous.getManifest('opened/app', '1'));
    });

    it('stops a system administrator who is no longer one from listing the catalog', async () => {
      const admin = await fx.user('former-admin', { sysadmin: true });
      const token = await client(['registry:catalog:*'], admin);
      expect((await token.request('GET', '/v2/_catalog')).status).toBe(200);
      await fx.query(`UPDATE wharf_user SET sysadmin_flag = false WHERE user_id = $1`, [admin.userId]);
      await refusedSoon(() => token.request('GET', '/v2/_catalog'));
    });
  });

  describe("the scanner identity's tokens", () => {
    it('pull the one repository they were issued for, in that very project, and do nothing else', async () => {
      await fx.project('scanned', { public: false });
      const root = await fx.user('root3', { sysadmin: true });
      const pushed = await (
        await client(['repository:scanned/app:pull,push'], root)
      ).pushImage('scanned/app', '1', config, [randomBytes(100)]);
      const tokens = core.server.app.get(TokenService);
      expect(await tokens.issueForScanner('nowhere/app', 60)).toBeUndefined();
      const issued = await tokens.issueForScanner('scanned/app', 60);
      expect(issued?.expiresIn).toBe(60);
      const claims = JSON.parse(Buffer.from(issued!.token.split('.')[1], 'base64url').toString('utf8')) as Record<
        string,
        unknown
      >;
      expect(isScannerToken(claims)).toBe(true);
      expect(claims).toMatchObject({
        sub: SCANNER_ACTOR,
        access: [{ type: 'repository', name: 'scanned/app', actions: ['pull'] }],
      });
      // The claim alone does not make a scanner: the binding must name it too, and both are signed.
      expect(isScannerToken({ ...claims, wharf_binding: { subject: { kind: 'user', id: 1 }, projects: {} } })).toBe(
        false,
      );

      const scanner = new RegistryClient(core.url, issued!.token);
      expect((await scanner.getManifest('scanned/app', '1')).status).toBe(200);
      expect((await scanner.getManifest('scanned/app', pushed.digest)).status).toBe(200);
      expect((await scanner.pushBlob('scanned/app', randomBytes(10))).status).toBe(401);
      expect((await scanner.request('DELETE', `/v2/scanned/app/manifests/${pushed.digest}`)).status).toBe(401);
      expect((await scanner.request('GET', '/v2/_catalog')).status).toBe(401);
      // A scan reads the artifact; nobody pulled it. One real pull after the scanner's two counts as the only one.
      expect((await (await client(['repository:scanned/app:pull'], root)).getManifest('scanned/app', '1')).status).toBe(
        200,
      );
      const pullCount = async () =>
        (await api('GET', '/projects/scanned/repositories/app', root)).body as unknown as { pull_count: number };
      const deadline = Date.now() + 5000;
      while ((await pullCount()).pull_count === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 1500));
      expect((await pullCount()).pull_count).toBe(1);

      // A project deleted and created again under the name is another project: the token grants nothing there.
      expect((await api('DELETE', '/projects/scanned/repositories/app', root)).status).toBe(200);
      expect((await api('DELETE', '/projects/scanned', root)).status).toBe(200);
      await fx.project('scanned', { public: false });
      await (
        await client(['repository:scanned/app:pull,push'], root)
      ).pushImage('scanned/app', '1', config, [randomBytes(100)]);
      await refusedSoon(() => scanner.getManifest('scanned/app', '1'));
    });
  });

  it("answers a known token's requests without asking the database who may do what", async () => {
    const owner = await fx.user('warm');
    expect((await api('POST', '/projects', owner, { project_name: 'warm' })).status).toBe(201);
    const token = await client(['repository:warm/app:pull,push'], owner);
    await token.pushImage('warm/app', '1', config, [randomBytes(100)]);
    // The notice of the project's creation has long arrived; this request fills what a later change has not emptied.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await token.getManifest('warm/app', '1')).status).toBe(200);
    const dataSource = core.server.app.get(DataSource);
    const query = dataSource.query.bind(dataSource);
    const accessQueries: string[] = [];
    dataSource.query = ((sql: string, ...rest: unknown[]) => {
      if (/wharf_user|project_member|FROM robot|FROM project p\b/.test(sql)) accessQueries.push(sql);
      return (query as (sql: string, ...rest: unknown[]) => Promise<unknown>)(sql, ...rest);
    }) as typeof dataSource.query;
    try {
      for (let i = 0; i < 20; i++) expect((await token.getManifest('warm/app', '1')).status).toBe(200);
    } finally {
      dataSource.query = query;
    }
    expect(accessQueries).toEqual([]);
  });

  describe('with two core processes on one database', () => {
    let second: CoreServer | undefined;

    afterAll(async () => {
      await second?.close();
    });

    it("sees a change made through the other process's API on its next request", async () => {
      second = await startCoreServer(core.config, { port: 0, redisPrefix: 'wharf:test:second:', portalDir: false });
      const owner = await fx.user('owner-two');
      expect((await api('POST', '/projects', owner, { project_name: 'duo' })).status).toBe(201);
      await (
        await client(['repository:duo/app:pull,push'], owner)
      ).pushImage('duo/app', '1', config, [randomBytes(100)]);
      const dev = await fx.user('dev-two');
      const [{ project_id: duo }] = await fx.query<{ project_id: number }[]>(
        `SELECT project_id FROM project WHERE name = 'duo'`,
      );
      await fx.member(duo, dev.userId, ProjectRole.Developer);
      const token = await client(['repository:duo/app:pull'], dev, second.url);
      // Warm the second process's cache, then change membership through the first process.
      for (let i = 0; i < 3; i++) expect((await token.getManifest('duo/app', '1')).status).toBe(200);
      const [{ id }] = await fx.query<{ id: number }[]>(
        `SELECT id FROM project_member WHERE project_id = $1 AND entity_id = $2`,
        [duo, dev.userId],
      );
      expect((await api('DELETE', `/projects/duo/members/${id}`, owner)).status).toBe(200);
      const started = Date.now();
      let status = 200;
      while (status === 200 && Date.now() - started < 5000) {
        status = (await token.getManifest('duo/app', '1')).status;
        if (status === 200) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(status).toBe(401);
      expect(Date.now() - started).toBeLessThan(1000);
    });
  });
});
