import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { rawRequest } from '@wharf/testkit';
import { type PushedImage, RegistryClient, RegistryFixtures, sha256 } from '../registry/testing/registry-fixtures.js';
import { type Credentials, type TestCore, type TestResponse, basicAuth, startTestCore } from '../testing/test-core.js';

jest.setTimeout(30_000);

interface Errors {
  errors: { code: string; message: string }[];
}

const PORTAL_PAGE = '<!doctype html><html><body><div id="root"></div></body></html>';

function expectApiError(response: TestResponse, status: number, code: string): void {
  expect({ status: response.status, body: response.body }).toEqual({
    status,
    body: { errors: [{ code, message: expect.any(String) }] },
  });
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
}

function expectOciError(response: { status: number; headers: Headers; body: Buffer }, status: number, code: string) {
  expect({ status: response.status, body: JSON.parse(response.body.toString()) as unknown }).toEqual({
    status,
    body: { errors: [expect.objectContaining({ code, message: expect.any(String) })] },
  });
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
}

describe('input at the edge of the API and the registry', () => {
  let core: TestCore;
  let fixtures: RegistryFixtures;
  let portalDir: string;
  let projectId: number;
  let image: PushedImage;
  let registry: RegistryClient;
  let catalogReader: RegistryClient;

  beforeAll(async () => {
    portalDir = await mkdtemp(join(tmpdir(), 'wharf-portal-'));
    await writeFile(join(portalDir, 'index.html'), PORTAL_PAGE);
    core = await startTestCore({}, { portalDir });
    fixtures = new RegistryFixtures(core);
    projectId = await fixtures.project('edge', { storageLimit: 1_000_000 });
    registry = new RegistryClient(core.url, await fixtures.token(['repository:edge/app:pull,push'], core.admin));
    catalogReader = new RegistryClient(core.url, await fixtures.token(['registry:catalog:*'], core.admin));
    image = await registry.pushImage('edge/app', 'v1', Buffer.from('{"config":1}'), [Buffer.from('layer-1')]);
  }, 60_000);

  afterAll(async () => {
    await core?.close();
    await rm(portalDir, { recursive: true, force: true });
  });

  const admin = (): Credentials => core.admin;

  describe('NUL characters and integers out of range', () => {
    it('answers 400 in the envelope for a NUL in a path, a query, a filter, a JSON field, the login form, credentials', async () => {
      const cases: [string, string, Parameters<TestCore['request']>[2]][] = [
        ['GET', '/api/v2.0/projects/%00', { auth: admin() }],
        ['GET', '/api/v2.0/projects/edge%00/repositories', { auth: admin() }],
        ['GET', '/api/v2.0/projects?q=name%3D%00', { auth: admin() }],
        ['GET', '/api/v2.0/projects?name=a%00', { auth: admin() }],
        ['GET', '/api/v2.0/audit-logs?q=resource%3D~%00', { auth: admin() }],
        ['PUT', `/api/v2.0/projects/${projectId}`, { auth: admin(), body: { metadata: { retention_id: 'a\u0000' } } }],
        [
          'POST',
          '/api/v2.0/users',
          {
            auth: admin(),
            body: { username: 'nul', email: 'nul@example.com', realname: 'N\u0000L', password: 'Passw0rd-nul' },
          },
        ],
        [
          'POST',
          '/c/login',
          {
            body: 'principal=adm%00in&password=x',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          },
        ],
        [
          'GET',
          '/api/v2.0/users/current',
          { headers: { authorization: basicAuth({ username: 'a\u0000', password: 'b' }) } },
        ],
        [
          'GET',
          '/service/token?service=harbor-registry',
          {
            headers: { authorization: basicAuth({ username: 'admin', password: 'x\u0000y' }) },
          },
        ],
      ];
      for (const [method, path, options] of cases) {
        const response = await core.request<Errors>(method, path, options);
        expect({ method, path, status: response.status }).toEqual({ method, path, status: 400 });
        expectApiError(response, 400, 'BAD_REQUEST');
        expect(response.body).toMatchObject({ errors: [{ message: expect.stringContaining('NUL') }] });
      }
      expect((await core.request('GET', '/api/v2.0/users?username=nul', { auth: admin() })).body).toEqual([]);
      const project = await core.request<{ metadata: Record<string, string> }>(
        'GET',
        `/api/v2.0/projects/${projectId}`,
        {
          auth: admin(),
        },
      );
      expect(project.body.metadata.retention_id).toBeUndefined();
    });

    it('answers 400 for ids, pages and page sizes beyond what their columns hold', async () => {
      for (const path of [
        '/api/v2.0/projects/2147483648',
        '/api/v2.0/projects/99999999999999999999999999',
        '/api/v2.0/projects/2147483648/members',
        '/api/v2.0/projects?page=2147483648',
        '/api/v2.0/projects?page_size=99999999999',
      ]) {
        const response = await core.request('GET', path, { auth: admin() });
        expect({ path, status: response.status }).toEqual({ path, status: 400 });
        expectApiError(response, 400, 'BAD_REQUEST');
      }
      const member = await core.request('POST', `/api/v2.0/projects/${projectId}/members`, {
        auth: admin(),
        body: { role_id: 2, member_user: { user_id: 2147483648 } },
      });
      expectApiError(member, 400, 'BAD_REQUEST');
    });

    it('reads page and page_size as decimal digits on every list, and nothing else', async () => {
      const lists = [
        '/api/v2.0/projects',
        '/api/v2.0/audit-logs',
        '/api/v2.0/users',
        '/api/v2.0/robots',
        '/api/v2.0/quotas',
        `/api/v2.0/projects/${projectId}/members`,
        '/api/v2.0/projects/edge/repositories',
        '/api/v2.0/projects/edge/repositories/app/artifacts',
        '/api/v2.0/projects/edge/logs',
      ];
      for (const list of lists) {
        expect({
          list,
          status: (await core.request('GET', `${list}?page=2&page_size=5`, { auth: admin() })).status,
        }).toEqual({
          list,
          status: 200,
        });
        for (const query of ['page=0x10', 'page=1e1', 'page=%2B1', 'page=%201', 'page_size=0x10', 'page_size=5.0']) {
          const response = await core.request('GET', `${list}?${query}`, { auth: admin() });
          expect({ list, query, status: response.status }).toEqual({ list, query, status: 400 });
          expectApiError(response, 400, 'BAD_REQUEST');
        }
      }
    });

    it('answers 400 in the OCI envelope for a NUL in the catalog and tag lists', async () => {
      expectOciError(await catalogReader.request('GET', '/v2/_catalog?last=%00'), 400, 'NAME_INVALID');
      expectOciError(await catalogReader.request('GET', '/v2/_catalog?n=10&last=a%00b'), 400, 'NAME_INVALID');
      expectOciError(await registry.request('GET', '/v2/edge/app/tags/list?last=%00'), 400, 'UNSUPPORTED');
      expect((await registry.request('GET', '/v2/edge/app/tags/list?last=a')).status).toBe(200);
      expect((await catalogReader.request('GET', '/v2/_catalog?last=a')).status).toBe(200);
    });
  });

  describe('errors the framework produces', () => {
    it('answers a path with bad percent-encoding in the envelope of its API', async () => {
      const api = await core.request('GET', '/api/v2.0/projects/%zz', { auth: admin() });
      expectApiError(api, 400, 'BAD_REQUEST');
      expectOciError(await registry.request('GET', '/v2/edge/%zz/tags/list'), 400, 'NAME_INVALID');
    });

    it('answers methods the registry does not serve with 405 or 404 in the OCI envelope', async () => {
      const options = await registry.request('OPTIONS', '/v2/');
      expectOciError(options, 405, 'UNSUPPORTED');
      expect(options.headers.get('allow')).toBe('GET, HEAD');
      // fetch refuses to send TRACE.
      const trace = await rawRequest(
        core.url,
        `TRACE /v2/edge/app/manifests/${image.digest} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      expect(trace?.status).toBe(405);
      expect(trace?.headers.allow).toBe('GET, HEAD, PUT, DELETE');
      expect(JSON.parse(trace?.body ?? '')).toEqual({ errors: [{ code: 'UNSUPPORTED', message: expect.any(String) }] });
      expectOciError(await registry.request('PATCH', '/v2/edge/app/tags/list'), 405, 'UNSUPPORTED');
      expectOciError(await registry.request('PROPFIND', '/v2/edge/app/nothing'), 404, 'UNSUPPORTED');
    });

    it('answers what the HTTP parser refuses in the envelope of the API the request was for', async () => {
      const cases: [string, number, string][] = [
        ['POST /api/v2.0/projects HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 400, 'BAD_REQUEST'],
        [
          'PATCH /v2/edge/app/blobs/uploads/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
          400,
          'SIZE_INVALID',
        ],
        [
          `GET /api/v2.0/ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
          431,
          'REQUEST_HEADER_FIELDS_TOO_LARGE',
        ],
        [`GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'UNSUPPORTED'],
        ['NOT HTTP AT ALL\r\n\r\n', 400, 'BAD_REQUEST'],
        [
          'GET /api/v2.0/ping HTTP/1.1\r\nHost: x\r\nExpect: nonsense\r\nConnection: close\r\n\r\n',
          417,
          'EXPECTATION_FAILED',
        ],
        ['GET /v2/ HTTP/1.1\r\nHost: x\r\nExpect: nonsense\r\nConnection: close\r\n\r\n', 417, 'UNSUPPORTED'],
        ['CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 405, 'METHOD_NOT_ALLOWED'],
      ];
      for (const [request, status, code] of cases) {
        const response = await rawRequest(core.url, request);
        expect({ request: request.slice(0, 40), status: response?.status }).toEqual({
          request: request.slice(0, 40),
          status,
        });
        expect(response?.headers['content-type']).toMatch(/^application\/json/);
        expect(response?.headers['x-content-type-options']).toBe('nosniff');
        expect(JSON.parse(response?.body ?? '')).toEqual({ errors: [{ code, message: expect.any(String) }] });
      }
    });

    it('routes an absolute-form request target by its path, never to the portal', async () => {
      const host = new URL(core.url).host;
      const ping = await rawRequest(
        core.url,
        `GET ${core.url}/api/v2.0/ping HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      expect(ping).toMatchObject({ status: 200, body: 'Pong' });
      const v2 = await rawRequest(
        core.url,
        `GET ${core.url}/v2/ HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      expect(v2?.status).toBe(401);
      expect(v2?.headers['www-authenticate']).toContain('/service/token');
      const project = await rawRequest(
        core.url,
        `GET http://elsewhere.example/api/v2.0/projects/${projectId} HTTP/1.1\r\nHost: ${host}\r\n` +
          `Authorization: ${basicAuth(admin())}\r\nConnection: close\r\n\r\n`,
      );
      expect(project?.status).toBe(200);
      expect(JSON.parse(project?.body ?? '')).toMatchObject({ name: 'edge' });
      const unknown = await rawRequest(
        core.url,
        `GET ${core.url}/api/v2.0/nothing HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      expect(unknown?.status).toBe(404);
      expect(unknown?.body).not.toContain('<html');
      // The portal itself still answers its pages.
      expect((await core.request('GET', '/projects')).text).toBe(PORTAL_PAGE);
    });

    it('never sends a body with the answer to a HEAD, errors included', async () => {
      const heads = [
        `/api/v2.0/projects/2147483648`,
        `/api/v2.0/projects/%00`,
        '/api/v2.0/projects/%zz',
        '/api/v2.0/nothing',
        '/v2/edge/%zz/manifests/v1',
        '/v2/edge/app/manifests/nope',
        `/v2/edge/app/manifests/${image.digest}`,
        '/v2/_catalog',
      ];
      for (const path of heads) {
        const response = await rawRequest(
          core.url,
          `HEAD ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basicAuth(admin())}\r\nConnection: close\r\n\r\n`,
        );
        expect({ path, status: response?.status, body: response?.body }).toEqual({
          path,
          status: expect.any(Number),
          body: '',
        });
      }
      const parserError = await rawRequest(core.url, 'HEAD /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n');
      expect(parserError).toMatchObject({ status: 400, body: '' });
    });
  });

  describe('request bodies', () => {
    it('reads an empty body sent as application/json as no body where the body is optional', async () => {
      const created = await core.request('POST', '/api/v2.0/projects', {
        auth: admin(),
        body: { project_name: 'emptybody' },
      });
      expect(created.status).toBe(201);
      const id = created.headers.get('location')?.split('/').pop() ?? '';
      const json = { 'content-type': 'application/json' };
      const deleted = await core.request('DELETE', `/api/v2.0/projects/${id}`, { auth: admin(), headers: json });
      expect(deleted.status).toBe(200);
      const tags = `/api/v2.0/projects/edge/repositories/app/artifacts/${image.digest}/tags`;
      expect((await core.request('POST', tags, { auth: admin(), body: { name: 'extra' } })).status).toBe(201);
      expect((await core.request('DELETE', `${tags}/extra`, { auth: admin(), headers: json })).status).toBe(200);
      // A route whose body is required still says so.
      const noBody = await core.request('POST', '/api/v2.0/projects', { auth: admin(), headers: json });
      expectApiError(noBody, 400, 'BAD_REQUEST');
    });

    it('refuses a body in another media type than JSON with 415, and changes nothing', async () => {
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const project = await core.request('POST', '/api/v2.0/projects', {
        auth: admin(),
        body: 'project_name=formmade',
        headers: form,
      });
      expectApiError(project, 415, 'UNSUPPORTED_MEDIA_TYPE');
      const text = await core.request('POST', '/api/v2.0/projects', {
        auth: admin(),
        body: '{"project_name":"textmade"}',
        headers: { 'content-type': 'text/plain' },
      });
      expectApiError(text, 415, 'UNSUPPORTED_MEDIA_TYPE');
      for (const name of ['formmade', 'textmade']) {
        expect((await core.request('HEAD', `/api/v2.0/projects?project_name=${name}`, { auth: admin() })).status).toBe(
          404,
        );
      }

      const robot = await fixtures.projectRobot('edge', 'kept', ['repository:pull']);
      const [{ id }] = await fixtures.query<{ id: number }[]>(`SELECT id FROM robot WHERE name = 'kept'`);
      const rotate = await core.request('PATCH', `/api/v2.0/robots/${id}`, {
        auth: admin(),
        body: 'secret=',
        headers: form,
      });
      expectApiError(rotate, 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect((await fixtures.tokenResponse(['repository:edge/app:pull'], robot)).status).toBe(200);
    });
  });

  describe('the portal login and response headers', () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const body = (): string =>
      new URLSearchParams({ principal: core.admin.username, password: core.admin.password }).toString();

    it('refuses a login form posted from another site', async () => {
      const refused: Record<string, string>[] = [
        { origin: 'https://attacker.example' },
        { origin: 'null' },
        { origin: core.url.replace('127.0.0.1', 'localhost') },
        { 'sec-fetch-site': 'cross-site' },
        { origin: core.url, 'sec-fetch-site': 'cross-site' },
      ];
      for (const headers of refused) {
        const response = await core.request('POST', '/c/login', { body: body(), headers: { ...form, ...headers } });
        expect({ headers, status: response.status }).toEqual({ headers, status: 403 });
        expectApiError(response, 403, 'FORBIDDEN');
        expect(response.headers.get('set-cookie')).toBeNull();
      }
      const accepted: Record<string, string>[] = [
        {},
        { origin: core.url, 'sec-fetch-site': 'same-origin' },
        { 'sec-fetch-site': 'none' },
      ];
      for (const headers of accepted) {
        const response = await core.request('POST', '/c/login', { body: body(), headers: { ...form, ...headers } });
        expect({ headers, status: response.status }).toEqual({ headers, status: 200 });
      }
    });

    it('sends X-Content-Type-Options: nosniff on every API, token and registry answer', async () => {
      const answers = [
        await core.request('GET', '/api/v2.0/ping'),
        await core.request('GET', '/api/v2.0/projects', { auth: admin() }),
        await core.request('GET', '/api/v2.0/nothing'),
        await fixtures.tokenResponse(['repository:edge/app:pull'], admin()),
        await registry.request('GET', '/v2/'),
        await registry.request('GET', `/v2/edge/app/manifests/v1`, {
          headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
        }),
        await registry.request('GET', `/v2/edge/app/blobs/${sha256(image.layers[0])}`),
        await registry.request('GET', '/v2/edge/app/manifests/missing'),
      ];
      for (const [index, answer] of answers.entries()) {
        expect({ index, nosniff: answer.headers.get('x-content-type-options') }).toEqual({ index, nosniff: 'nosniff' });
      }
    });
  });
});
