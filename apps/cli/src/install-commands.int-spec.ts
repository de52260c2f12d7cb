import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { hashPassword } from '@wharf/auth';
import { createDataSource, runMigrations } from '@wharf/db';
import { type TestDatabase, createTestDatabase, freePort } from '@wharf/testkit';

const execFileAsync = promisify(execFile);

// Every step starts the wharf command, which takes a second or two to load on a busy machine.
jest.setTimeout(120_000);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'apps/cli/dist/main.js');
const REDIS = `${process.env.WHARF_TEST_REDIS_HOST ?? '127.0.0.1'}:${process.env.WHARF_TEST_REDIS_PORT ?? 6379}`;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function wharf(args: string[]): Promise<Result> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('WHARF__')));
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CLI, ...args], { cwd: ROOT, env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failure.code !== 'number') throw error;
    return { code: failure.code, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
}

const SECRETS = ['session.key', 'encryption.key', 'redis.password', 'token_signing_key.pem'];

describe('wharf prepare, install-settings, health and start jobservice', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-cli-install-'));
  let database: TestDatabase;
  let externalConfig: string;

  function writeConfig(name: string, body: string): string {
    const file = join(dir, `${name}.yml`);
    writeFileSync(file, `hostname: reg.example.com\nharbor_admin_password: Admin-Passw0rd\n${body}`);
    return file;
  }

  beforeAll(async () => {
    await execFileAsync('npx', ['tsc', '-b', 'apps/cli'], { cwd: ROOT });
    database = await createTestDatabase('wharf_cli_install');
    const dataSource = createDataSource(database);
    await dataSource.initialize();
    await runMigrations(dataSource);
    await dataSource.destroy();
    const port = await freePort();
    externalConfig = writeConfig(
      'external',
      `http:\n  host: 127.0.0.1\n  port: ${port}\ndata_volume: ${join(dir, 'external-data')}
external_database:\n  harbor:\n    host: ${database.host}\n    port: ${database.port}\n    db_name: ${database.database}
    username: ${database.username}\n    password: unused-with-trust-auth\nexternal_redis:\n  host: "${REDIS}"\n`,
    );
  }, 300_000);

  afterAll(async () => {
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prepare creates every secret once, 0600 in a 0700 directory, and keeps them on the next run', async () => {
    const dataVolume = join(dir, 'data');
    const config = writeConfig('embedded', `database:\n  password: db-pass\ndata_volume: ${dataVolume}\n`);
    const first = await wharf(['prepare', '--config', config]);
    expect(first.code).toBe(0);
    const secretDir = join(dataVolume, 'secret');
    expect(first.stdout.trim().split('\n').sort()).toEqual(
      SECRETS.map((name) => `created ${join(secretDir, name)}`).sort(),
    );
    expect((statSync(secretDir).mode & 0o777).toString(8)).toBe('700');
    const bytes = new Map<string, Buffer>();
    for (const name of SECRETS) {
      expect({ name, mode: (statSync(join(secretDir, name)).mode & 0o777).toString(8) }).toEqual({ name, mode: '600' });
      bytes.set(name, readFileSync(join(secretDir, name)));
    }
    expect(readFileSync(join(secretDir, 'encryption.key'), 'utf8')).toMatch(/^[0-9a-f]{64}$/);

    chmodSync(secretDir, 0o755);
    const second = await wharf(['prepare', '--config', config]);
    expect(second.code).toBe(0);
    expect(second.stdout.trim().split('\n').sort()).toEqual(
      SECRETS.map((name) => `kept ${join(secretDir, name)}`).sort(),
    );
    expect((statSync(secretDir).mode & 0o777).toString(8)).toBe('700');
    for (const name of SECRETS) expect(readFileSync(join(secretDir, name))).toEqual(bytes.get(name));
  });

  it('prepare makes no Redis password for an external Redis', async () => {
    const result = await wharf(['prepare', '--config', externalConfig]);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('redis.password');
    expect(result.stdout).toContain('created');
  });

  it('prepare refuses a secret readable by others instead of using it', async () => {
    const dataVolume = join(dir, 'exposed');
    mkdirSync(join(dataVolume, 'secret'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dataVolume, 'secret', 'session.key'), 'ab'.repeat(32), { mode: 0o644 });
    const config = writeConfig('exposed', `database:\n  password: db-pass\ndata_volume: ${dataVolume}\n`);
    const result = await wharf(['prepare', '--config', config]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is readable by other users (mode 44); run chmod 600');
  });

  it('install-settings prints the resolved settings, the database password only when asked', async () => {
    const config = writeConfig(
      'settings',
      `database:\n  password: "p@ss word"\n  port: 6543\nredis:\n  port: 6544\ndata_volume: /srv/wharf\nhttp:\n  port: 80\n`,
    );
    const plain = await wharf(['install-settings', '--config', config]);
    expect(plain.code).toBe(0);
    const settings = new Map(
      plain.stdout
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(Object.fromEntries(settings)).toMatchObject({
      HOSTNAME: 'reg.example.com',
      HTTP_PORT: '80',
      HTTPS_PORT: '',
      DATA_VOLUME: '/srv/wharf',
      STORAGE_ROOT: '/srv/wharf/registry',
      LOG_LOCATION: '/var/log/wharf',
      LOG_ROTATE_SIZE: String(200 * 1024 * 1024),
      DATABASE_EXTERNAL: 'false',
      DATABASE_PORT: '6543',
      DATABASE_NAME: 'registry',
      DATABASE_USER: 'wharf',
      DATABASE_PASSWORD: '',
      ADMIN_PASSWORD: '',
      REDIS_EXTERNAL: 'false',
      REDIS_PORT: '6544',
    });
    const withSecrets = await wharf(['install-settings', '--config', config, '--with-secrets']);
    expect(withSecrets.stdout).toContain('\nDATABASE_PASSWORD=p@ss word\n');
    expect(withSecrets.stdout).toContain('\nADMIN_PASSWORD=Admin-Passw0rd\n');
  });

  it('admin-password tells whether admin still has harbor_admin_password', async () => {
    const state = async () => {
      const result = await wharf(['admin-password', '--config', externalConfig]);
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
      return result.stdout.trim();
    };
    // Before core's first start.
    expect(await state()).toBe('absent');
    const dataSource = createDataSource(database);
    await dataSource.initialize();
    try {
      await dataSource.query(
        `INSERT INTO wharf_user (username, password_hash, sysadmin_flag) VALUES ('admin', $1, true)`,
        [await hashPassword('Admin-Passw0rd')],
      );
      expect(await state()).toBe('initial');
      await dataSource.query(`UPDATE wharf_user SET password_hash = $1 WHERE username = 'admin'`, [
        await hashPassword('Changed-Passw0rd'),
      ]);
      expect(await state()).toBe('changed');
    } finally {
      await dataSource.query(`DELETE FROM wharf_user WHERE username = 'admin'`);
      await dataSource.destroy();
    }
  });

  it('install-settings refuses a value that spans lines', async () => {
    const config = writeConfig(
      'multiline',
      `database:\n  password: db-pass\ndata_volume: "/srv/a\\nDATABASE_PASSWORD=x"\n`,
    );
    const result = await wharf(['install-settings', '--config', config]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('DATA_VOLUME: the value contains a line break');
    expect(result.stdout).toBe('');
  });

  it('health reports each component, and fails while one is down', async () => {
    const result = await wharf(['health', '--config', externalConfig]);
    expect(result.code).toBe(1);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toEqual([
      `database: healthy (${database.host}:${database.port}/${database.database})`,
      `redis: healthy (${REDIS})`,
      expect.stringMatching(/^core: unhealthy \(/),
      expect.stringMatching(/^jobservice: unhealthy \(/),
    ]);
    const some = await wharf(['health', 'database', 'redis', '--config', externalConfig]);
    expect(some.code).toBe(0);
    const unknown = await wharf(['health', 'portal', '--config', externalConfig]);
    expect(unknown.code).toBe(2);
  });

  it('health does not follow a redirect of the plain HTTP ping: without https, core never sends one', async () => {
    const server = createServer((request, response) => {
      response.writeHead(308, { location: `https://127.0.0.1:8443${request.url ?? '/'}` }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const config = `database:\n  password: db-pass\nhttp:\n  host: 127.0.0.1\n  port: ${port}\n`;
      const result = await wharf(['health', 'core', '--config', writeConfig('plain', config)]);
      expect({ code: result.code, stdout: result.stdout.trim() }).toEqual({
        code: 1,
        stdout: `core: unhealthy (GET http://127.0.0.1:${port}/api/v2.0/ping answered 308)`,
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('start jobservice runs until SIGTERM, and health sees its heartbeat meanwhile', async () => {
    const child = spawn(process.execPath, [CLI, 'start', 'jobservice', '--config', externalConfig], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!output.includes('wharf jobservice running')) {
        if (Date.now() > deadline) throw new Error(`jobservice did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(output).toContain('"msg":"jobservice ready"');
      const healthy = await wharf([
        'health',
        'jobservice',
        '--config',
        externalConfig,
        '--jobservice-pid',
        String(child.pid),
      ]);
      expect(healthy).toMatchObject({ code: 0, stdout: expect.stringMatching(/^jobservice: healthy \(/) });
      const other = await wharf(['health', 'jobservice', '--config', externalConfig, '--jobservice-pid', '1']);
      expect(other).toMatchObject({
        code: 1,
        stdout: 'jobservice: unhealthy (no heartbeat in Redis from jobservice process 1)\n',
      });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(output).toContain('"msg":"jobservice stopped"');
    const after = await wharf([
      'health',
      'jobservice',
      '--config',
      externalConfig,
      '--jobservice-pid',
      String(child.pid),
    ]);
    expect(after.code).toBe(1);
  });
});
