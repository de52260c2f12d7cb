import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrivyBinaryProbe } from '../scanners/built-in-scanner.js';
import { writeTrivyVersionDouble } from '../scanners/testing/trivy-version-double.js';
import { type TestCore, startTestCore } from '../testing/test-core.js';

describe('system endpoints', () => {
  let core: TestCore;
  let binDir: string;

  beforeAll(async () => {
    binDir = await mkdtemp(join(tmpdir(), 'wharf-trivy-bin-'));
    // The built-in scanner is the test double of the trivy executable, which answers its version.
    core = await startTestCore({}, { builtInScanner: new TrivyBinaryProbe(await writeTrivyVersionDouble(binDir)) });
  });

  afterAll(async () => {
    await core.close();
    await rm(binDir, { recursive: true, force: true });
  });

  it('answers ping with Pong and a request id', async () => {
    const response = await core.request('GET', '/api/v2.0/ping');
    expect(response.status).toBe(200);
    expect(response.text).toBe('Pong');
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('echoes a well-formed X-Request-Id', async () => {
    const response = await core.request('GET', '/api/v2.0/ping', { headers: { 'x-request-id': 'trace-42' } });
    expect(response.headers.get('x-request-id')).toBe('trace-42');
  });

  it('reports every component healthy', async () => {
    const response = await core.request<{ status: string; components: { name: string; status: string }[] }>(
      'GET',
      '/api/v2.0/health',
    );
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('healthy');
    expect(response.body.components.map((c) => [c.name, c.status])).toEqual([
      ['core', 'healthy'],
      ['database', 'healthy'],
      ['redis', 'healthy'],
      ['registry', 'healthy'],
      ['trivy', 'healthy'],
    ]);
  });

  it('shows anonymous callers a reduced system info', async () => {
    const response = await core.request<Record<string, unknown>>('GET', '/api/v2.0/systeminfo');
    expect(response.status).toBe(200);
    expect(response.body.auth_mode).toBe('db_auth');
    expect(response.body.registry_url).toBeUndefined();
  });

  it('has no CA certificate to give while it serves plain HTTP only', async () => {
    const response = await core.request('GET', '/api/v2.0/systeminfo/getcert');
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ errors: [{ code: 'NOT_FOUND', message: expect.stringContaining('HTTPS') }] });
    const info = await core.request<Record<string, unknown>>('GET', '/api/v2.0/systeminfo', { auth: core.admin });
    expect(info.body.has_ca_root).toBe(false);
  });

  it('answers unknown routes in the API error envelope', async () => {
    const response = await core.request('GET', '/api/v2.0/no-such-thing');
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ errors: [{ code: 'NOT_FOUND', message: expect.any(String) }] });
  });

  it('refuses malformed Authorization headers with 401', async () => {
    const response = await core.request('GET', '/api/v2.0/ping', { headers: { authorization: 'Bearer x' } });
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ errors: [{ code: 'UNAUTHORIZED', message: expect.any(String) }] });
  });
});

describe('the registry address in system info', () => {
  const started: TestCore[] = [];

  afterAll(async () => {
    await Promise.all(started.map((core) => core.close()));
  });

  async function registryFields(extraConfig: Record<string, unknown>) {
    const core = await startTestCore(extraConfig);
    started.push(core);
    const response = await core.request<Record<string, unknown>>('GET', '/api/v2.0/systeminfo', { auth: core.admin });
    expect(response.status).toBe(200);
    return {
      port: core.config.http.port,
      registry_url: response.body.registry_url,
      external_url: response.body.external_url,
    };
  }

  it('names the configured hostname with the HTTP port, not the address the request came to', async () => {
    const fields = await registryFields({ hostname: 'registry.wharf.test' });
    expect(fields).toEqual({
      port: fields.port,
      registry_url: `registry.wharf.test:${fields.port}`,
      external_url: `http://registry.wharf.test:${fields.port}`,
    });
  });

  it('names the host of external_url, without the default port of its scheme', async () => {
    const fields = await registryFields({
      hostname: 'internal.wharf.test',
      external_url: 'https://registry.example.com:443',
    });
    expect(fields.registry_url).toBe('registry.example.com');
    expect(fields.external_url).toBe('https://registry.example.com:443');
  });

  it('keeps a port of external_url that is not the default', async () => {
    const fields = await registryFields({ external_url: 'https://registry.example.com:8443' });
    expect(fields.registry_url).toBe('registry.example.com:8443');
  });
});
