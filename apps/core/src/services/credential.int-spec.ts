import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RegistryFixtures } from '../registry/testing/registry-fixtures.js';
import { type Credentials, type TestCore, basicAuth, startTestCore } from '../testing/test-core.js';

interface Answer {
  status: number;
  retryAfter: string | undefined;
}

/**
 * Each client address of the loopback network (127.0.0.0/8) is a client of its own to the server: requests are sent
 * from a chosen source address.
 */
function send(core: TestCore, from: string, method: string, path: string, headers: Record<string, string>, body = '') {
  const url = new URL(path, core.url);
  return new Promise<Answer>((resolve, reject) => {
    const outgoing = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, localAddress: from },
      (response) => {
        response.resume();
        response.on('end', () => {
          const retryAfter = response.headers['retry-after'];
          resolve({ status: response.statusCode ?? 0, retryAfter: Array.isArray(retryAfter) ? undefined : retryAfter });
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

type Door = (core: TestCore, from: string, credentials: Credentials) => Promise<Answer>;

const DOORS: [string, Door][] = [
  [
    'API basic authentication',
    (core, from, credentials) =>
      send(core, from, 'GET', '/api/v2.0/users/current/permissions', { authorization: basicAuth(credentials) }),
  ],
  [
    'the token service',
    (core, from, credentials) =>
      send(core, from, 'GET', '/service/token?service=harbor-registry&scope=repository:lib/app:pull', {
        authorization: basicAuth(credentials),
      }),
  ],
  [
    'the login form',
    (core, from, credentials) =>
      send(
        core,
        from,
        'POST',
        '/c/login',
        { 'content-type': 'application/x-www-form-urlencoded' },
        new URLSearchParams({ principal: credentials.username, password: credentials.password }).toString(),
      ),
  ],
];

describe('login throttling', () => {
  let core: TestCore;
  let fx: RegistryFixtures;
  let next = 10;

  /** A loopback address no test used before. */
  function freshAddress(): string {
    next += 1;
    return `127.0.${Math.floor(next / 250)}.${(next % 250) + 2}`;
  }

  beforeAll(async () => {
    core = await startTestCore();
    fx = new RegistryFixtures(core);
    await fx.project('lib');
  });

  afterAll(async () => {
    await core?.close();
  });

  describe.each(DOORS)('through %s', (_name, door) => {
    it('slows the guessing address but lets the right password in from another address', async () => {
      const owner = await fx.user(`owner-${next}`);
      const wrong = { username: owner.username, password: 'Guess-Passw0rd' };
      const guesser = freshAddress();
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await door(core, guesser, wrong)).status);
      expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(statuses).toContain(429);
      const refused = await door(core, guesser, owner);
      expect(refused.status).toBe(429);
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);

      expect((await door(core, freshAddress(), owner)).status).toBe(200);
    });
  });

  it("never refuses a robot's right secret, however often others guessed it", async () => {
    const robot = await fx.projectRobot('lib', 'ci', ['repository:pull']);
    const wrong = { username: robot.username, password: 'x'.repeat(32) };
    for (const address of [freshAddress(), freshAddress()]) {
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await DOORS[1][1](core, address, wrong)).status);
      expect(statuses).toEqual(Array(10).fill(401));
      // Even from the guessing address: it has not reached the per-address limit.
      expect((await DOORS[1][1](core, address, robot)).status).toBe(200);
    }
    expect((await DOORS[0][1](core, freshAddress(), robot)).status).toBe(200);
  });

  it('holds a guesser spread over many addresses to one try per address while the owner still logs in', async () => {
    const owner = await fx.user('spread');
    const wrong = { username: owner.username, password: 'Guess-Passw0rd' };
    const guessers = Array.from({ length: 12 }, () => freshAddress());
    for (const address of guessers) expect((await DOORS[0][1](core, address, wrong)).status).toBe(401);
    // The account has 12 failures: an address that failed for it must now wait, whatever its own count.
    for (const address of guessers.slice(0, 3)) {
      const again = await DOORS[0][1](core, address, wrong);
      expect(again.status).toBe(429);
      expect(Number(again.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    expect((await DOORS[0][1](core, freshAddress(), owner)).status).toBe(200);
    expect((await DOORS[2][1](core, freshAddress(), owner)).status).toBe(200);
  });

  it('limits one address guessing many accounts', async () => {
    const address = freshAddress();
    const statuses: number[] = [];
    for (let i = 0; i < 24; i++) {
      statuses.push((await DOORS[0][1](core, address, { username: `nobody-${i}`, password: 'x' })).status);
    }
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses.slice(20)).toContain(429);
    const owner = await fx.user('neighbour');
    expect((await DOORS[0][1](core, address, owner)).status).toBe(429);
    expect((await DOORS[0][1](core, freshAddress(), owner)).status).toBe(200);
  });
});
