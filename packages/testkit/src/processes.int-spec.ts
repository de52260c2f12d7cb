import { afterEach, describe, expect, it } from '@jest/globals';
import { parseConfig } from '@wharf/config';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from './database.js';
import { type RegistryProcess, startReferenceRegistry, startWharfRegistry, writeWharfConfig } from './processes.js';

async function status(url: string, init?: RequestInit): Promise<number> {
  const res = await fetch(url, init);
  await res.arrayBuffer();
  return res.status;
}

async function pushBlob(registry: RegistryProcess, body: string): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const started = await fetch(`${registry.url}/v2/fixture/blobs/uploads/`, { method: 'POST' });
  expect(started.status).toBe(202);
  const location = new URL(started.headers.get('location') ?? '', registry.url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
  expect(put.status).toBe(201);
  return digest;
}

describe('startReferenceRegistry', () => {
  const started: RegistryProcess[] = [];
  const dirs: string[] = [];

  afterEach(async () => {
    await Promise.all(started.splice(0).map((registry) => registry.stop()));
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('serves /v2/ on loopback and keeps blobs across a restart on the same port', async () => {
    const registry = await startReferenceRegistry();
    started.push(registry);
    expect(registry.url).toBe(`http://${registry.host}`);
    expect(registry.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await status(`${registry.url}/v2/`)).toBe(200);

    const digest = await pushBlob(registry, 'restart survives');
    const firstPid = registry.pid;
    await registry.restart();
    expect(registry.pid).not.toBe(firstPid);
    expect(await status(`${registry.url}/v2/fixture/blobs/${digest}`)).toBe(200);
  });

  it('stop() ends the process and frees its port', async () => {
    const registry = await startReferenceRegistry();
    const { pid } = registry;
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    await registry.stop();
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    await expect(status(`${registry.url}/v2/`)).rejects.toThrow();
  });

  it('kill() ends the process at once and a given rootDir outlives stop()', async () => {
    const rootDir = await mkdtemp(join(tmpdir(), 'wharf-fixture-'));
    dirs.push(rootDir);
    const registry = await startReferenceRegistry({ rootDir });
    started.push(registry);
    const digest = await pushBlob(registry, 'kept on disk');
    await registry.kill();
    await expect(status(`${registry.url}/v2/`)).rejects.toThrow();
    await registry.stop();
    expect(existsSync(join(rootDir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', digest.slice(7, 9)))).toBe(
      true,
    );
  });

  it('does not take another server that answers on its port for itself', async () => {
    const impostor = createServer((_req, res) => res.end('{}'));
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    const port = (impostor.address() as { port: number }).port;
    try {
      await expect(startReferenceRegistry({ port })).rejects.toThrow(
        /exited during startup[\s\S]*address already in use/,
      );
    } finally {
      await new Promise((resolve) => impostor.close(resolve));
    }
  });

  it('rejects a port outside the TCP range', async () => {
    await expect(startReferenceRegistry({ port: 70_000 })).rejects.toThrow(/invalid port 70000/);
  });
});

describe('startWharfRegistry', () => {
  it('migrates, serves /v2/, keeps blobs across a restart, logs to the data dir and ends on stop', async () => {
    const database = await createTestDatabase();
    const dataDir = await mkdtemp(join(tmpdir(), 'wharf-fixture-'));
    const registry = await startWharfRegistry({ database, dataDir });
    try {
      expect(await status(`${registry.url}/v2/`)).toBe(200);
      const digest = await pushBlob(registry, 'wharf keeps this');
      await registry.restart();
      expect(await status(`${registry.url}/v2/fixture/blobs/${digest}`)).toBe(200);
      expect(existsSync(join(dataDir, 'wharf-registry.log'))).toBe(true);
      const { pid } = registry;
      await registry.stop();
      expect(existsSync(`/proc/${pid}`)).toBe(false);
    } finally {
      await registry.stop();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('fails with the tail of its log when Wharf cannot start', async () => {
    const missing = { host: '127.0.0.1', port: 5432, username: 'postgres', password: '', database: 'wharf_no_such_db' };
    await expect(startWharfRegistry({ database: { ...missing, drop: () => Promise.resolve() } })).rejects.toThrow(
      /wharf migrate failed[\s\S]*--- last lines of .*wharf-registry\.log ---\n[\s\S]*wharf_no_such_db/,
    );
  }, 60_000);
});

describe('writeWharfConfig', () => {
  it("writes a harbor.yml that Wharf's config loader accepts, with values quoted safely", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'wharf-config-'));
    try {
      const path = await writeWharfConfig({
        port: 5123,
        dataDir,
        database: {
          host: '127.0.0.1',
          port: 5432,
          username: 'postgres',
          password: 'p: #"x',
          database: 'wharf_db',
          drop: () => Promise.resolve(),
        },
        extraConfig: { upload_purging: { enabled: false } },
      });
      expect(path).toBe(join(dataDir, 'harbor.yml'));
      const { config } = parseConfig(await readFile(path, 'utf8'), path, {});
      expect(config).toMatchObject({
        hostname: '127.0.0.1',
        dataVolume: dataDir,
        database: { host: '127.0.0.1', port: 5432, database: 'wharf_db', username: 'postgres', password: 'p: #"x' },
        redis: { host: '127.0.0.1', port: 6379, external: true },
        storage: { driver: 'filesystem', rootDirectory: join(dataDir, 'registry') },
        log: { level: 'error', location: join(dataDir, 'log') },
        registry: { host: '127.0.0.1', port: 5123, auth: 'none' },
        uploadPurging: { enabled: false },
      });
      expect(config.database).toMatchObject({ sslMode: 'disable', external: true });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('rejects an auth mode it cannot configure', async () => {
    await expect(
      writeWharfConfig({
        port: 5123,
        dataDir: tmpdir(),
        database: { host: 'h', port: 1, username: 'u', password: '', database: 'd', drop: () => Promise.resolve() },
        auth: 'token' as 'none',
      }),
    ).rejects.toThrow(/unsupported auth mode "token"/);
  });
});
