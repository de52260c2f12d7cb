import { describe, expect, it } from '@jest/globals';
import { WharfApiError, createWharfClient } from './client.js';

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** A server stand-in that records each request and answers from a table of `METHOD path` → response. */
function fakeServer(answers: Record<string, () => Response>) {
  const seen: Seen[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    seen.push({
      method: request.method,
      url: request.url,
      headers: Object.fromEntries(request.headers.entries()),
      body: await request.text(),
    });
    const answer = answers[`${request.method} ${url.pathname}`];
    return answer ? answer() : new Response('{"errors":[{"code":"NOT_FOUND","message":"no route"}]}', { status: 404 });
  };
  return { fetch, seen };
}

function json(body: unknown, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set('content-type', 'application/json');
  return new Response(JSON.stringify(body), { ...init, headers });
}

const user = { user_id: 3, username: 'alice' };

describe('createWharfClient', () => {
  it('sends basic credentials and calls typed paths under the base URL', async () => {
    const server = fakeServer({ 'GET /api/v2.0/users/current': () => json(user) });
    const client = createWharfClient({
      baseUrl: 'https://reg.example.com/',
      auth: { username: 'alice', password: 'pässword' },
      fetch: server.fetch,
    });
    const { data, response } = await client.GET('/api/v2.0/users/current');
    expect(response.status).toBe(200);
    expect(data).toEqual(user);
    expect(server.seen[0]?.url).toBe('https://reg.example.com/api/v2.0/users/current');
    expect(server.seen[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('alice:pässword', 'utf8').toString('base64')}`,
    );
  });

  it('logs in, keeps the session cookie and sends the CSRF token with changes only', async () => {
    const server = fakeServer({
      'POST /c/login': () =>
        new Response(null, {
          status: 200,
          headers: { 'Set-Cookie': 'sid=s3ss%2Fion; Path=/; HttpOnly; SameSite=Lax', 'X-Harbor-CSRF-Token': 'tok1' },
        }),
      'GET /api/v2.0/users/current': () => json(user, { headers: { 'X-Harbor-CSRF-Token': 'tok2' } }),
      'PUT /api/v2.0/users/3': () => new Response(null, { status: 200 }),
      'GET /c/logout': () =>
        new Response(null, { status: 200, headers: { 'Set-Cookie': 'sid=; Max-Age=0; Path=/; HttpOnly' } }),
    });
    const client = createWharfClient({
      baseUrl: 'http://127.0.0.1:8080',
      auth: { username: 'alice', password: 'x' },
      fetch: server.fetch,
    });
    expect(client.hasSession).toBe(false);
    await client.login('alice', 'Secret-1');
    expect(client.hasSession).toBe(true);
    const login = server.seen[0];
    expect(login?.headers.authorization).toBeUndefined();
    expect(JSON.parse(login?.body ?? '')).toEqual({ principal: 'alice', password: 'Secret-1' });

    await client.GET('/api/v2.0/users/current');
    expect(server.seen[1]?.headers.cookie).toBe('sid=s3ss%2Fion');
    expect(server.seen[1]?.headers['x-harbor-csrf-token']).toBeUndefined();
    expect(server.seen[1]?.headers.authorization).toBeUndefined();

    await client.PUT('/api/v2.0/users/{user_id}', {
      params: { path: { user_id: '3' } },
      body: { email: 'alice@example.com', realname: 'Alice', comment: '' },
    });
    // The token of the latest response, not the first one.
    expect(server.seen[2]?.headers['x-harbor-csrf-token']).toBe('tok2');
    expect(server.seen[2]?.headers.cookie).toBe('sid=s3ss%2Fion');

    await client.logout();
    expect(client.hasSession).toBe(false);
    await client.GET('/api/v2.0/users/current');
    expect(server.seen[4]?.headers.cookie).toBeUndefined();
  });

  it('reports a refused login with the server’s error and request id', async () => {
    const server = fakeServer({
      'POST /c/login': () =>
        json(
          { errors: [{ code: 'UNAUTHORIZED', message: 'invalid user name or password' }] },
          { status: 401, headers: { 'X-Request-Id': 'req-7' } },
        ),
    });
    const client = createWharfClient({ baseUrl: 'http://127.0.0.1:8080', fetch: server.fetch });
    const failure = await client.login('alice', 'wrong').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(WharfApiError);
    expect(failure).toMatchObject({
      status: 401,
      requestId: 'req-7',
      errors: [{ code: 'UNAUTHORIZED', message: 'invalid user name or password' }],
    });
    expect(String(failure)).toContain('UNAUTHORIZED: invalid user name or password (request req-7)');
    expect(client.hasSession).toBe(false);
  });
});
