import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, mergeDeep, repoRoot, toYaml } from '@wharf/testkit';

/** What one run of install.sh printed, and how it ended. */
export interface InstallRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface InstallOptions {
  /** Ports of core's HTTP listener, the embedded PostgreSQL and the embedded Redis; free ones when omitted. */
  httpPort?: number;
  databasePort?: number;
  redisPort?: number;
  /** Deep-merged over the generated harbor.yml: objects merge, anything else replaces. */
  extraConfig?: Record<string, unknown>;
  /**
   * Pass --skip-build (use the checkout's build as it is). By default install.sh runs pnpm install and pnpm build
   * like on a real host; WHARF_INSTALL_SKIP_BUILD=1 turns this on for every test.
   */
  skipBuild?: boolean;
}

/** Wharf installed by install.sh into a temporary directory, with its embedded PostgreSQL and Redis. */
export interface InstalledWharf {
  /** The temporary directory holding harbor.yml, data_volume and the logs. */
  dir: string;
  configFile: string;
  dataVolume: string;
  logDir: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, as image references and skopeo/podman expect it. */
  host: string;
  httpPort: number;
  adminPassword: string;
  admin: { username: string; password: string };
  /** What the first install printed. */
  firstRun: InstallRun;
  /** Runs install.sh with --config and the given arguments (for example ['--status']); never throws on failure. */
  run(args?: string[]): Promise<InstallRun>;
  /** Runs install.sh again (an upgrade in place); throws with its output when it fails. */
  reinstall(): Promise<InstallRun>;
  /** The pid in `<data_volume>/run/<component>.pid`, when the file exists. */
  pid(component: 'postgresql' | 'redis' | 'core' | 'jobservice'): Promise<number | undefined>;
  /** ./install.sh --stop; throws with its output when it fails. */
  stop(): Promise<void>;
  /** Stops everything and removes the temporary directory; safe to call more than once. */
  cleanup(): Promise<void>;
}

const INSTALL_TIMEOUT_MS = Number(process.env.WHARF_INSTALL_TIMEOUT_MS ?? 20 * 60_000);

// Installs still running when the test process exits (a crash, an interrupted run) are stopped on the way out.
const LIVE_INSTALLS = Symbol.for('wharf.e2e.installKit.liveInstalls');
const holder = globalThis as { [LIVE_INSTALLS]?: Set<string> };
const liveInstalls: Set<string> = (holder[LIVE_INSTALLS] ??= createLiveInstalls());

function createLiveInstalls(): Set<string> {
  const configs = new Set<string>();
  process.once('exit', () => {
    for (const config of configs) {
      spawnSync(join(repoRoot(), 'install.sh'), ['--stop', '--config', config], { stdio: 'ignore', timeout: 120_000 });
    }
  });
  return configs;
}

/** Where install.sh keeps its records (fingerprints, lock) of a data volume: named after a hash of its path. */
export function installStateDirectory(dataVolume: string): string {
  return join('/var/lib/wharf-install', createHash('sha256').update(dataVolume).digest('hex').slice(0, 16));
}

/** Runs install.sh from the checkout; resolves with its exit code and output. */
export function runInstallScript(args: string[], timeoutMs = INSTALL_TIMEOUT_MS): Promise<InstallRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(repoRoot(), 'install.sh'), args, {
      cwd: repoRoot(),
      env: withoutWharfOverrides(process.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal === 'SIGKILL' ? 124 : 128), stdout, stderr });
    });
  });
}

function withoutWharfOverrides(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('WHARF__')));
}

export function describeRun(run: InstallRun): string {
  return `install.sh exited with ${run.code}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`;
}

// harbor.yml files are written the way the test kit writes them.
export { toYaml };

async function distinctFreePorts(given: (number | undefined)[]): Promise<number[]> {
  const taken = new Set(given.filter((port): port is number => port !== undefined));
  const ports: number[] = [];
  for (const port of given) {
    if (port !== undefined) {
      ports.push(port);
      continue;
    }
    let candidate = await freePort();
    while (taken.has(candidate)) candidate = await freePort();
    taken.add(candidate);
    ports.push(candidate);
  }
  return ports;
}

/**
 * Writes a harbor.yml for a private install under a new temporary directory (mode 0755, so the wharf user can
 * traverse it), runs `./install.sh --config <file> --grant-access`, and returns the running Wharf. It must run as
 * root, as install.sh does. On failure everything it started is stopped and the directory removed.
 */
export async function installWharf(options: InstallOptions = {}): Promise<InstalledWharf> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-install-'));
  await chmod(dir, 0o755);
  const [httpPort, databasePort, redisPort] = await distinctFreePorts([
    options.httpPort,
    options.databasePort,
    options.redisPort,
  ]);
  // Harbor's password policy: 8+ characters with an upper-case letter, a lower-case letter and a digit.
  const generatedPassword = `Adm1n-${randomBytes(12).toString('base64url')}`;
  const dataVolume = join(dir, 'data');
  const logDir = join(dir, 'log');
  const config = mergeDeep(
    {
      hostname: '127.0.0.1',
      http: { host: '127.0.0.1', port: httpPort },
      harbor_admin_password: generatedPassword,
      database: { password: randomBytes(18).toString('base64url'), port: databasePort },
      redis: { port: redisPort },
      data_volume: dataVolume,
      log: { level: 'info', local: { location: logDir, rotate_size: '10M', rotate_count: 3 } },
    },
    options.extraConfig ?? {},
  );
  const adminPassword = String(config.harbor_admin_password);
  const configFile = join(dir, 'harbor.yml');
  await writeFile(configFile, toYaml(config), { mode: 0o600 });

  const skipBuild = options.skipBuild ?? process.env.WHARF_INSTALL_SKIP_BUILD === '1';
  const installArgs = ['--config', configFile, '--grant-access', ...(skipBuild ? ['--skip-build'] : [])];
  const run = (args: string[] = []) => runInstallScript(['--config', configFile, ...args]);

  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    const stopped = await run(['--stop']);
    liveInstalls.delete(configFile);
    await rm(dir, { recursive: true, force: true });
    // install.sh's own records of this data volume (root's, outside it).
    await rm(installStateDirectory(dataVolume), { recursive: true, force: true });
    if (stopped.code !== 0) throw new Error(`stopping Wharf failed: ${describeRun(stopped)}`);
  };

  liveInstalls.add(configFile);
  let firstRun: InstallRun;
  try {
    firstRun = await runInstallScript(installArgs);
    if (firstRun.code !== 0) throw new Error(describeRun(firstRun));
  } catch (error) {
    await cleanup().catch(() => undefined);
    throw error;
  }

  const host = `127.0.0.1:${httpPort}`;
  return {
    dir,
    configFile,
    dataVolume,
    logDir,
    url: `http://${host}`,
    host,
    httpPort,
    adminPassword,
    admin: { username: 'admin', password: adminPassword },
    firstRun,
    run,
    reinstall: async () => {
      const again = await runInstallScript(installArgs);
      if (again.code !== 0) throw new Error(describeRun(again));
      return again;
    },
    pid: async (component) => {
      try {
        const text = await readFile(join(dataVolume, 'run', `${component}.pid`), 'utf8');
        return Number(text.trim());
      } catch {
        return undefined;
      }
    },
    stop: async () => {
      const stopped = await run(['--stop']);
      if (stopped.code !== 0) throw new Error(describeRun(stopped));
    },
    cleanup,
  };
}
