import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ProjectRole } from '@wharf/auth';
import { DataSource } from 'typeorm';
import { type Credentials, type TestCore, startTestCore } from '../testing/test-core.js';
import { RegistryClient, RegistryFixtures, sha256 } from './testing/registry-fixtures.js';

const LISTENER = 'wharf-core-listener';

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The manifest cache, the artifact page index and the access cache of one core process all follow PostgreSQL change
 * notices. Changes are made here behind their back (no notice: straight SQL, with the access triggers switched off
 * for the transaction), so what a request answers shows whether a cache answered it.
 */
// Starting a server takes seconds on a busy machine.
jest.setTimeout(30_000);

describe('change notices of a core process', () => {
  let core: TestCore;
  let fx: RegistryFixtures;
  let db: DataSource;
  let admin: Credentials;
  let dev: Credentials & { userId: number };
  let projectId: number;
  let pushed: Map<string, string>;

  const listeners = () =>
    db.query<{ pid: number; state: string; query: string }[]>(
      `SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`,
      [LISTENER],
    );

  /** A pull with a token issued to the developer, which only the access cache still allows once the membership is gone. */
  let devRegistry: RegistryClient;
  const devPull = async () => (await devRegistry.request('GET', '/v2/lib/app/tags/list')).status;
  let adminRegistry: RegistryClient;
  const manifestStatus = async (tag: string) => (await adminRegistry.getManifest('lib/app', tag)).status;
  const artifactTotal = async () => {
    const response = await core.request('GET', '/api/v2.0/projects/lib/repositories/app/artifacts', { auth: admin });
    expect(response.status).toBe(200);
    return Number(response.headers.get('x-total-count'));
  };

  /** Removes the membership without the trigger that announces it. */
  const silentlyRemoveMember = () =>
    db.transaction(async (manager) => {
      await manager.query(`SET LOCAL session_replication_role = replica`);
      await manager.query(`DELETE FROM project_member WHERE project_id = $1 AND entity_id = $2`, [
        projectId,
        dev.userId,
      ]);
    });
  /** Deletes a tag's manifest without the notice the registry sends with it. */
  const silentlyDeleteManifest = (tag: string) =>
    db.query(`DELETE FROM registry_manifest WHERE digest = $1`, [pushed.get(tag)]);

  beforeAll(async () => {
    core = await startTestCore();
    fx = new RegistryFixtures(core);
    db = core.server.app.get(DataSource);
    admin = await fx.user('keeper', { sysadmin: true });
    dev = await fx.user('dev');
    projectId = await fx.project('lib');
    await fx.member(projectId, dev.userId, ProjectRole.Developer);
    const pusher = new RegistryClient(core.url, await fx.token(['repository:lib/app:pull,push'], admin));
    pushed = new Map();
    for (const tag of ['1', '2', '3']) {
      const image = await pusher.pushImage('lib/app', tag, Buffer.from(`{"tag":"${tag}"}`), [randomBytes(64)]);
      pushed.set(tag, image.digest);
      expect(image.digest).toBe(sha256(image.manifest));
    }
    adminRegistry = new RegistryClient(core.url, await fx.token(['repository:lib/app:pull'], admin));
    devRegistry = new RegistryClient(core.url, await fx.token(['repository:lib/app:pull'], dev));
  });

  afterAll(async () => {
    await core?.close();
  });

  it('are received on one connection for every cache', async () => {
    // Every cache subscribes as the server starts; give each time to connect before counting.
    await until('the listener is connected', async () => (await listeners()).length > 0);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await listeners()).toHaveLength(1);
  });

  it('empty every cache when that connection is lost, and fill them again once it is back', async () => {
    // Warm each cache, then change what it holds behind its back: the stale answers show that it is in use.
    expect(await devPull()).toBe(200);
    expect(await manifestStatus('3')).toBe(200);
    expect(await artifactTotal()).toBe(3);
    await silentlyRemoveMember();
    await silentlyDeleteManifest('3');
    expect(await devPull()).toBe(200);
    expect(await manifestStatus('3')).toBe(200);
    expect(await artifactTotal()).toBe(3);

    const [before] = await listeners();
    const ended = await db.query<unknown[]>(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = $1`,
      [LISTENER],
    );
    expect(ended).toHaveLength(1);
    // Notices may have been missed while it was away: every cache forgets what it held.
    await until('every cache answers from the database', async () => {
      const statuses = [await devPull(), await manifestStatus('3'), await artifactTotal()];
      return statuses[0] === 401 && statuses[1] === 404 && statuses[2] === 2;
    });

    await until(
      'the connection is back and listening',
      async () => {
        const now = await listeners();
        return now.length === 1 && now[0].pid !== before.pid && now[0].state === 'idle' && /^LISTEN/.test(now[0].query);
      },
      15_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Each cache keeps answers again, and hears of changes again.
    await fx.member(projectId, dev.userId, ProjectRole.Developer);
    await until('the membership notice arrives', async () => (await devPull()) === 200);
    expect(await manifestStatus('2')).toBe(200);
    expect(await artifactTotal()).toBe(2);
    await silentlyRemoveMember();
    await silentlyDeleteManifest('2');
    expect(await devPull()).toBe(200);
    expect(await manifestStatus('2')).toBe(200);
    expect(await artifactTotal()).toBe(2);
  });
});
