import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './ports.js';

const execFileAsync = promisify(execFile);

const PG_BIN = process.env.WHARF_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const REDIS_SERVER = process.env.WHARF_TEST_REDIS_SERVER ?? '/usr/bin/redis-server';

async function waitUntil(what: string, ready: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A redis-server of a test's own, on a free loopback port, that the test may kill and start again. */
export interface PrivateRedis {
  port: number;
  /** SIGKILL: Redis is gone at once, as in a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: nothing is persisted). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const pingable = () =>
    execFileAsync('redis-cli', ['-p', String(port), 'ping'], { timeout: 2000 }).then(
      ({ stdout }) => stdout.trim() === 'PONG',
      () => false,
    );
  const start = async () => {
    child = spawn(
      REDIS_SERVER,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      { stdio: 'ignore' },
    );
    await waitUntil(`redis-server on port ${port}`, pingable);
  };
  const kill = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return { port, start, kill, stop: kill };
}

/**
 * A PostgreSQL cluster of a test's own (initdb into a temporary directory, user `postgres`, trust authentication or,
 * with `password`, scram-sha-256 as install.sh sets up the embedded server),
 * on a free loopback port, that the test may stop and restart with pg_ctl. Run as root, the server runs as the
 * `postgres` system user, since PostgreSQL refuses to run as root.
 */
export interface PrivatePostgres {
  host: string;
  port: number;
  username: string;
  password?: string;
  /** pg_ctl restart -m fast: every connection is terminated and the server is away for a moment. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes the cluster. */
  destroy(): Promise<void>;
}

export async function startPrivatePostgres(settings: { password?: string } = {}): Promise<PrivatePostgres> {
  const { password } = settings;
  const dir = await mkdtemp(join(tmpdir(), 'wharf-pg-'));
  const data = join(dir, 'data');
  const port = await freePort();
  let ids: { uid: number; gid: number } | undefined;
  if (process.getuid?.() === 0) {
    const { stdout } = await execFileAsync('id', ['-u', 'postgres']);
    const { stdout: group } = await execFileAsync('id', ['-g', 'postgres']);
    ids = { uid: Number(stdout.trim()), gid: Number(group.trim()) };
    await chown(dir, ids.uid, ids.gid);
  }
  const run = (command: string, args: string[]) =>
    execFileAsync(join(PG_BIN, command), args, {
      ...ids,
      cwd: dir,
      timeout: 60_000,
      env: { ...process.env, LANG: 'C' },
    });
  const auth = ['--auth=trust'];
  if (password !== undefined) {
    const passwordFile = join(dir, 'password');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    if (ids) await chown(passwordFile, ids.uid, ids.gid);
    auth.splice(0, 1, '--auth=scram-sha-256', `--pwfile=${passwordFile}`);
  }
  await run('initdb', ['-D', data, '-U', 'postgres', ...auth, '-E', 'UTF8', '--no-sync']);
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off`;
  const ctl = (action: string, ...extra: string[]) =>
    run('pg_ctl', ['-D', data, '-l', join(dir, 'postgres.log'), '-o', options, '-w', '-t', '30', ...extra, action]);
  const accepting = async () => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const start = async () => {
    await ctl('start');
    await waitUntil(`PostgreSQL on port ${port}`, accepting);
  };
  const stop = async () => {
    await ctl('stop', '-m', 'fast').catch(() => undefined);
  };
  try {
    await start();
  } catch (error) {
    await stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    host: '127.0.0.1',
    port,
    username: 'postgres',
    password,
    start,
    stop,
    restart: async () => {
      await ctl('restart', '-m', 'fast');
    },
    destroy: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
