import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { hashRobotSecret, newSalt } from '@wharf/auth';
import { DataSource } from 'typeorm';
import { type Credentials, type TestCore, type TestResponse, startTestCore } from '../testing/test-core.js';

/** Starting and stopping a server (database, migrations, admin hash) takes seconds on a busy machine. */
const SERVER_TIMEOUT_MS = 60_000;
// Every request authenticates with a deliberately slow password hash; several test files share two cores.
jest.setTimeout(30_000);

interface Session {
  cookie: string;
  csrf: string;
  setCookie: string;
}

interface ErrorBody {
  errors: { code: string; message: string }[];
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function form(credentials: Credentials): string {
  return new URLSearchParams({ principal: credentials.username, password: credentials.password }).toString();
}

function sessionOf(response: TestResponse): Session {
  const setCookie = response.headers.get('set-cookie') ?? '';
  const sid = /(?:^|;\s*)sid=([^;]*)/.exec(setCookie)?.[1];
  if (!sid) throw new Error(`no sid cookie in ${JSON.stringify(setCookie)}`);
  return { cookie: `sid=${sid}`, csrf: response.headers.get('x-harbor-csrf-token') ?? '', setCookie };
}

describe('portal sessions', () => {
  let core: TestCore;
  let serial = 0;

  async function createUser(prefix: string): Promise<{ id: number; credentials: Credentials }> {
    serial += 1;
    const credentials = { username: `${prefix}${serial}`, password: `Passw0rd-${serial}` };
    const response = await core.request('POST', '/api/v2.0/users', {
      auth: core.admin,
      body: {
        username: credentials.username,
        email: `${credentials.username}@example.com`,
        realname: credentials.username,
        password: credentials.password,
      },
    });
    expect(response.status).toBe(201);
    return { id: Number(response.headers.get('location')?.split('/').pop()), credentials };
  }

  async function login(credentials: Credentials): Promise<Session> {
    const response = await core.request('POST', '/c/login', { body: form(credentials), headers: FORM });
    expect(response.status).toBe(200);
    return sessionOf(response);
  }

  function currentUser(session: Session): Promise<TestResponse<{ username: string }>> {
    return core.request<{ username: string }>('GET', '/api/v2.0/users/current', {
      headers: { cookie: session.cookie },
    });
  }

  beforeAll(async () => {
    core = await startTestCore();
  }, SERVER_TIMEOUT_MS);

  afterAll(async () => {
    await core.close();
  }, SERVER_TIMEOUT_MS);

  it("logs in with the portal's form and sets an HttpOnly session cookie and the CSRF token", async () => {
    const { credentials } = await createUser('former');
    const response = await core.request('POST', '/c/login', { body: form(credentials), headers: FORM });
    expect(response.status).toBe(200);
    expect(response.text).toBe('');
    const session = sessionOf(response);
    expect(session.setCookie).toMatch(/^sid=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(session.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const current = await currentUser(session);
    expect(current.status).toBe(200);
    expect(current.body.username).toBe(credentials.username);
    // Each session-authenticated answer repeats the token, so the portal can pick it up after a reload.
    expect(current.headers.get('x-harbor-csrf-token')).toBe(session.csrf);
  });

  it('also takes the login as JSON', async () => {
    const { credentials } = await createUser('jsoner');
    const response = await core.request('POST', '/c/login', {
      body: { principal: credentials.username, password: credentials.password },
    });
    expect(response.status).toBe(200);
    expect((await currentUser(sessionOf(response))).body.username).toBe(credentials.username);
  });

  it('answers a wrong password with 401 and no cookie, and a missing field with 400', async () => {
    const { credentials } = await createUser('mistyper');
    const wrong = await core.request<ErrorBody>('POST', '/c/login', {
      body: form({ username: credentials.username, password: 'Wrong-Passw0rd' }),
      headers: FORM,
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.errors[0].code).toBe('UNAUTHORIZED');
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const missing = await core.request<ErrorBody>('POST', '/c/login', {
      body: `principal=${credentials.username}`,
      headers: FORM,
    });
    expect(missing.status).toBe(400);
    expect(missing.body.errors[0].message).toMatch(/body\.password/);
  });

  it('does not let robot accounts log in to the portal', async () => {
    const db = core.server.app.get(DataSource);
    const secret = 'Robot-Secret-Portal-1';
    const salt = newSalt();
    await db.query(
      `INSERT INTO robot (name, level, secret_hash, salt, duration, expires_at)
       VALUES ('portal', 'system', $1, $2, -1, -1)`,
      [hashRobotSecret(secret, salt), salt],
    );
    const response = await core.request<ErrorBody>('POST', '/c/login', {
      body: form({ username: 'robot$portal', password: secret }),
      headers: FORM,
    });
    expect(response.status).toBe(401);
    expect(response.body.errors[0].message).toMatch(/robot accounts cannot log in to the portal/);
    expect(response.headers.get('set-cookie')).toBeNull();
  });

  it('requires the CSRF token on changes made with the session cookie', async () => {
    const { id, credentials } = await createUser('csrf');
    const session = await login(credentials);
    const body = { email: `${credentials.username}@example.org`, realname: 'Changed' };

    const without = await core.request<ErrorBody>('PUT', `/api/v2.0/users/${id}`, {
      headers: { cookie: session.cookie },
      body,
    });
    expect(without.status).toBe(403);
    expect(without.body.errors[0].message).toMatch(/CSRF/);

    // One character changed (never to itself: the token may already end in A).
    const forgedToken = `${session.csrf.slice(0, -1)}${session.csrf.endsWith('A') ? 'B' : 'A'}`;
    const forged = await core.request('PUT', `/api/v2.0/users/${id}`, {
      headers: { cookie: session.cookie, 'x-harbor-csrf-token': forgedToken },
      body,
    });
    expect(forged.status).toBe(403);

    const withToken = await core.request('PUT', `/api/v2.0/users/${id}`, {
      headers: { cookie: session.cookie, 'x-harbor-csrf-token': session.csrf },
      body,
    });
    expect(withToken.status).toBe(200);
    const read = await core.request<{ realname: string }>('GET', `/api/v2.0/users/${id}`, {
      headers: { cookie: session.cookie },
    });
    expect(read.body.realname).toBe('Changed');
  });

  it('logs out: the session ends and the cookie is cleared', async () => {
    const { credentials } = await createUser('leaver');
    const session = await login(credentials);
    const response = await core.request('GET', '/c/logout', { headers: { cookie: session.cookie } });
    expect(response.status).toBe(200);
    expect(response.headers.get('set-cookie')).toMatch(
      /^sid=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 [^;]*; HttpOnly; SameSite=Lax$/,
    );
    expect((await currentUser(session)).status).toBe(401);

    // Logging out without a session still clears the cookie.
    const again = await core.request('GET', '/c/logout');
    expect(again.status).toBe(200);
    expect(again.headers.get('set-cookie')).toMatch(/^sid=;/);
  });

  it('gives each login a new session and ends the one the browser held before', async () => {
    const { credentials } = await createUser('relogger');
    const first = await login(credentials);
    const response = await core.request('POST', '/c/login', {
      body: form(credentials),
      headers: { ...FORM, cookie: first.cookie, 'x-harbor-csrf-token': first.csrf },
    });
    expect(response.status).toBe(200);
    const second = sessionOf(response);
    expect(second.cookie).not.toBe(first.cookie);
    expect((await currentUser(first)).status).toBe(401);
    expect((await currentUser(second)).status).toBe(200);
  });

  it("ends every session of a user whose password changes, and renews the changer's own", async () => {
    const { id, credentials } = await createUser('changer');
    const portal = await login(credentials);
    const otherBrowser = await login(credentials);

    const response = await core.request('PUT', `/api/v2.0/users/${id}/password`, {
      headers: { cookie: portal.cookie, 'x-harbor-csrf-token': portal.csrf },
      body: { old_password: credentials.password, new_password: 'Changed-Passw0rd' },
    });
    expect(response.status).toBe(200);
    const renewed = sessionOf(response);
    expect(renewed.cookie).not.toBe(portal.cookie);

    expect((await currentUser(portal)).status).toBe(401);
    expect((await currentUser(otherBrowser)).status).toBe(401);
    expect((await currentUser(renewed)).body.username).toBe(credentials.username);
    const change = await core.request('PUT', `/api/v2.0/users/${id}`, {
      headers: { cookie: renewed.cookie, 'x-harbor-csrf-token': renewed.csrf },
      body: { email: `${credentials.username}@example.com`, realname: 'Still Here' },
    });
    expect(change.status).toBe(200);
  });

  it('ends the sessions of a deleted user', async () => {
    const { id, credentials } = await createUser('deleted');
    const session = await login(credentials);
    expect((await core.request('DELETE', `/api/v2.0/users/${id}`, { auth: core.admin })).status).toBe(200);
    expect((await currentUser(session)).status).toBe(401);
  });

  it('slows down repeated failed logins with 429 and Retry-After', async () => {
    const { credentials } = await createUser('guessed');
    const wrong = { username: credentials.username, password: 'Guess-Passw0rd' };
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await core.request('POST', '/c/login', { body: form(wrong), headers: FORM })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    const throttled = await core.request<ErrorBody>('POST', '/c/login', { body: form(credentials), headers: FORM });
    expect(throttled.status).toBe(429);
    expect(throttled.body.errors[0].code).toBe('TOO_MANY_REQUESTS');
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(throttled.headers.get('set-cookie')).toBeNull();
  });

  describe('behind an https external URL', () => {
    let secure: TestCore;

    beforeAll(async () => {
      secure = await startTestCore({ external_url: 'https://registry.example.com' });
    }, SERVER_TIMEOUT_MS);

    afterAll(async () => {
      await secure.close();
    }, SERVER_TIMEOUT_MS);

    it('marks the session cookie Secure', async () => {
      const response = await secure.request('POST', '/c/login', { body: form(secure.admin), headers: FORM });
      expect(response.status).toBe(200);
      expect(response.headers.get('set-cookie')).toMatch(/; HttpOnly; Secure; SameSite=Lax$/);
    });
  });
});
