import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type TestDatabase, externalDatabaseSection } from './database.js';
import { freePort } from './ports.js';

/** A registry server running as a child process on loopback. */
export interface RegistryProcess {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, the form image references and skopeo/podman expect. */
  host: string;
  /** Pid of the current process; changes after `restart()`. */
  pid: number;
  /** The server's stdout and stderr (inside its data directory, so gone after a stop that removes it). */
  logPath: string;
  /** SIGTERM, then SIGKILL if the process has not exited in time; removes data it created itself. */
  stop(): Promise<void>;
  /** SIGKILL (a crash, as far as the registry can tell); keeps the data so a restart can recover it. */
  kill(): Promise<void>;
  /** Stops and starts again on the same port, data and database. */
  restart(): Promise<void>;
}

export interface ReferenceRegistryOptions {
  port?: number;
  /** Storage root kept after stop; a temporary one, deleted on stop, when omitted. */
  rootDir?: string;
}

export interface WharfConfigOptions {
  port: number;
  dataDir: string;
  database: TestDatabase;
  auth?: 'none';
  /** Deep-merged over the generated configuration; objects merge, anything else replaces. */
  extraConfig?: Record<string, unknown>;
  /** Where to write the file; `<dataDir>/harbor.yml` when omitted. */
  path?: string;
}

export interface WharfRegistryOptions {
  port?: number;
  /** Data volume kept after stop; a temporary one, deleted on stop, when omitted. */
  dataDir?: string;
  database: TestDatabase;
  auth?: 'none';
  extraConfig?: Record<string, unknown>;
}

export interface WharfCoreOptions {
  port?: number;
  /** Data volume kept after stop; a temporary one, deleted on stop, when omitted. */
  dataDir?: string;
  database: TestDatabase;
  /** Deep-merged over the generated configuration (`harbor_admin_password` here sets the admin's password). */
  extraConfig?: Record<string, unknown>;
  /**
   * Serve HTTPS on a second free port with this certificate chain and key (`https` in harbor.yml); `url` and `host`
   * then name the HTTPS listener, and readiness is checked over TLS, trusting `ca` alone.
   */
  https?: { certificate: string; privateKey: string; ca: string };
}

/** `wharf start core`: the API, the token service and the registry at /v2, as one child process. */
export interface CoreProcess extends RegistryProcess {
  /** The `admin` account core creates on first start. */
  admin: { username: string; password: string };
  /** The plain HTTP listener: `url` itself, unless core serves HTTPS (then it redirects there). */
  httpUrl: string;
  /** The harbor.yml core runs with, for a jobservice of the same installation. */
  configPath: string;
}

/** `wharf start jobservice`: the background worker, as one child process. */
export interface JobServiceProcess {
  pid: number;
  logPath: string;
  /** SIGTERM, then SIGKILL if the process has not exited in time. */
  stop(): Promise<void>;
  /** SIGKILL (a crash, as far as the jobs it was running can tell); resolves once the process has exited. */
  kill(): Promise<void>;
}

const READY_TIMEOUT_MS = Number(process.env.WHARF_TEST_READY_TIMEOUT_MS ?? 30_000);
const STOP_TIMEOUT_MS = 10_000;
const LOG_TAIL_BYTES = 4_096;
const REFERENCE_BINARY = process.env.WHARF_REFERENCE_REGISTRY ?? '/usr/bin/docker-registry';

// Children run in their own process group (so a multi-process server is signalled as a whole); a
// crashed or interrupted run must still not leave registries holding ports. Test runners load this
// module once per test file, so the set and its exit hook are kept once per process.
const LIVE_GROUPS = Symbol.for('wharf.testkit.processes.liveGroups');
const holder = globalThis as { [LIVE_GROUPS]?: Set<number> };
const liveGroups: Set<number> = (holder[LIVE_GROUPS] ??= createLiveGroups());

function createLiveGroups(): Set<number> {
  const groups = new Set<number>();
  process.once('exit', () => {
    for (const pgid of groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
  return groups;
}

/** The repository root: `WHARF_REPO_ROOT`, or three levels above this file (src/ or dist/ alike). */
export function repoRoot(): string {
  const fromEnv = process.env.WHARF_REPO_ROOT;
  if (fromEnv) return resolve(fromEnv);
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

/** Starts Debian's CNCF Distribution 2.8 (`docker-registry`) with filesystem storage and no auth. */
export async function startReferenceRegistry(options: ReferenceRegistryOptions = {}): Promise<RegistryProcess> {
  if (!existsSync(REFERENCE_BINARY)) {
    throw new Error(`reference registry binary not found at ${REFERENCE_BINARY} (apt-get install docker-registry)`);
  }
  return withPortRetry(options.port, (port) => startReferenceOn(port, options));
}

async function startReferenceOn(port: number, options: ReferenceRegistryOptions): Promise<RegistryProcess> {
  const ownsRoot = options.rootDir === undefined;
  const rootDir = options.rootDir ?? (await mkdtemp(join(tmpdir(), 'wharf-reference-')));
  await mkdir(join(rootDir, 'data'), { recursive: true });
  const configPath = join(rootDir, 'config.yml');
  const logPath = join(rootDir, 'registry.log');
  await writeFile(
    configPath,
    toYaml({
      version: '0.1',
      log: { level: 'error', accesslog: { disabled: true } },
      storage: {
        // Debian's stock configuration keeps this cache; leaving it out would handicap the reference.
        cache: { blobdescriptor: 'inmemory' },
        filesystem: { rootdirectory: join(rootDir, 'data') },
        delete: { enabled: true },
      },
      http: { addr: `127.0.0.1:${port}` },
      health: { storagedriver: { enabled: false } },
    }),
  );
  return startManaged({
    name: 'reference registry',
    command: REFERENCE_BINARY,
    args: ['serve', configPath],
    cwd: rootDir,
    port,
    logPath,
    cleanup: ownsRoot ? () => rm(rootDir, { recursive: true, force: true }) : undefined,
  });
}

/** Writes a harbor.yml that runs Wharf's registry alone on loopback against the given database. */
export async function writeWharfConfig(options: WharfConfigOptions): Promise<string> {
  validatePort(options.port);
  if (options.auth !== undefined && options.auth !== 'none') {
    throw new Error(`unsupported auth mode ${JSON.stringify(options.auth)}; only 'none' is supported`);
  }
  const dataDir = resolve(options.dataDir);
  const db = options.database;
  const config = mergeDeep(
    {
      hostname: '127.0.0.1',
      // `start registry` serves registry.port only; http is set so the file also suits the full server.
      http: { host: '127.0.0.1', port: options.port },
      harbor_admin_password: randomBytes(18).toString('base64url'),
      data_volume: dataDir,
      external_database: externalDatabaseSection(db),
      external_redis: { host: '127.0.0.1:6379' },
      storage_service: { filesystem: { rootdirectory: join(dataDir, 'registry') } },
      log: { level: 'error', local: { location: join(dataDir, 'log') } },
      registry: { host: '127.0.0.1', port: options.port, auth: options.auth ?? 'none' },
    },
    options.extraConfig ?? {},
  );
  const path = options.path ?? join(dataDir, 'harbor.yml');
  await mkdir(dirname(path), { recursive: true });
  await mkdir(join(dataDir, 'registry'), { recursive: true });
  await mkdir(join(dataDir, 'log'), { recursive: true });
  await writeFile(path, toYaml(config), { mode: 0o600 });
  return path;
}

/**
 * apps/cli/bin/wharf, the launcher every deployment uses (it sets the Node.js flags Wharf's servers run with), run
 * with the node binary of this process.
 */
function wharfLauncher(root: string): string {
  const built = join(root, 'apps', 'cli', 'dist', 'main.js');
  if (!existsSync(built)) {
    throw new Error(`${built} does not exist: build the repository first (pnpm build), or set WHARF_REPO_ROOT`);
  }
  return join(root, 'apps', 'cli', 'bin', 'wharf');
}

function launcherEnv(): NodeJS.ProcessEnv {
  return { ...process.env, WHARF_NODE: process.env.WHARF_NODE ?? process.execPath };
}

/** Migrates the database, then starts `wharf start registry` and waits for `/v2/` to answer. */
export async function startWharfRegistry(options: WharfRegistryOptions): Promise<RegistryProcess> {
  const root = repoRoot();
  const cli = wharfLauncher(root);
  return withPortRetry(options.port, (port) => startWharfOn(port, root, cli, options));
}

async function startWharfOn(
  port: number,
  root: string,
  cli: string,
  options: WharfRegistryOptions,
): Promise<RegistryProcess> {
  const ownsData = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'wharf-registry-')));
  const configPath = await writeWharfConfig({
    port,
    dataDir,
    database: options.database,
    auth: options.auth,
    extraConfig: options.extraConfig,
  });
  const logPath = join(dataDir, 'wharf-registry.log');
  try {
    await runLogged(cli, ['migrate', '--config', configPath], root, logPath, 'wharf migrate');
  } catch (error) {
    if (ownsData) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return startManaged({
    name: 'wharf registry',
    command: cli,
    args: ['start', 'registry', '--config', configPath],
    cwd: root,
    port,
    logPath,
    cleanup: ownsData ? () => rm(dataDir, { recursive: true, force: true }) : undefined,
  });
}

/**
 * Migrates the database, then starts `wharf start core` and waits for the API to answer. Clients reach the registry
 * at `url` + `/v2` with tokens from `url` + `/service/token`, and the API at `url` + `/api/v2.0`.
 */
export async function startWharfCore(options: WharfCoreOptions): Promise<CoreProcess> {
  const root = repoRoot();
  const cli = wharfLauncher(root);
  return withPortRetry(options.port, (port) => startCoreOn(port, root, cli, options));
}

async function startCoreOn(port: number, root: string, cli: string, options: WharfCoreOptions): Promise<CoreProcess> {
  const ownsData = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'wharf-core-')));
  const extraConfig = options.extraConfig ?? {};
  const given = extraConfig.harbor_admin_password;
  // Harbor's password policy: 8+ characters with an upper-case letter, a lower-case letter and a digit.
  const password = typeof given === 'string' ? given : `Adm1n-${randomBytes(12).toString('base64url')}`;
  const httpsPort = options.https ? await freePort() : undefined;
  const https = options.https && {
    https: { port: httpsPort, certificate: options.https.certificate, private_key: options.https.privateKey },
  };
  const configPath = await writeWharfConfig({
    port,
    dataDir,
    database: options.database,
    // Core serves /v2 with its own tokens; `registry.auth` only concerns the standalone registry, and `none` there
    // would only print a warning that does not apply.
    extraConfig: mergeDeep(
      { registry: { auth: 'token' }, ...https },
      { ...extraConfig, harbor_admin_password: password },
    ),
  });
  const logPath = join(dataDir, 'wharf-core.log');
  try {
    await runLogged(cli, ['migrate', '--config', configPath], root, logPath, 'wharf migrate');
  } catch (error) {
    if (ownsData) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const core = await startManaged({
    name: 'wharf core',
    command: cli,
    args: ['start', 'core', '--config', configPath],
    cwd: root,
    port: httpsPort ?? port,
    tlsCa: options.https?.ca,
    logPath,
    // /v2/ asks core's clients for a token; the API's ping answers once everything, registry included, is up.
    readyPath: '/api/v2.0/ping',
    cleanup: ownsData ? () => rm(dataDir, { recursive: true, force: true }) : undefined,
  });
  return Object.assign(core, {
    admin: { username: 'admin', password },
    httpUrl: `http://127.0.0.1:${port}`,
    configPath,
  });
}

/**
 * Starts `wharf start jobservice` on core's configuration and waits until it says it is ready. It runs what core
 * leaves to the job platform: the delivery of registry events to the audit log and pull counts, schedules, jobs.
 * Stop it before core, whose data directory holds its log.
 */
export async function startWharfJobService(core: CoreProcess): Promise<JobServiceProcess> {
  const root = repoRoot();
  const logPath = join(dirname(core.logPath), 'wharf-jobservice.log');
  // Several jobservices of one installation share the log: only what this one writes tells that it is ready.
  const logStart = (await readFile(logPath).catch(() => Buffer.alloc(0))).length;
  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(wharfLauncher(root), ['start', 'jobservice', '--config', core.configPath], {
      cwd: root,
      stdio: ['ignore', logFd, logFd],
      detached: true,
      env: launcherEnv(),
    });
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  if (pid === undefined) {
    const failure = await new Promise<Error>((resolveError) => child.once('error', resolveError));
    throw new Error(`wharf jobservice: could not spawn: ${failure.message}`);
  }
  liveGroups.add(pid);
  const exited = new Promise<void>((resolveExit) => {
    child.once('exit', () => {
      liveGroups.delete(pid);
      resolveExit();
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    signalGroup(pid, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolveTimeout) => {
      timer = setTimeout(resolveTimeout, STOP_TIMEOUT_MS);
    });
    await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    signalGroup(pid, 'SIGKILL');
    await exited;
  };
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    signalGroup(pid, 'SIGKILL');
    await exited;
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const log = (await readFile(logPath).catch(() => Buffer.alloc(0))).subarray(logStart).toString('utf8');
    if (log.includes('wharf jobservice running')) return { pid, logPath, stop, kill };
    const gone = child.exitCode !== null || child.signalCode !== null;
    if (gone || Date.now() > deadline) {
      await stop();
      const problem = gone ? `exited during startup (${child.exitCode ?? child.signalCode})` : 'not ready in time';
      throw new Error(`wharf jobservice ${problem}\n--- last lines of ${logPath} ---\n${await logTail(logPath)}`);
    }
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 100));
  }
}

const PORT_ATTEMPTS = 3;

/**
 * A port from freePort() is free only until someone else binds it; on a busy host another test can
 * take it first. A server that fails for that reason is started again on a fresh port, unless the
 * caller chose the port.
 */
async function withPortRetry<T extends RegistryProcess>(
  chosen: number | undefined,
  start: (port: number) => Promise<T>,
): Promise<T> {
  if (chosen !== undefined) {
    validatePort(chosen);
    return start(chosen);
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (error) {
      const inUse = /address already in use|EADDRINUSE|is held by another process/i.test((error as Error).message);
      if (!inUse || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

interface ManagedSpec {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  port: number;
  logPath: string;
  /** The path that answers 200 once the server is ready; `/v2/` unless given. */
  readyPath?: string;
  /** The server speaks TLS on `port` with a certificate this CA (PEM) signed. */
  tlsCa?: string;
  cleanup?: () => Promise<void>;
}

async function startManaged(spec: ManagedSpec): Promise<RegistryProcess> {
  const host = `127.0.0.1:${spec.port}`;
  const url = `${spec.tlsCa === undefined ? 'http' : 'https'}://${host}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const logFd = openSync(spec.logPath, 'a');
    let started: ChildProcess;
    try {
      started = spawn(spec.command, spec.args, {
        cwd: spec.cwd,
        stdio: ['ignore', logFd, logFd],
        detached: true,
        env: launcherEnv(),
      });
    } finally {
      // The child holds its own copy of the descriptor.
      closeSync(logFd);
    }
    const pid = started.pid;
    if (pid === undefined) {
      const failure = await new Promise<Error>((resolveError) => started.once('error', resolveError));
      throw new Error(`${spec.name}: could not spawn ${spec.command}: ${failure.message}`);
    }
    liveGroups.add(pid);
    exited = new Promise<void>((resolveExit) => {
      started.once('exit', () => {
        liveGroups.delete(pid);
        resolveExit();
      });
    });
    child = started;
    try {
      await waitForReady(`${url}${spec.readyPath ?? '/v2/'}`, spec.port, started, spec.name, spec.tlsCa);
    } catch (error) {
      signalGroup(pid, 'SIGKILL');
      await exited;
      const tail = await logTail(spec.logPath);
      throw new Error(`${(error as Error).message}\n--- last lines of ${spec.logPath} ---\n${tail}`, { cause: error });
    }
  };

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const pid = current.pid as number;
    signalGroup(pid, signal);
    if (signal === 'SIGKILL') {
      await exited;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolveTimeout) => {
      timer = setTimeout(() => resolveTimeout(true), STOP_TIMEOUT_MS);
    });
    const forced = await Promise.race([exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (forced) {
      signalGroup(pid, 'SIGKILL');
      await exited;
    }
    // Workers of a multi-process server may outlive the leader by a moment; the port must be free again.
    signalGroup(pid, 'SIGKILL');
  };

  try {
    await launch();
  } catch (error) {
    if (spec.cleanup) await spec.cleanup();
    throw error;
  }

  let cleaned = false;
  const handle: RegistryProcess = {
    url,
    host,
    pid: child!.pid as number,
    logPath: spec.logPath,
    stop: async () => {
      await halt('SIGTERM');
      if (spec.cleanup && !cleaned) {
        cleaned = true;
        await spec.cleanup();
      }
    },
    kill: () => halt('SIGKILL'),
    restart: async () => {
      if (cleaned) throw new Error(`${spec.name}: cannot restart after stop() removed its data`);
      await halt('SIGTERM');
      await launch();
      handle.pid = child!.pid as number;
    },
  };
  return handle;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is already empty.
  }
}

async function waitForReady(
  readyUrl: string,
  port: number,
  child: ChildProcess,
  name: string,
  tlsCa: string | undefined,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastProblem = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited during startup (${child.exitCode ?? child.signalCode})`);
    }
    try {
      const status = await getStatus(readyUrl, tlsCa);
      // On a shared host another server may hold the port for a moment; only our child's answer counts.
      if (status === 200 && (await listensOn(child.pid as number, port))) return;
      lastProblem =
        status === 200
          ? `port ${port} is held by another process`
          : `GET ${new URL(readyUrl).pathname} answered ${status}`;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 100));
  }
  throw new Error(`${name} not ready at ${readyUrl} after ${READY_TIMEOUT_MS} ms: ${lastProblem}`);
}

/** Whether the process (or a descendant) owns the listening socket of 127.0.0.1:port or *:port. */
async function listensOn(pid: number, port: number): Promise<boolean> {
  const portHex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // Fields: sl, local address, remote address, state (0A is LISTEN), …, inode at index 9.
      if (fields.length > 9 && fields[1].endsWith(portHex) && fields[3] === '0A') inodes.add(fields[9]);
    }
  }
  if (inodes.size === 0) return false;
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    for (const fd of await readdir(`/proc/${pids[i]}/fd`).catch(() => [] as string[])) {
      const target = await readlink(`/proc/${pids[i]}/fd/${fd}`).catch(() => '');
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined && inodes.has(inode)) return true;
    }
    for (const task of await readdir(`/proc/${pids[i]}/task`).catch(() => [] as string[])) {
      const children = await readFile(`/proc/${pids[i]}/task/${task}/children`, 'utf8').catch(() => '');
      for (const child of children.split(' ')) if (child.trim()) pids.push(Number(child));
    }
  }
  return false;
}

function getStatus(url: string, tlsCa: string | undefined): Promise<number> {
  return new Promise((resolveStatus, reject) => {
    const send = tlsCa === undefined ? request : httpsRequest;
    const req = send(url, { method: 'GET', agent: false, timeout: 2_000, ca: tlsCa }, (res) => {
      res.resume();
      res.once('end', () => resolveStatus(res.statusCode ?? 0));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error('request timed out')));
    req.once('error', reject);
    req.end();
  });
}

const execFileAsync = promisify(execFile);

async function runLogged(command: string, args: string[], cwd: string, logPath: string, name: string): Promise<void> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      cwd,
      env: launcherEnv(),
      maxBuffer: 16 * 1024 * 1024,
    });
    await writeFile(logPath, `$ ${name}\n${stdout}${stderr}`, { flag: 'a' });
  } catch (error) {
    const failure = error as Error & { stdout?: string; stderr?: string };
    await writeFile(logPath, `$ ${name}\n${failure.stdout ?? ''}${failure.stderr ?? ''}`, { flag: 'a' });
    throw new Error(`${name} failed: ${failure.message}\n--- last lines of ${logPath} ---\n${await logTail(logPath)}`, {
      cause: error,
    });
  }
}

/** The last few KiB of a log file, starting at a line boundary. */
export async function logTail(path: string): Promise<string> {
  let file;
  try {
    file = await open(path, 'r');
  } catch {
    return '(no log written)';
  }
  try {
    const { size } = await file.stat();
    const length = Math.min(size, LOG_TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await file.read(buffer, 0, length, size - length);
    const text = buffer.toString('utf8');
    return length < size ? text.slice(text.indexOf('\n') + 1) : text;
  } finally {
    await file.close();
  }
}

function validatePort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`invalid port ${port}: expected an integer between 1 and 65535`);
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `over` laid over `base`, object by object; anything else in `over` replaces what `base` has. */
export function mergeDeep(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = merged[key];
    merged[key] = isPlainObject(current) && isPlainObject(value) ? mergeDeep(current, value) : value;
  }
  return merged;
}

/**
 * Block-style YAML for plain configuration objects. Scalars are written as JSON, which YAML reads
 * back unchanged, so paths and passwords with special characters need no extra quoting rules.
 */
export function toYaml(value: Record<string, unknown>, indent = ''): string {
  let out = '';
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue;
    const name = /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key) ? key : JSON.stringify(key);
    if (isPlainObject(item)) {
      out +=
        Object.keys(item).length === 0 ? `${indent}${name}: {}\n` : `${indent}${name}:\n${toYaml(item, `${indent}  `)}`;
    } else {
      // Arrays come out in flow style, which is also JSON.
      out += `${indent}${name}: ${JSON.stringify(item)}\n`;
    }
  }
  return out;
}
