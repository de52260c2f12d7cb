import { type ChildProcess, spawn } from 'node:child_process';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { type RotatingLog } from './rotating-log.js';

export interface SupervisorOptions {
  /** Name of the supervised component, used in messages. */
  name: string;
  command: string;
  args: string[];
  /** Holds the child's pid while it runs. */
  pidFile: string;
  /** Holds the supervisor's own pid while it runs. */
  supervisorPidFile: string;
  /** Receives the child's standard output and error and the supervisor's own messages. */
  log: RotatingLog;
  /** What the child is sent to stop (PostgreSQL shuts down fast on SIGINT). */
  stopSignal: NodeJS.Signals;
  /** After this long the child is killed. */
  stopTimeoutMs: number;
  /** First delay before a restart; it doubles after each quick failure, up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A child that ran this long counts as having started well: the next restart waits minBackoffMs again. */
  stableAfterMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface Supervisor {
  /** Pid of the current child; undefined between a crash and its restart. */
  readonly childPid: number | undefined;
  /** Stops the child (stop signal, then SIGKILL after the timeout) and ends supervision. */
  stop(): Promise<void>;
  /** Settles once supervision has ended. */
  readonly done: Promise<void>;
}

function writePidFile(path: string, pid: number): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${pid}\n`, { mode: 0o644 });
  renameSync(temporary, path);
}

function removePidFile(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // A pid file that cannot be removed names a process that no longer runs; readers check that it is alive.
  }
}

/**
 * Runs one command, restarts it whenever it exits (after a delay that grows while it keeps failing quickly), and
 * stops it on request. Pid files name the supervisor and the current child, so status and stop tools can find them.
 */
export function supervise(options: SupervisorOptions): Supervisor {
  const minBackoffMs = options.minBackoffMs ?? 1_000;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const stableAfterMs = options.stableAfterMs ?? 60_000;
  let backoffMs = minBackoffMs;
  let child: ChildProcess | undefined;
  let childExited: Promise<void> = Promise.resolve();
  let restartTimer: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));

  // The log never throws (RotatingLog drops what it cannot write); this guard keeps it so for any other log.
  const writeLog = (chunk: Buffer | string) => {
    try {
      options.log.write(chunk);
    } catch {
      // Losing a log line must never end supervision.
    }
  };

  const note = (level: 'info' | 'warn' | 'error', msg: string, extra: Record<string, unknown> = {}) => {
    const numeric = { info: 30, warn: 40, error: 50 }[level];
    const line = {
      level: numeric,
      time: Date.now(),
      pid: process.pid,
      name: 'wharf-supervisor',
      component: options.name,
    };
    writeLog(`${JSON.stringify({ ...line, ...extra, msg })}\n`);
  };

  const launch = () => {
    restartTimer = undefined;
    const startedAt = Date.now();
    const started = spawn(options.command, options.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    child = started;
    started.stdout?.on('data', writeLog);
    started.stderr?.on('data', writeLog);
    let settled = false;
    let resolveExit: () => void = () => undefined;
    childExited = new Promise<void>((resolve) => (resolveExit = resolve));
    const onEnd = (description: string) => {
      if (settled) return;
      settled = true;
      child = undefined;
      removePidFile(options.pidFile);
      resolveExit();
      if (stopping) {
        note('info', `${options.name} stopped (${description})`);
        return;
      }
      const ranMs = Date.now() - startedAt;
      if (ranMs >= stableAfterMs) backoffMs = minBackoffMs;
      const delay = backoffMs;
      backoffMs = Math.min(backoffMs * 2, maxBackoffMs);
      note(
        'error',
        `${options.name} ${description} after ${Math.round(ranMs / 1000)}s; restarting in ${delay / 1000}s`,
      );
      restartTimer = setTimeout(launch, delay);
    };
    started.once('error', (error) => onEnd(`could not be started: ${error.message}`));
    started.once('exit', (code, signal) =>
      onEnd(signal === null ? `exited with code ${code}` : `was killed by ${signal}`),
    );
    if (started.pid !== undefined) {
      try {
        writePidFile(options.pidFile, started.pid);
      } catch (error) {
        note('error', `cannot write the pid file ${options.pidFile}: ${(error as Error).message}`);
      }
      note('info', `started ${options.name}`, { childPid: started.pid });
    }
  };

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (restartTimer) clearTimeout(restartTimer);
      const current = child;
      if (current?.pid !== undefined) {
        note('info', `stopping ${options.name} with ${options.stopSignal}`);
        current.kill(options.stopSignal);
        const killTimer = setTimeout(() => {
          note('warn', `${options.name} did not stop within ${options.stopTimeoutMs / 1000}s; killing it`);
          current.kill('SIGKILL');
        }, options.stopTimeoutMs);
        await childExited;
        clearTimeout(killTimer);
      }
      removePidFile(options.pidFile);
      removePidFile(options.supervisorPidFile);
      finish();
    })();
    return stopping;
  };

  writePidFile(options.supervisorPidFile, process.pid);
  launch();
  return {
    get childPid() {
      return child?.pid;
    },
    stop,
    done,
  };
}
