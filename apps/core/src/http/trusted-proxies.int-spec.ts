import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RegistryFixtures } from '../registry/testing/registry-fixtures.js';
import { type Credentials, type TestCore, basicAuth, startTestCore } from '../testing/test-core.js';

const SERVER_TIMEOUT_MS = 60_000;
const EXTERNAL_URL = 'https://registry.example.com';
/** Failures one client may make for one account before it is refused (see CredentialService). */
const FREE_PAIR_FAILURES = 5;

/** A request sent from a chosen loopback source address, so the server sees that peer. */
function send(
  core: TestCore,
  from: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = '',
): Promise<number> {
  const url = new URL(path, core.url);
  return new Promise<number>((resolve, reject) => {
    const outgoing = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname, method, headers, localAddress: from },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

function apiLogin(core: TestCore, from: string, credentials: Credentials, forwardedFor?: string): Promise<number> {
  const headers: Record<string, string> = { authorization: basicAuth(credentials) };
  if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor;
  return send(core, from, 'GET', '/api/v2.0/users/current/permissions', headers);
}

function formLogin(core: TestCore, from: string, credentials: Credentials, headers: Record<string, string>) {
  const body = new URLSearchParams({ principal: credentials.username, password: credentials.password }).toString();
  return send(
    core,
    from,
    'POST',
    '/c/login',
    { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  );
}

let next = 10;
/** A loopback address no test used before: each is a peer of its own to the server. */
function freshAddress(): string {
  next += 1;
  return `127.1.${Math.floor(next / 250)}.${(next % 250) + 2}`;
}

describe('forwarding headers from the default trusted proxies', () => {
  let core: TestCore;
  let fx: RegistryFixtures;

  beforeAll(async () => {
    core = await startTestCore({ external_url: EXTERNAL_URL });
    fx = new RegistryFixtures(core);
  }, SERVER_TIMEOUT_MS);

  afterAll(async () => {
    await core?.close();
  }, SERVER_TIMEOUT_MS);

  it('counts failures against the client address a loopback proxy forwards, not the entries the client wrote', async () => {
    const owner = await fx.user('behind-proxy');
    const wrong = { username: owner.username, password: 'Guess-Passw0rd' };
    const proxy = freshAddress();
    // The client writes its own X-Forwarded-For; the proxy appends the address it saw. Only the latter counts.
    const statuses: number[] = [];
    for (let i = 1; i <= FREE_PAIR_FAILURES + 1; i++) {
      statuses.push(await apiLogin(core, proxy, wrong, `198.51.100.${i}, 203.0.113.7`));
    }
    expect(statuses).toEqual([...Array<number>(FREE_PAIR_FAILURES).fill(401), 429]);
    // Through another proxy of the same network, the same client is still the one that failed.
    expect(await apiLogin(core, freshAddress(), owner, '203.0.113.7')).toBe(429);
    // Another client behind the first proxy is not: the proxy's own address was never counted.
    expect(await apiLogin(core, proxy, owner, '203.0.113.8')).toBe(200);
  });

  it("takes the proxy's X-Forwarded-Proto and -Host as the origin a login form may be posted from", async () => {
    const user = await fx.user('proxied-portal');
    const origin = 'https://portal.internal:8443';
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'portal.internal:8443' };
    expect(await formLogin(core, freshAddress(), user, { origin, ...forwarded })).toBe(200);
    expect(await formLogin(core, freshAddress(), user, { origin: 'https://elsewhere.example', ...forwarded })).toBe(
      403,
    );
  });
});

describe.each([
  ['an empty list of trusted proxies', { external_url: EXTERNAL_URL, http: { trusted_proxies: [] } }],
  [
    'a list of trusted proxies without the peer',
    { external_url: EXTERNAL_URL, http: { trusted_proxies: ['10.0.0.0/8', '::1'] } },
  ],
  ['no external_url and no list', {}],
])('forwarding headers with %s', (_name, extraConfig) => {
  let core: TestCore;
  let fx: RegistryFixtures;

  beforeAll(async () => {
    core = await startTestCore(extraConfig);
    fx = new RegistryFixtures(core);
  }, SERVER_TIMEOUT_MS);

  afterAll(async () => {
    await core?.close();
  }, SERVER_TIMEOUT_MS);

  it('throttles the peer itself, whatever X-Forwarded-For it rotates through', async () => {
    const owner = await fx.user('direct-client');
    const wrong = { username: owner.username, password: 'Guess-Passw0rd' };
    const client = freshAddress();
    const statuses: number[] = [];
    for (let i = 1; i <= FREE_PAIR_FAILURES + 1; i++) {
      statuses.push(await apiLogin(core, client, wrong, `203.0.113.${i}`));
    }
    expect(statuses).toEqual([...Array<number>(FREE_PAIR_FAILURES).fill(401), 429]);
    expect(await apiLogin(core, client, owner, '203.0.113.200')).toBe(429);
    // The owner, from an address of its own, is let in: it was the peer that was counted.
    expect(await apiLogin(core, freshAddress(), owner)).toBe(200);
  });

  it('ignores X-Forwarded-Proto and -Host when deciding whether a login form comes from its own origin', async () => {
    const user = await fx.user('forged-origin');
    const headers = {
      origin: 'https://elsewhere.example',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'elsewhere.example',
    };
    expect(await formLogin(core, freshAddress(), user, headers)).toBe(403);
  });
});
