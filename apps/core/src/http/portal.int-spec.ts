import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type TestCore, startTestCore } from '../testing/test-core.js';

const INDEX =
  '<!doctype html><html><body><div id="root"></div><script src="/assets/app-3f9a.js"></script></body></html>';
const SCRIPT = 'console.log("portal");';

describe('the portal served by core', () => {
  let core: TestCore;
  let dir: string;
  let outside: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-portal-'));
    outside = await mkdtemp(join(tmpdir(), 'wharf-outside-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), INDEX);
    await writeFile(join(dir, 'assets', 'app-3f9a.js'), SCRIPT);
    await writeFile(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    await writeFile(join(outside, 'secret.txt'), 'not for the web');
    await symlink(join(outside, 'secret.txt'), join(dir, 'assets', 'leak.txt'));
    core = await startTestCore({}, { portalDir: dir });
  }, 60_000);

  afterAll(async () => {
    await core?.close();
    await rm(dir, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it('answers / and any page of the application with index.html, revalidated each time', async () => {
    for (const path of ['/', '/projects', '/projects/3/repositories/app%2Fweb', '/admin/users?page=2']) {
      const response = await core.request('GET', path);
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
      expect(response.text).toBe(INDEX);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-request-id')).toBeTruthy();
    }
    const first = await core.request('GET', '/projects');
    const again = await core.request('GET', '/projects', {
      headers: { 'if-none-match': first.headers.get('etag') ?? '' },
    });
    expect(again.status).toBe(304);
  });

  it('serves built files with their type, and content-named assets as immutable', async () => {
    const script = await core.request('GET', '/assets/app-3f9a.js');
    expect(script.status).toBe(200);
    expect(script.text).toBe(SCRIPT);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const head = await core.request('HEAD', '/assets/app-3f9a.js');
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    const icon = await core.request('GET', '/favicon.svg');
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
    expect(icon.headers.get('cache-control')).toBe('no-cache');
  });

  it('answers 404 for a missing file instead of the page, and never leaves its directory', async () => {
    expect((await core.request('GET', '/assets/app-old.js')).status).toBe(404);
    expect((await core.request('GET', '/robots.txt')).status).toBe(404);
    expect((await core.request('GET', '/assets/leak.txt')).status).toBe(404);
    for (const path of ['/../../../etc/passwd', '/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/%2e%2e%2fsecret.txt']) {
      const response = await core.request('GET', path);
      expect(response.text).not.toContain('root:');
      expect(response.text).not.toContain('not for the web');
    }
  });

  it('leaves the API, the token service, the session routes and the registry to themselves', async () => {
    const api = await core.request<{ errors: { code: string }[] }>('GET', '/api/v2.0/no-such-route');
    expect(api.status).toBe(404);
    expect(api.body.errors[0].code).toBe('NOT_FOUND');
    expect((await core.request('GET', '/api/v2.0/ping')).text).toBe('Pong');
    expect((await core.request('GET', '/c/nothing')).status).toBe(404);
    expect((await core.request('GET', '/c/nothing')).text).not.toBe(INDEX);
    expect((await core.request('GET', '/service/nothing')).text).not.toBe(INDEX);
    const registry = await core.request('GET', '/v2/');
    expect(registry.status).toBe(401);
    expect(registry.headers.get('www-authenticate')).toContain('/service/token');
  });
});
