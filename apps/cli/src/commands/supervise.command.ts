import { writeSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { RotatingLog } from '../supervisor/rotating-log.js';
import { supervise } from '../supervisor/supervisor.js';

interface SuperviseOptions {
  name: string;
  runDir: string;
  logFile: string;
  rotateSize: number;
  rotateCount: number;
  stopSignal: NodeJS.Signals;
  stopTimeout: number;
}

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer between ${min} and ${max}`);
    }
    return n;
  };
}

function componentName(value: string): string {
  if (!/^[a-z][a-z0-9-]{0,39}$/.test(value)) {
    throw new InvalidArgumentError('expected lower-case letters, digits and dashes, starting with a letter');
  }
  return value;
}

function signalName(value: string): NodeJS.Signals {
  const name = value.toUpperCase().startsWith('SIG') ? value.toUpperCase() : `SIG${value.toUpperCase()}`;
  if (!Object.hasOwn(constants.signals, name)) throw new InvalidArgumentError('unknown signal');
  return name as NodeJS.Signals;
}

/**
 * Keeps one process running: what install.sh uses where systemd does not run. It restarts the process whenever it
 * exits, with a growing delay while it keeps failing, writes its output to a size-rotated log, and on SIGTERM or
 * SIGINT stops it and exits. `<run-dir>/<name>.pid` holds the process's pid, `<name>.supervisor.pid` its own.
 */
export function registerSuperviseCommand(program: Command): void {
  program
    .command('supervise')
    .description('run a command, restart it when it exits, and log its output with rotation')
    .argument('<command...>', 'the command to supervise, after --')
    .requiredOption('--name <name>', 'name of the component (pid files and messages)', componentName)
    .requiredOption('--run-dir <dir>', 'directory of the pid files')
    .requiredOption('--log-file <file>', 'log file of the command')
    .option('--rotate-size <bytes>', 'rotate the log once it reaches this size', integer(1024, 2 ** 50), 200 * 2 ** 20)
    .option('--rotate-count <n>', 'rotated log files kept', integer(0, 100000), 50)
    .addOption(
      new Option('--stop-signal <signal>', 'signal that stops the command').default('SIGTERM').argParser(signalName),
    )
    .option('--stop-timeout <seconds>', 'kill the command if it has not stopped after this long', integer(1, 3600), 60)
    .action(async (command: string[], options: SuperviseOptions) => {
      const log = new RotatingLog(options.logFile, {
        maxBytes: options.rotateSize,
        keep: options.rotateCount,
        // Reported on the supervisor's own standard error (install.sh keeps it in <run-dir>/<name>.supervisor.out).
        onError: (error) => {
          const message =
            error === undefined
              ? `${options.logFile}: writing works again\n`
              : `${options.logFile}: cannot write the log (${error.message}); output is dropped until it works again\n`;
          try {
            writeSync(2, `wharf supervise ${options.name}: ${message}`);
          } catch {
            // Nowhere left to say it.
          }
        },
      });
      const supervisor = supervise({
        name: options.name,
        command: command[0],
        args: command.slice(1),
        pidFile: join(options.runDir, `${options.name}.pid`),
        supervisorPidFile: join(options.runDir, `${options.name}.supervisor.pid`),
        log,
        stopSignal: options.stopSignal,
        stopTimeoutMs: options.stopTimeout * 1000,
      });
      const stop = () => void supervisor.stop();
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      // Detached from any terminal; a hang-up must not end supervision.
      process.on('SIGHUP', () => undefined);
      await supervisor.done;
      log.close();
    });
}
