import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type PrivatePostgres, type PrivateRedis, startPrivatePostgres, startPrivateRedis } from '@wharf/testkit';
import { RegistryClient, RegistryFixtures, sha256 } from '../registry/testing/registry-fixtures.js';
import { type Credentials, type TestCore, type TestResponse, basicAuth, startTestCore } from '../testing/test-core.js';

interface ErrorBody {
  errors: { code: string; message: string }[];
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function form(credentials: Credentials): string {
  return new URLSearchParams({ principal: credentials.username, password: credentials.password }).toString();
}

function expectUnavailable(response: TestResponse, code = 'SERVICE_UNAVAILABLE'): void {
  expect(response.status).toBe(503);
  expect(response.headers.get('retry-after')).toBe('5');
  expect((response.body as ErrorBody).errors[0].code).toBe(code);
}

/** GET with basic credentials from another loopback address, which the server sees as another client. */
function getFrom(core: TestCore, from: string, path: string, credentials: Credentials): Promise<number> {
  const url = new URL(path, core.url);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        headers: { authorization: basicAuth(credentials) },
        localAddress: from,
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}

async function redisHealth(core: TestCore, credentials: Credentials): Promise<string | undefined> {
  const health = await core.request<{ components: { name: string; status: string }[] }>('GET', '/api/v2.0/health', {
    auth: credentials,
  });
  expect(health.status).toBe(200);
  return health.body.components.find((component) => component.name === 'redis')?.status;
}

describe('while Redis is down', () => {
  let redis: PrivateRedis;
  let core: TestCore;
  let fx: RegistryFixtures;
  let user: Credentials;
  let sessionCookie: string;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    core = await startTestCore({ external_redis: { host: `127.0.0.1:${redis.port}` } });
    fx = new RegistryFixtures(core);
    user = await fx.user('steady', { sysadmin: true });
    await fx.project('lib');
    const login = await core.request('POST', '/c/login', { body: form(user), headers: FORM });
    expect(login.status).toBe(200);
    sessionCookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    await redis.kill();
  });

  afterAll(async () => {
    await core?.close();
    await redis?.stop();
  });

  it('still checks API basic credentials against PostgreSQL, without waiting for Redis', async () => {
    const started = Date.now();
    const current = await core.request<{ username: string }>('GET', '/api/v2.0/users/current', { auth: user });
    expect(current.status).toBe(200);
    expect(current.body.username).toBe('steady');
    expect(Date.now() - started).toBeLessThan(1500);
    const wrong = await core.request<ErrorBody>('GET', '/api/v2.0/users/current', {
      auth: { username: 'steady', password: 'wrong' },
    });
    expect(wrong.status).toBe(401);
  });

  it('issues registry tokens that the registry honours', async () => {
    const token = await fx.token(['repository:lib/app:pull,push'], user);
    const response = await fetch(`${core.url}/v2/lib/app/tags/list`, { headers: { authorization: `Bearer ${token}` } });
    // Allowed; the repository does not exist yet.
    expect(response.status).toBe(404);
    const refused = await fx.tokenResponse(['repository:lib/app:pull'], { username: 'steady', password: 'wrong' });
    expect(refused.status).toBe(401);
  });

  it('checks the login form, and answers 503 with Retry-After where a session is needed', async () => {
    const wrong = await core.request<ErrorBody>('POST', '/c/login', {
      body: form({ username: 'steady', password: 'wrong' }),
      headers: FORM,
    });
    expect(wrong.status).toBe(401);
    expectUnavailable(await core.request('POST', '/c/login', { body: form(user), headers: FORM }));
    expectUnavailable(await core.request('GET', '/api/v2.0/users/current', { headers: { cookie: sessionCookie } }));
  });

  it('throttles guessing in the process, and lets the right password in from another address', async () => {
    const target = await fx.user('guessed');
    const wrong = { username: 'guessed', password: 'Guess-Passw0rd' };
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await core.request('GET', '/api/v2.0/users/current', { auth: wrong })).status);
    }
    expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
    expect(statuses).toContain(429);
    expect(await getFrom(core, '127.0.0.9', '/api/v2.0/users/current', target)).toBe(200);
  });

  it('refuses a password change it could not end the sessions of, changing nothing; deletes a user all the same', async () => {
    const other = await fx.user('changing');
    const change = await core.request('PUT', `/api/v2.0/users/${other.userId}/password`, {
      auth: user,
      body: { new_password: 'Another-Passw0rd' },
    });
    expectUnavailable(change);
    expect((await core.request('GET', '/api/v2.0/users/current', { auth: other })).status).toBe(200);

    expect((await core.request('DELETE', `/api/v2.0/users/${other.userId}`, { auth: user })).status).toBe(200);
    expect((await core.request('GET', '/api/v2.0/users/current', { auth: other })).status).toBe(401);
  });

  it('makes sessions again once Redis is back', async () => {
    await redis.start();
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await core.request('POST', '/c/login', { body: form(user), headers: FORM })).status;
      if (status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(200);
  });
});

describe('when Redis is down as core starts', () => {
  let redis: PrivateRedis;
  let core: TestCore;
  let fx: RegistryFixtures;
  let user: Credentials;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    await redis.kill();
    core = await startTestCore({ external_redis: { host: `127.0.0.1:${redis.port}` } });
    fx = new RegistryFixtures(core);
    user = await fx.user('restarted', { sysadmin: true });
    await fx.project('lib');
  });

  afterAll(async () => {
    await core?.close();
    await redis?.stop();
  });

  it('starts, and checks API basic credentials against PostgreSQL', async () => {
    const current = await core.request<{ username: string }>('GET', '/api/v2.0/users/current', { auth: user });
    expect(current.status).toBe(200);
    expect(current.body.username).toBe('restarted');
    const wrong = await core.request('GET', '/api/v2.0/users/current', {
      auth: { username: 'restarted', password: 'wrong' },
    });
    expect(wrong.status).toBe(401);
  });

  it('reports Redis unhealthy while it is away', async () => {
    expect(await redisHealth(core, user)).toBe('unhealthy');
  });

  it('issues registry tokens with which an image is pushed and pulled', async () => {
    const layer = Buffer.from('a layer pushed while Redis is away');
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    await new RegistryClient(core.url, await fx.token(['repository:lib/app:pull,push'], user)).pushImage(
      'lib/app',
      'v1',
      config,
      [layer],
    );
    const puller = new RegistryClient(core.url, await fx.token(['repository:lib/app:pull'], user));
    const manifest = await puller.getManifest('lib/app', 'v1');
    expect(manifest.status).toBe(200);
    const blob = await puller.request('GET', `/v2/lib/app/blobs/${sha256(layer)}`);
    expect(blob.status).toBe(200);
    expect(sha256(blob.body)).toBe(sha256(layer));
    const refused = await fx.tokenResponse(['repository:lib/app:pull'], { username: 'restarted', password: 'wrong' });
    expect(refused.status).toBe(401);
  });

  it('answers 503 with Retry-After where a session is needed', async () => {
    const wrong = await core.request('POST', '/c/login', {
      body: form({ username: 'restarted', password: 'wrong' }),
      headers: FORM,
    });
    expect(wrong.status).toBe(401);
    expectUnavailable(await core.request('POST', '/c/login', { body: form(user), headers: FORM }));
  });

  it('makes sessions once Redis starts, without a restart of core', async () => {
    await redis.start();
    const deadline = Date.now() + 10_000;
    let login: TestResponse | undefined;
    while (Date.now() < deadline) {
      login = await core.request('POST', '/c/login', { body: form(user), headers: FORM });
      if (login.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(login?.status).toBe(200);
    const cookie = (login?.headers.get('set-cookie') ?? '').split(';')[0];
    const current = await core.request<{ username: string }>('GET', '/api/v2.0/users/current', { headers: { cookie } });
    expect(current.status).toBe(200);
    expect(current.body.username).toBe('restarted');
    expect(await redisHealth(core, user)).toBe('healthy');
  });
});

describe('while PostgreSQL restarts', () => {
  let postgres: PrivatePostgres;
  let core: TestCore;
  let fx: RegistryFixtures;

  beforeAll(async () => {
    postgres = await startPrivatePostgres();
    core = await startTestCore({}, { databaseServer: postgres });
    fx = new RegistryFixtures(core);
  }, 60_000);

  afterAll(async () => {
    await core?.close();
    await postgres?.destroy();
  }, 60_000);

  it('answers 503 with Retry-After in the envelope of each API, never 500, and recovers', async () => {
    const user = await fx.user('patient', { sysadmin: true });
    await fx.project('lib');
    const token = await fx.token(['repository:lib/app:pull'], user);
    const probes: [string, () => Promise<TestResponse>][] = [
      ['api', () => core.request('GET', '/api/v2.0/users/current', { auth: user })],
      [
        'token',
        () =>
          core.request('GET', '/service/token?service=harbor-registry&scope=repository:lib/app:pull', {
            auth: user,
          }),
      ],
      ['login', () => core.request('POST', '/c/login', { body: form(user), headers: FORM })],
      [
        'registry',
        () => core.request('GET', '/v2/lib/app/tags/list', { headers: { authorization: `Bearer ${token}` } }),
      ],
    ];
    const seen: { probe: string; response: TestResponse }[] = [];
    let restarting = true;
    const hammer = async (probe: string, send: () => Promise<TestResponse>) => {
      while (restarting) {
        seen.push({ probe, response: await send() });
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const running = probes.map(([probe, send]) => hammer(probe, send));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await postgres.restart();
    await new Promise((resolve) => setTimeout(resolve, 500));
    restarting = false;
    await Promise.all(running);

    const unexpected = seen.filter(({ response }) => response.status >= 500 && response.status !== 503);
    expect(unexpected.map(({ probe, response }) => `${probe} ${response.status} ${response.text}`)).toEqual([]);
    const unavailable = seen.filter(({ response }) => response.status === 503);
    expect(unavailable.length).toBeGreaterThan(0);
    for (const { probe, response } of unavailable) {
      expectUnavailable(response, probe === 'registry' ? 'UNAVAILABLE' : 'SERVICE_UNAVAILABLE');
    }

    // Once the server is back, every probe succeeds again.
    const deadline = Date.now() + 10_000;
    let statuses: number[] = [];
    while (Date.now() < deadline) {
      statuses = await Promise.all(probes.map(async ([, send]) => (await send()).status));
      if (statuses.every((status) => status < 500)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(statuses).toEqual([200, 200, 200, 404]);
  }, 60_000);
});
