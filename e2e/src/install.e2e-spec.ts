import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { execFile, spawn, spawnSync } from 'node:child_process';
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
import { type TestImageLayout, buildImageLayout, freePort, repoRoot } from '@wharf/testkit';
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
    // A password the administrator wrote is not echoed: the summary says where it is.
    expect(wharf.firstRun.stdout).toContain(`Admin password:  harbor_admin_password in ${wharf.configFile}`);
    expect(wharf.firstRun.stdout).not.toContain(wharf.adminPassword);
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

  it('installs the dependencies without a warning the user cannot act on', async () => {
    // The step install.sh runs before it builds; a first run told to use the build as it is skipped it.
    const built = wharf.firstRun.stdout.includes('pnpm install --frozen-lockfile');
    const output = built ? `${wharf.firstRun.stdout}\n${wharf.firstRun.stderr}` : await pnpmInstallOutput();
    const warnings = output.split('\n').filter((line) => line.includes('✗') || /want Node\.js/.test(line));
    expect(warnings).toEqual([]);
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
    expect(jobserviceLog).toContain('"msg":"jobservice ready"');
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
    // Until the admin changes it, every run says where the initial password is.
    expect(again.stdout).toContain(`Admin password:  harbor_admin_password in ${wharf.configFile}`);
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

  it('stops naming the initial admin password once the admin has changed it', async () => {
    const current = (await (await api('GET', '/users/current')).json()) as { user_id: number };
    const changed = await api('PUT', `/users/${current.user_id}/password`, {
      old_password: wharf.admin.password,
      new_password: 'Changed-Passw0rd-1',
    });
    expect(changed.status).toBe(200);
    wharf.admin.password = 'Changed-Passw0rd-1';
    const again = await wharf.reinstall();
    expect(again.stdout).toContain('Wharf is running');
    expect(again.stdout).not.toContain('Admin password:');
  });
});

/** The output of `pnpm install --frozen-lockfile`, as install.sh runs it (from the store, offline). */
async function pnpmInstallOutput(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'pnpm',
      ['install', '--frozen-lockfile', '--offline'],
      { cwd: repoRoot(), timeout: 300_000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stdout}\n${stderr}`)) : resolve(`${stdout}\n${stderr}`),
    );
  });
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** Runs openssl; resolves with its standard output, rejects with its message. */
function openssl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, (error, stdout, stderr) =>
      error ? reject(new Error(`openssl ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout),
    );
  });
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

function userExists(name: string): boolean {
  return spawnSync('getent', ['passwd', name]).status === 0;
}

describeInstall(
  'install.sh from harbor.yml.example: a first run that fails, --self-signed, --uninstall, --purge',
  () => {
    let dir: string;
    let configFile: string;
    let dataVolume: string;
    let logDir: string;
    let tlsDir: string;
    let httpPort: number;
    let httpsPort: number;
    let generatedPassword: string;

    const run = (args: string[]) => runInstallScript(['--config', configFile, '--skip-build', ...args]);
    const components = () =>
      Promise.all(
        COMPONENTS.map((component) =>
          readFile(join(dataVolume, 'run', `${component}.pid`), 'utf8').then(
            (text) => Number(text.trim()),
            () => undefined,
          ),
        ),
      );

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'wharf-e2e-example-'));
      await chmod(dir, 0o755);
      configFile = join(dir, 'harbor.yml');
      dataVolume = join(dir, 'data');
      logDir = join(dir, 'log');
      tlsDir = join(dataVolume, 'secret', 'tls');
    });

    afterAll(async () => {
      if (await exists(configFile)) await run(['--uninstall', '--purge']);
      await rm(dir, { recursive: true, force: true });
      await rm(installStateDirectory(dataVolume), { recursive: true, force: true });
    });

    it('keeps the generated admin password in harbor.yml when the first run fails after creating it', async () => {
      // The example's data_volume is /data/wharf: holding install.sh's lock of it makes the first run stop right
      // after harbor.yml is created, before anything is made there.
      const exampleState = installStateDirectory('/data/wharf');
      const stateExisted = await exists(exampleState);
      await mkdir(exampleState, { recursive: true, mode: 0o700 });
      const holder = spawn('flock', [join(exampleState, 'lock'), 'sh', '-c', 'echo locked; exec sleep 600'], {
        stdio: ['ignore', 'pipe', 'ignore'],
        // Its own process group, so that the shell flock runs goes with it.
        detached: true,
      });
      try {
        await new Promise<void>((resolve, reject) => {
          holder.stdout.once('data', () => resolve());
          holder.once('exit', () => reject(new Error('flock ended before taking the lock')));
        });
        const failed = await run([]);
        expect(failed.code).toBe(1);
        expect(failed.stderr).toContain('another install.sh is working on /data/wharf');
        expect(failed.stdout).toContain(`created ${configFile} from harbor.yml.example (mode 0600)`);
        expect(failed.stdout).toContain(`harbor_admin_password: generated; it is kept in ${configFile}`);
      } finally {
        process.kill(-holder.pid!, 'SIGKILL');
        if (!stateExisted) await rm(exampleState, { recursive: true, force: true });
      }
      const info = await stat(configFile);
      expect({ mode: (info.mode & 0o777).toString(8), uid: info.uid }).toEqual({ mode: '600', uid: 0 });
      const text = await readFile(configFile, 'utf8');
      generatedPassword = /^harbor_admin_password: (\S+)$/m.exec(text)?.[1] ?? '';
      expect(generatedPassword).toMatch(/^Wh1[A-Za-z0-9]{21}$/);
    });

    it('shows that password on the next run, which serves a self-signed certificate with --self-signed', async () => {
      const [http, databasePort, redisPort, https] = await distinctFreePorts(4);
      httpPort = http;
      httpsPort = https;
      const example = await readFile(configFile, 'utf8');
      const edited = example
        .replace(/^hostname: .*$/m, 'hostname: 127.0.0.1')
        .replace(/^(http:\n(?:\s+#.*\n)*\s+port: )8080$/m, `$1${httpPort}`)
        .replace(/^( {2}host: )0\.0\.0\.0$/m, '$1127.0.0.1')
        .replace(/^( {2}port: )55432$/m, `$1${databasePort}`)
        .replace(/^( {2}port: )56379$/m, `$1${redisPort}`)
        .replace(/^data_volume: .*$/m, `data_volume: ${dataVolume}`)
        .replace(/^( {4}location: ).*$/m, `$1${logDir}`);
      for (const expected of [`port: ${httpPort}`, `port: ${databasePort}`, `port: ${redisPort}`, logDir, dataVolume]) {
        expect(edited).toContain(expected);
      }
      await writeFile(configFile, edited);

      const installed = await run(['--grant-access', '--self-signed', '--https-port', String(httpsPort)]);
      expect({ code: installed.code, output: installed.code === 0 ? '' : describeRun(installed) }).toEqual({
        code: 0,
        output: '',
      });
      const address = `127.0.0.1:${httpsPort}`;
      expect(installed.stdout).toContain(`added an https section to ${configFile} (port ${httpsPort}`);
      expect(installed.stdout).toContain(`Admin password:  ${generatedPassword}`);
      expect(installed.stdout).toContain(`Portal and API:  https://${address}`);
      expect(installed.stdout).toContain(`/etc/containers/certs.d/${address}/ca.crt (podman, skopeo, buildah)`);
      expect(installed.stdout).toContain(`/etc/docker/certs.d/${address}/ca.crt (docker)`);
      expect(installed.stdout).toContain(`its CA is ${tlsDir}/ca.crt`);
      expect(installed.stdout).not.toContain('insecure registry');

      const config = await readFile(configFile, 'utf8');
      expect(config).toContain(
        `https:\n  port: ${httpsPort}\n  certificate: ${tlsDir}/server.crt\n  private_key: ${tlsDir}/server.key\n`,
      );
      const serviceUid = (await stat(dataVolume)).uid;
      expect(serviceUid).not.toBe(0);
      for (const [name, mode] of [
        ['.', '700'],
        ['server.key', '600'],
        ['ca.key', '600'],
      ]) {
        const info = await stat(join(tlsDir, name));
        expect({ name, mode: (info.mode & 0o777).toString(8), uid: info.uid }).toEqual({ name, mode, uid: serviceUid });
      }
      expect(
        await openssl([
          'verify',
          '-CAfile',
          join(tlsDir, 'ca.crt'),
          '-verify_ip',
          '127.0.0.1',
          join(tlsDir, 'server.crt'),
        ]),
      ).toContain(': OK');
      // The CA vouches for this host alone.
      expect(await openssl(['x509', '-in', join(tlsDir, 'ca.crt'), '-noout', '-text'])).toMatch(
        /Name Constraints: critical\s+Permitted:\s+IP:127\.0\.0\.1\/255\.255\.255\.255/,
      );
      const key = await openssl(['pkey', '-in', join(tlsDir, 'server.key'), '-pubout']);
      expect(await openssl(['x509', '-in', join(tlsDir, 'server.crt'), '-noout', '-pubkey'])).toBe(key);
    });

    it('keeps the certificate on the next run, and renews one that nears its end with the same CA', async () => {
      const ca = await readFile(join(tlsDir, 'ca.crt'));
      const certificate = await readFile(join(tlsDir, 'server.crt'));
      const config = await readFile(configFile, 'utf8');
      const again = await run(['--grant-access', '--self-signed']);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('is valid; kept');
      expect(await readFile(configFile, 'utf8')).toBe(config);
      expect(again.stdout).toContain(`Admin password:  ${generatedPassword}`);
      // Serving HTTPS, every component still reports healthy.
      const status = await runInstallScript(['--config', configFile, '--status']);
      expect({ code: status.code, output: status.code === 0 ? '' : describeRun(status) }).toEqual({
        code: 0,
        output: '',
      });
      expect(await readFile(join(tlsDir, 'ca.crt'))).toEqual(ca);
      expect(await readFile(join(tlsDir, 'server.crt'))).toEqual(certificate);

      // A certificate of the same CA that ends in 10 days.
      const owner = await stat(join(tlsDir, 'server.crt'));
      const csr = join(dir, 'short.csr');
      const short = join(dir, 'short.crt');
      await openssl(['req', '-new', '-key', join(tlsDir, 'server.key'), '-subj', '/CN=127.0.0.1', '-out', csr]);
      const extensions = join(dir, 'short.ext');
      await writeFile(extensions, 'subjectAltName=IP:127.0.0.1\n');
      await openssl([
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        join(tlsDir, 'ca.crt'),
        '-CAkey',
        join(tlsDir, 'ca.key'),
        '-set_serial',
        '7',
        '-days',
        '10',
        '-extfile',
        extensions,
        '-out',
        short,
      ]);
      await copyFile(short, join(tlsDir, 'server.crt'));
      await lchown(join(tlsDir, 'server.crt'), owner.uid, owner.gid);

      const renewed = await run(['--grant-access']);
      expect(renewed.code).toBe(0);
      expect(renewed.stdout).toContain('signed by the CA clients already trust');
      expect(await readFile(join(tlsDir, 'ca.crt'))).toEqual(ca);
      const later = String(Math.floor(Date.now() / 1000) + 60 * 86400);
      expect(
        await openssl([
          'verify',
          '-CAfile',
          join(tlsDir, 'ca.crt'),
          '-attime',
          later,
          '-verify_ip',
          '127.0.0.1',
          join(tlsDir, 'server.crt'),
        ]),
      ).toContain(': OK');
    });

    it('makes a new CA when hostname changes', async () => {
      const ca = await readFile(join(tlsDir, 'ca.crt'));
      await writeFile(
        configFile,
        (await readFile(configFile, 'utf8')).replace(/^hostname: .*$/m, 'hostname: localhost'),
      );
      const changed = await run(['--grant-access']);
      expect({ code: changed.code, output: changed.code === 0 ? '' : describeRun(changed) }).toEqual({
        code: 0,
        output: '',
      });
      expect(changed.stdout).toContain('generated a self-signed certificate for localhost');
      expect(changed.stdout).toContain('with a new CA');
      expect(changed.stdout).toContain(`/etc/containers/certs.d/localhost:${httpsPort}/ca.crt`);
      expect(changed.stdout).toContain('a new CA: clients that trusted an earlier one need this one');
      expect(await readFile(join(tlsDir, 'ca.crt'))).not.toEqual(ca);
      expect(
        await openssl([
          'verify',
          '-CAfile',
          join(tlsDir, 'ca.crt'),
          '-verify_hostname',
          'localhost',
          join(tlsDir, 'server.crt'),
        ]),
      ).toContain(': OK');
    });

    it('--self-signed leaves a certificate harbor.yml already names alone', async () => {
      const own = join(dir, 'own.yml');
      const config = (await readFile(configFile, 'utf8'))
        .replace(`certificate: ${tlsDir}/server.crt`, 'certificate: /etc/ssl/certs/own.pem')
        .replace(`private_key: ${tlsDir}/server.key`, 'private_key: /etc/ssl/private/own.key');
      await writeFile(own, config, { mode: 0o600 });
      const refused = await runInstallScript(['--config', own, '--skip-build', '--self-signed']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`--self-signed: ${own} already names a certificate`);
      expect(await readFile(own, 'utf8')).toBe(config);
      await rm(own);
    });

    it('--purge is refused without --uninstall, and changes nothing', async () => {
      const refused = await runInstallScript(['--config', configFile, '--purge']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('--purge deletes data and is only accepted with --uninstall');
      expect((await components()).every((pid) => pid !== undefined && alive(pid))).toBe(true);
    });

    it('--uninstall stops everything and removes its records, keeps the data, and says so when run again', async () => {
      const pids = (await components()).filter((pid): pid is number => pid !== undefined);
      expect(pids).toHaveLength(COMPONENTS.length);
      const uninstalled = await run(['--uninstall']);
      expect({ code: uninstalled.code, output: uninstalled.code === 0 ? '' : describeRun(uninstalled) }).toEqual({
        code: 0,
        output: '',
      });
      expect(pids.filter(alive)).toEqual([]);
      expect(uninstalled.stdout).toContain('Wharf is uninstalled; its data is kept');
      expect(uninstalled.stdout).toContain(`removed install.sh's records of this installation`);
      expect(await exists(installStateDirectory(dataVolume))).toBe(false);
      for (const kept of [join(dataVolume, 'database', 'PG_VERSION'), join(tlsDir, 'ca.crt'), logDir, configFile]) {
        expect({ kept, exists: await exists(kept) }).toEqual({ kept, exists: true });
      }
      const ping = await fetch(`http://127.0.0.1:${httpPort}/api/v2.0/ping`).then(
        () => 'answered',
        () => 'refused',
      );
      expect(ping).toBe('refused');

      const again = await run(['--uninstall']);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('no component of this installation was running or installed');
      expect(again.stdout).not.toContain('removed install.sh');
    });

    it('--uninstall --purge deletes data_volume, the logs and the wharf user, and keeps harbor.yml', async () => {
      const purged = await run(['--uninstall', '--purge']);
      expect({ code: purged.code, output: purged.code === 0 ? '' : describeRun(purged) }).toEqual({
        code: 0,
        output: '',
      });
      expect(purged.stdout).toContain(`--purge: deleting Wharf's data for good: ${dataVolume}, ${logDir}`);
      expect(purged.stdout).toContain(`deleted ${dataVolume} (data_volume)`);
      expect(await exists(dataVolume)).toBe(false);
      expect(await exists(logDir)).toBe(false);
      // The user goes unless another installation on this host still uses it, which install.sh then names.
      const kept =
        /kept the wharf user: (install\.sh has records of other installations|processes still run as it)/.test(
          purged.stderr,
        );
      expect({ deleted: purged.stdout.includes('deleted the wharf user'), exists: userExists('wharf') }).toEqual({
        deleted: !kept,
        exists: kept,
      });
      expect(await exists(configFile)).toBe(true);

      const again = await run(['--uninstall', '--purge']);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('already gone');
    });
  },
);
