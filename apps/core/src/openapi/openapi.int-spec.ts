import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WharfApiError, createWharfClient, unwrap } from '@wharf/api-client';
import { CONTROLLERS } from '../controllers/index.js';
import { type TestCore, startTestCore } from '../testing/test-core.js';
import { generateOpenApiDocument } from './openapi.generator.js';

describe('the served OpenAPI document and the typed client', () => {
  let core: TestCore | undefined;
  let server: TestCore;

  beforeAll(async () => {
    core = await startTestCore();
    server = core;
  }, 60_000);

  afterAll(async () => {
    await core?.close();
  });

  it('serves the document of the mounted controllers at openapi.json and at Harbor’s swagger.json', async () => {
    const expected = JSON.parse(JSON.stringify(generateOpenApiDocument(CONTROLLERS))) as unknown;
    for (const path of ['/api/v2.0/openapi.json', '/api/v2.0/swagger.json']) {
      const response = await server.request('GET', path);
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
      expect(response.headers.get('content-type')).toContain('application/json');
      expect(response.body).toEqual(expected);
    }
  });

  it('calls the API with basic credentials', async () => {
    const client = createWharfClient({ baseUrl: server.url, auth: server.admin });
    const me = unwrap(await client.GET('/api/v2.0/users/current'));
    expect(me.username).toBe('admin');
    expect(me.sysadmin_flag).toBe(true);
    const anonymous = createWharfClient({ baseUrl: server.url });
    const { response } = await anonymous.GET('/api/v2.0/users/current');
    expect(response.status).toBe(401);
  });

  it('logs in to a portal session and makes changes with its CSRF token', async () => {
    const admin = createWharfClient({ baseUrl: server.url, auth: server.admin });
    const username = `client-${Date.now().toString(36)}`;
    const password = 'Client-Pass1';
    const created = await admin.POST('/api/v2.0/users', {
      body: { username, email: `${username}@example.com`, realname: 'Client User', password },
    });
    expect(created.response.status).toBe(201);

    const portal = createWharfClient({ baseUrl: server.url });
    await portal.login(username, password);
    expect(portal.hasSession).toBe(true);
    const me = unwrap(await portal.GET('/api/v2.0/users/current'));
    expect(me.username).toBe(username);

    const update = await portal.PUT('/api/v2.0/users/{user_id}', {
      params: { path: { user_id: String(me.user_id) } },
      body: { email: `${username}@example.org`, realname: 'Renamed', comment: 'via the portal session' },
    });
    expect(update.response.status).toBe(200);
    const after = unwrap(await portal.GET('/api/v2.0/users/current'));
    expect(after).toMatchObject({ realname: 'Renamed', comment: 'via the portal session' });

    // The same session without the token is refused: the token is what let the change through.
    const cookie = `sid=${/sid=([^;]+)/.exec(await sessionCookie(server.url, username, password))?.[1] ?? ''}`;
    const forged = await fetch(`${server.url}/api/v2.0/users/${me.user_id}`, {
      method: 'PUT',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ email: `${username}@example.net`, realname: 'Forged' }),
    });
    expect(forged.status).toBe(403);

    await portal.logout();
    expect(portal.hasSession).toBe(false);
    const { response } = await portal.GET('/api/v2.0/users/current');
    expect(response.status).toBe(401);
  });

  it('reports a refused login as a WharfApiError', async () => {
    const portal = createWharfClient({ baseUrl: server.url });
    const failure = await portal.login('admin', 'not-the-password').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(WharfApiError);
    expect(failure).toMatchObject({ status: 401, errors: [{ code: 'UNAUTHORIZED' }] });
  });
});

/** The Set-Cookie of a fresh login, for sending the session by hand. */
async function sessionCookie(url: string, principal: string, password: string): Promise<string> {
  const response = await fetch(`${url}/c/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ principal, password }),
  });
  if (response.status !== 200) throw new Error(`login answered ${response.status}`);
  return response.headers.get('set-cookie') ?? '';
}
