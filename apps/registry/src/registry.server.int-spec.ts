import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseConfig } from '@wharf/config';
import { createDataSource, runMigrations } from '@wharf/db';
import { type TestDatabase, createTestDatabase, externalDatabaseSection, freePort, rawRequest } from '@wharf/testkit';
import { type RegistryServer, startRegistryServer } from './registry.server.js';

describe('wharf start registry', () => {
  let database: TestDatabase;
  let dataVolume: string;
  let server: RegistryServer;

  beforeAll(async () => {
    database = await createTestDatabase('wharf_registry_server_spec');
    dataVolume = await mkdtemp(join(tmpdir(), 'wharf-registry-server-'));
    const port = await freePort();
    const raw = {
      hostname: '127.0.0.1',
      http: { host: '127.0.0.1', port },
      harbor_admin_password: 'Unused-By-The-Registry-1',
      data_volume: dataVolume,
      external_database: externalDatabaseSection(database),
      external_redis: { host: '127.0.0.1:6379' },
      log: { level: 'error', local: { location: join(dataVolume, 'log') } },
      registry: { host: '127.0.0.1', port, auth: 'none' },
    };
    // JSON is YAML: the config goes through the same loader as a harbor.yml.
    const { config } = parseConfig(JSON.stringify(raw), 'test harbor.yml', {});
    const dataSource = createDataSource(config.database);
    await dataSource.initialize();
    await runMigrations(dataSource);
    await dataSource.destroy();
    server = await startRegistryServer(config);
  });

  afterAll(async () => {
    await server?.close();
    await database?.drop();
    await rm(dataVolume, { recursive: true, force: true });
  });

  it('answers what the HTTP parser refuses, an unsupported Expect and CONNECT in the OCI error envelope', async () => {
    const cases: [string, number, string][] = [
      [
        'PATCH /v2/lib/app/blobs/uploads/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
        400,
        'SIZE_INVALID',
      ],
      ['PUT /v2/lib/app/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 400, 'SIZE_INVALID'],
      [`GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'UNSUPPORTED'],
      ['NOT HTTP AT ALL\r\n\r\n', 400, 'UNSUPPORTED'],
      ['GET /v2/ HTTP/1.1\r\nHost: x\r\nExpect: nonsense\r\nConnection: close\r\n\r\n', 417, 'UNSUPPORTED'],
      ['CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 405, 'UNSUPPORTED'],
    ];
    for (const [request, status, code] of cases) {
      const response = await rawRequest(server.url, request);
      expect({ request: request.slice(0, 40), status: response?.status }).toEqual({
        request: request.slice(0, 40),
        status,
      });
      expect(response?.headers['content-type']).toMatch(/^application\/json/);
      expect(response?.headers['docker-distribution-api-version']).toBe('registry/2.0');
      expect(response?.headers['x-content-type-options']).toBe('nosniff');
      expect(JSON.parse(response?.body ?? '')).toEqual({ errors: [{ code, message: expect.any(String) }] });
    }
    const head = await rawRequest(server.url, 'HEAD /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n');
    expect(head).toMatchObject({ status: 400, body: '' });
    // The server goes on answering well-formed requests.
    expect((await fetch(`${server.url}/v2/`)).status).toBe(200);
  });
});
