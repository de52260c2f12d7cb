import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { RotatingLog } from './rotating-log.js';
import { type Supervisor, type SupervisorOptions, supervise } from './supervisor.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = join(ROOT, 'apps/cli/dist/main.js');

// Children are real node processes; on a loaded machine their start alone can take seconds, and until() waits 10 s.
jest.setTimeout(30_000);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('supervise', () => {
  let dir: string;
  let log: RotatingLog;
  let supervisor: Supervisor | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-supervisor-'));
    log = new RotatingLog(join(dir, 'child.log'), { maxBytes: 1024 * 1024, keep: 1 });
  });

  afterEach(async () => {
    await supervisor?.stop();
    supervisor = undefined;
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function start(script: string, overrides: Partial<SupervisorOptions> = {}): Supervisor {
    supervisor = supervise({
      name: 'child',
      command: process.execPath,
      args: ['-e', script],
      pidFile: join(dir, 'child.pid'),
      supervisorPidFile: join(dir, 'child.supervisor.pid'),
      log,
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 5_000,
      minBackoffMs: 50,
      maxBackoffMs: 400,
      ...overrides,
    });
    return supervisor;
  }

  const pidFile = () => {
    const file = join(dir, 'child.pid');
    return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : undefined;
  };
  // Between the test's removal of the log and the supervisor's new file there is no file: nothing logged yet.
  const logText = () => {
    try {
      return readFileSync(join(dir, 'child.log'), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw error;
    }
  };

  it('keeps supervising when its log is removed, and logs to a new file at the same path', async () => {
    log.close();
    // Rotates after every line or two, so a removed file is noticed at once.
    log = new RotatingLog(join(dir, 'child.log'), { maxBytes: 64, keep: 2 });
    start('let n = 0; setInterval(() => console.log(`line ${n++} of the child`), 20);');
    await until('the first lines', () => (logText().includes('line 1 of') ? true : undefined));
    rmSync(join(dir, 'child.log'));
    rmSync(join(dir, 'child.log.1'), { force: true });
    await until('a new log file', () => (existsSync(join(dir, 'child.log')) ? true : undefined));
    const pid = pidFile();
    expect(pid !== undefined && alive(pid)).toBe(true);
    await until('more lines in the new file', () => (/line \d+ of the child/.test(logText()) ? true : undefined));
  });

  it('keeps supervising and restarting when every write to its log fails', async () => {
    /** A test double of the log that fails on every write, like a full disk. */
    const failingLog = {
      write: () => {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      },
    } as unknown as RotatingLog;
    const running = start('console.log("output nobody can keep"); setTimeout(() => process.exit(3), 50);', {
      log: failingLog,
    });
    const first = await until('the first child', () => running.childPid);
    await until('a restarted child', () =>
      running.childPid !== undefined && running.childPid !== first ? running.childPid : undefined,
    );
  });

  it('writes both pid files and the output of the child to the log', async () => {
    const running = start('console.log("out line"); console.error("err line"); setInterval(() => {}, 1000);');
    const pid = await until('the child pid file', pidFile);
    expect(pid).toBe(running.childPid);
    expect(readFileSync(join(dir, 'child.supervisor.pid'), 'utf8')).toBe(`${process.pid}\n`);
    await until('the output', () => (logText().includes('err line') ? true : undefined));
    expect(logText()).toContain('out line\n');
  });

  it('restarts a child that dies, waiting longer each time it keeps failing', async () => {
    const marker = join(dir, 'starts');
    writeFileSync(marker, '');
    start(`require('fs').appendFileSync(${JSON.stringify(marker)}, 'x'); process.exit(3);`);
    await until('four starts', () => (readFileSync(marker, 'utf8').length >= 4 ? true : undefined));
    const restarts = [...logText().matchAll(/"msg":"child exited with code 3 after \d+s; restarting in ([\d.]+)s"/g)];
    expect(restarts.slice(0, 3).map((match) => Number(match[1]))).toEqual([0.05, 0.1, 0.2]);
  });

  it('brings back a killed child under a new pid', async () => {
    start('setInterval(() => {}, 1000);');
    const first = await until('the first child', pidFile);
    process.kill(first, 'SIGKILL');
    const second = await until('a new child', () => {
      const pid = pidFile();
      return pid !== undefined && pid !== first ? pid : undefined;
    });
    expect(alive(second)).toBe(true);
    expect(logText()).toContain('child was killed by SIGKILL');
  });

  it('stops the child with the stop signal, removes the pid files and does not restart it', async () => {
    const running = start(
      'process.on("SIGINT", () => { console.log("got SIGINT"); process.exit(0); }); console.log("ready"); setInterval(() => {}, 1000);',
      { stopSignal: 'SIGINT' },
    );
    const pid = await until('the child', pidFile);
    await until('the child to handle signals', () => (logText().includes('ready') ? true : undefined));
    await running.stop();
    await running.done;
    expect(alive(pid)).toBe(false);
    expect(logText()).toContain('got SIGINT');
    expect(existsSync(join(dir, 'child.pid'))).toBe(false);
    expect(existsSync(join(dir, 'child.supervisor.pid'))).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(running.childPid).toBeUndefined();
    expect(logText()).not.toMatch(/restarting in/);
  });

  it('kills a child that ignores the stop signal once the timeout has passed', async () => {
    const running = start(
      'process.on("SIGTERM", () => console.log("ignoring SIGTERM")); console.log("ready"); setInterval(() => {}, 1000);',
      {
        stopTimeoutMs: 300,
      },
    );
    const pid = await until('the child', pidFile);
    await until('the child to handle signals', () => (logText().includes('ready') ? true : undefined));
    const started = Date.now();
    await running.stop();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(alive(pid)).toBe(false);
    expect(logText()).toContain('did not stop within 0.3s; killing it');
  });
});

describe('wharf supervise', () => {
  const execFileAsync = promisify(execFile);

  beforeAll(async () => {
    await execFileAsync('npx', ['tsc', '-b', 'apps/cli'], { cwd: ROOT });
  }, 300_000);

  it('forwards SIGTERM to the command, then exits 0 without pid files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-supervise-cli-'));
    try {
      const script =
        'process.on("SIGTERM", () => { console.log("child got SIGTERM"); process.exit(0); }); console.log("ready"); setInterval(() => {}, 1000);';
      const supervisor = spawn(
        process.execPath,
        [
          CLI,
          'supervise',
          '--name',
          'demo',
          '--run-dir',
          dir,
          '--log-file',
          join(dir, 'demo.log'),
          '--',
          process.execPath,
          '-e',
          script,
        ],
        { stdio: 'ignore' },
      );
      const exited = new Promise<number | null>((resolve) => supervisor.once('exit', (code) => resolve(code)));
      const childPid = await until('the child pid file', () =>
        existsSync(join(dir, 'demo.pid')) ? Number(readFileSync(join(dir, 'demo.pid'), 'utf8')) : undefined,
      );
      expect(Number(readFileSync(join(dir, 'demo.supervisor.pid'), 'utf8'))).toBe(supervisor.pid);
      await until('the child to handle signals', () =>
        readFileSync(join(dir, 'demo.log'), 'utf8').includes('ready') ? true : undefined,
      );
      supervisor.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(alive(childPid)).toBe(false);
      expect(readFileSync(join(dir, 'demo.log'), 'utf8')).toContain('child got SIGTERM');
      expect(existsSync(join(dir, 'demo.pid'))).toBe(false);
      expect(existsSync(join(dir, 'demo.supervisor.pid'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown stop signal', async () => {
    const failure = await execFileAsync(process.execPath, [
      CLI,
      'supervise',
      '--name',
      'demo',
      '--run-dir',
      tmpdir(),
      '--log-file',
      join(tmpdir(), 'never.log'),
      '--stop-signal',
      'SIGNOPE',
      '--',
      'true',
    ]).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown signal') });
  });
});
