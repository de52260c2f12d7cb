import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  chmod,
  copyFile,
  lchown,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestImageLayout, buildImageLayout } from '@wharf/testkit';
import {
  type InstalledWharf,
  describeRun,
  installStateDirectory,
  installWharf,
  runInstallScript,
  toYaml,
} from './install-kit.js';
import { Skopeo } from './support/clients.js';
import { sha256 } from './support/http.js';
import { e2eTarget } from './support/target.js';

jest.setTimeout(30 * 60_000);

const SECRETS = ['encryption.key', 'redis.password', 'session.key', 'token_signing_key.pem'];
const COMPONENTS = ['postgresql', 'redis', 'core', 'jobservice'] as const;

const isRoot = process.getuid?.() === 0;
// install.sh provisions system users and services: it runs as root (as in CI), and against Wharf only.
const describeInstall = e2eTarget() === 'wharf' && isRoot ? describe : describe.skip;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The status table of install.sh --status: component → [state, pid, health]. */
function parseStatus(stdout: string): Map<string, { state: string; pid: string; health: string }> {
  const rows = new Map<string, { state: string; pid: string; health: string }>();
  for (const line of stdout.split('\n').slice(1)) {
    const [name, state, pid, health] = line.trim().split(/\s+/);
    if (name) rows.set(name, { state, pid, health });
  }
  return rows;
}

describeInstall('install.sh on this host: embedded PostgreSQL and Redis, supervised core and jobservice', () => {
  let wharf: InstalledWharf;
  let workDir: string;
  let skopeo: Skopeo;
  let image: TestImageLayout;
  let secretsAfterFirstRun: Map<string, Buffer>;
  let portalSession: string;

  async function readSecrets(): Promise<Map<string, Buffer>> {
    const secrets = new Map<string, Buffer>();
    for (const name of SECRETS) secrets.set(name, await readFile(join(wharf.dataVolume, 'secret', name)));
    return secrets;
  }

  async function api(method: string, path: string, body?: unknown): Promise<Response> {
    const auth = Buffer.from(`${wharf.admin.username}:${wharf.admin.password}`).toString('base64');
    return fetch(`${wharf.url}/api/v2.0${path}`, {
      method,
      headers: {
        authorization: `Basic ${auth}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  /** Logs in like the portal does; returns the session cookie. */
  async function portalLogin(): Promise<string> {
    const response = await fetch(`${wharf.url}/c/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ principal: wharf.admin.username, password: wharf.admin.password }).toString(),
    });
    expect(response.status).toBe(200);
    const sid = /(?:^|,\s*)sid=([^;]+)/.exec(response.headers.get('set-cookie') ?? '')?.[1];
    expect(sid).toBeDefined();
    return `sid=${sid}`;
  }

  async function pulledManifestDigest(): Promise<string> {
    const raw = await skopeo.inspectRaw(`docker://${wharf.host}/install/app:1.0`);
    return sha256(raw);
  }

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'wharf-e2e-install-'));
    skopeo = await Skopeo.create(workDir);
    image = await buildImageLayout(join(workDir, 'app'), { seed: 'e2e-install', layerSizes: [2048, 64 * 1024] });
    wharf = await installWharf();
  });

  afterAll(async () => {
    await Promise.allSettled([wharf?.cleanup(), rm(workDir, { recursive: true, force: true })]);
  });

  it('installs and reports every component running and healthy', async () => {
    expect(wharf.firstRun.stdout).toContain(`Portal and API:  ${wharf.url}`);
    expect(wharf.firstRun.stdout).toContain(`docker login ${wharf.host}`);
    const status = await wharf.run(['--status']);
    expect({ code: status.code, stdout: status.stdout }).toEqual({ code: 0, stdout: expect.any(String) });
    const rows = parseStatus(status.stdout);
    for (const component of COMPONENTS) {
      expect({ component, ...rows.get(component) }).toEqual({
        component,
        state: 'running',
        pid: String(await wharf.pid(component)),
        health: 'healthy',
      });
    }
  });

  it('answers ping on the http port, runs as the wharf user and logs under log.local.location', async () => {
    const ping = await fetch(`${wharf.url}/api/v2.0/ping`);
    expect(ping.status).toBe(200);
    const corePid = await wharf.pid('core');
    expect(corePid).toBeDefined();
    const owner = (await stat(`/proc/${corePid}`)).uid;
    expect(owner).not.toBe(0);
    expect((await readdir(wharf.logDir)).sort()).toEqual(
      expect.arrayContaining(['core.log', 'jobservice.log', 'postgresql.log', 'redis.log']),
    );
    const jobserviceLog = await readFile(join(wharf.logDir, 'jobservice.log'), 'utf8');
    expect(jobserviceLog).toContain('jobservice ready; no job types registered');
  });

  it('generates every secret once, readable by its owner alone', async () => {
    for (const name of SECRETS) {
      const info = await stat(join(wharf.dataVolume, 'secret', name));
      expect({ name, mode: (info.mode & 0o777).toString(8), owner: info.uid === 0 ? 'root' : 'service user' }).toEqual({
        name,
        mode: '600',
        owner: 'service user',
      });
    }
    const directory = await stat(join(wharf.dataVolume, 'secret'));
    expect((directory.mode & 0o777).toString(8)).toBe('700');
    secretsAfterFirstRun = await readSecrets();
  });

  it('stores a pushed image in a project created through the API', async () => {
    const created = await api('POST', '/projects', { project_name: 'install', metadata: { public: 'false' } });
    expect(created.status).toBe(201);
    await skopeo.copy(`oci:${image.path}:latest`, `docker://${wharf.host}/install/app:1.0`, [
      '--preserve-digests',
      '--dest-creds',
      `${wharf.admin.username}:${wharf.admin.password}`,
    ]);
    expect(await pulledManifestDigestAs()).toBe(image.manifest.digest);
  });

  /** Private project: pulls need the admin's credentials. */
  async function pulledManifestDigestAs(): Promise<string> {
    const raw = await skopeo.run([
      'inspect',
      '--raw',
      '--tls-verify=false',
      '--creds',
      `${wharf.admin.username}:${wharf.admin.password}`,
      `docker://${wharf.host}/install/app:1.0`,
    ]);
    return sha256(Buffer.from(raw));
  }

  it('runs again as an upgrade in place: secrets, project and image are kept, and all stays healthy', async () => {
    const again = await wharf.reinstall();
    expect(again.stdout).toContain('Wharf is running');
    // The admin password is shown on the first run only, and only when install.sh generated it.
    expect(again.stdout).not.toContain('Admin password:');
    expect(await readSecrets()).toEqual(secretsAfterFirstRun);
    expect(await pulledManifestDigestAs()).toBe(image.manifest.digest);
    const project = await api('GET', '/projects/install');
    expect(project.status).toBe(200);
    const status = await wharf.run(['--status']);
    expect(status.code).toBe(0);
  });

  it('brings core back when its process dies', async () => {
    const before = await wharf.pid('core');
    expect(before).toBeDefined();
    process.kill(before!, 'SIGKILL');
    const after = await until('a new core process', async () => {
      const pid = await wharf.pid('core');
      return pid !== undefined && pid !== before && alive(pid) ? pid : undefined;
    });
    await until('core to answer ping again', async () => {
      const response = await fetch(`${wharf.url}/api/v2.0/ping`);
      return response.status === 200 ? true : undefined;
    });
    expect(after).not.toBe(before);
    expect(await pulledManifestDigestAs()).toBe(image.manifest.digest);
    const coreLog = await readFile(join(wharf.logDir, 'core.log'), 'utf8');
    expect(coreLog).toContain('core was killed by SIGKILL');
  });

  it('refuses an invalid harbor.yml with the problems named, and changes nothing', async () => {
    const pidsBefore = await Promise.all(COMPONENTS.map((component) => wharf.pid(component)));
    const copyBefore = await readFile(join(wharf.dataVolume, 'config', 'harbor.yml'));
    const invalid = join(wharf.dir, 'invalid.yml');
    await copyFile(wharf.configFile, invalid);
    const text = await readFile(invalid, 'utf8');
    await writeFile(invalid, `${text.replace(/^(\s+port: )\d+$/m, '$1eighty')}hostnme: typo.example.com\n`);

    const refused = await wharf.run(['--config', invalid, '--skip-build']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('port: expected an integer between 1 and 65535, got "eighty"');
    expect(refused.stderr).toContain('hostnme: unknown key; did you mean "hostname"?');
    expect(refused.stderr).toContain('nothing was changed');

    expect(await Promise.all(COMPONENTS.map((component) => wharf.pid(component)))).toEqual(pidsBefore);
    expect(await readFile(join(wharf.dataVolume, 'config', 'harbor.yml'))).toEqual(copyBefore);
    expect(await readSecrets()).toEqual(secretsAfterFirstRun);
    expect((await wharf.run(['--status'])).code).toBe(0);
  });

  it('stops every process with --stop, after which --status says stopped', async () => {
    portalSession = await portalLogin();
    const pids = (await Promise.all(COMPONENTS.map((component) => wharf.pid(component)))).filter(
      (pid): pid is number => pid !== undefined,
    );
    expect(pids).toHaveLength(COMPONENTS.length);
    const stopped = await wharf.run(['--stop']);
    expect(stopped.code).toBe(0);
    expect(pids.filter(alive)).toEqual([]);

    const status = await wharf.run(['--status']);
    expect(status.code).not.toBe(0);
    const rows = parseStatus(status.stdout);
    for (const component of COMPONENTS) {
      expect({ component, state: rows.get(component)?.state }).toEqual({ component, state: 'stopped' });
    }
    const ping = await fetch(`${wharf.url}/api/v2.0/ping`).then(
      (response) => response.status,
      () => 'refused',
    );
    expect(ping).toBe('refused');
  });

  it('follows no link the service user plants under data_volume: root-owned files stay as they were', async () => {
    // Everything is stopped (previous test): this run writes the configuration files and starts every component.
    const owner = await stat(wharf.dataVolume);
    const target = join(wharf.dir, 'root-owned.txt');
    await writeFile(target, 'root only\n', { mode: 0o600 });
    const readable = join(wharf.dir, 'root-owned-readable.txt');
    await writeFile(readable, 'root, readable\n', { mode: 0o644 });
    const planted = new Map([
      [join(wharf.dataVolume, 'run', 'core.supervisor.out'), target],
      [join(wharf.dataVolume, 'run', 'postgresql.supervisor.out'), readable],
      [join(wharf.dataVolume, 'run', 'core.fingerprint'), target],
      [join(wharf.dataVolume, 'redis', 'redis.conf'), readable],
      [join(wharf.dataVolume, 'database', 'wharf.conf'), target],
      [join(wharf.dataVolume, 'config', 'harbor.yml'), readable],
    ]);
    for (const [link, to] of planted) {
      await rm(link, { force: true });
      await symlink(to, link);
      // Planted by the service user, which owns data_volume.
      await lchown(link, owner.uid, owner.gid);
    }

    await wharf.reinstall();

    for (const [file, content] of [
      [target, 'root only\n'],
      [readable, 'root, readable\n'],
    ]) {
      const info = await stat(file);
      expect({
        file,
        content: await readFile(file, 'utf8'),
        uid: info.uid,
        mode: (info.mode & 0o777).toString(8),
      }).toEqual({ file, content, uid: 0, mode: file === target ? '600' : '644' });
    }
    for (const link of planted.keys()) {
      const info = await lstat(link).catch(() => undefined);
      expect({ link, symbolicLink: info?.isSymbolicLink() ?? false }).toEqual({ link, symbolicLink: false });
    }
    expect(await readFile(join(wharf.dataVolume, 'config', 'harbor.yml'), 'utf8')).toBe(
      await readFile(wharf.configFile, 'utf8'),
    );
    expect((await wharf.run(['--status'])).code).toBe(0);
  });

  it("refuses to take over a directory that is not Wharf's, or a system directory, and changes nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-e2e-foreign-'));
    await chmod(dir, 0o755);
    try {
      const foreign = join(dir, 'foreign');
      await mkdir(foreign, { mode: 0o755 });
      await writeFile(join(foreign, 'somebody-elses.txt'), 'keep\n', { mode: 0o644 });
      const base = {
        hostname: '127.0.0.1',
        harbor_admin_password: 'Adm1n-Passw0rd',
        database: { password: 'db-secret' },
        log: { local: { location: join(dir, 'log') } },
      };
      for (const [dataVolume, message] of [
        [foreign, 'holds files that Wharf did not make there'],
        ['//', 'data_volume is /, a system directory'],
        [`${dir}/../../etc`, 'data_volume is /etc, a system directory'],
        [join(dir, "it's"), 'contains a quote'],
      ]) {
        const file = join(dir, 'harbor.yml');
        await writeFile(file, toYaml({ ...base, data_volume: dataVolume }), { mode: 0o600 });
        const run = await runInstallScript(['--config', file, '--skip-build'], 120_000);
        const refused = run.code === 1 && run.stderr.includes(message);
        expect({ dataVolume, refused, output: refused ? '' : describeRun(run) }).toEqual({
          dataVolume,
          refused: true,
          output: '',
        });
        expect(run.stdout).not.toContain('handing');
      }
      const info = await stat(foreign);
      expect({ uid: info.uid, mode: (info.mode & 0o777).toString(8) }).toEqual({ uid: 0, mode: '755' });
      expect((await stat(join(foreign, 'somebody-elses.txt'))).uid).toBe(0);
      expect((await stat('/etc')).uid).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
      for (const refused of [join(dir, 'foreign'), '/', '/etc']) {
        await rm(installStateDirectory(refused), { recursive: true, force: true });
      }
    }
  });

  it('starts again after --stop with the data of before, portal sessions included', async () => {
    await wharf.reinstall();
    // Sessions live in the embedded Redis, which writes them to disk (appendonly): a restart keeps them.
    const current = await fetch(`${wharf.url}/api/v2.0/users/current`, { headers: { cookie: portalSession } });
    expect(current.status).toBe(200);
    expect(((await current.json()) as { username: string }).username).toBe('admin');
    expect(await pulledManifestDigestAs()).toBe(image.manifest.digest);
    expect(await readSecrets()).toEqual(secretsAfterFirstRun);
  });

  it('keeps the project private: anonymous pulls are refused', async () => {
    await expect(pulledManifestDigest()).rejects.toThrow();
  });
});
