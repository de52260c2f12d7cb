import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerAdminPasswordCommand } from './commands/admin-password.command.js';
import { registerHealthCommand } from './commands/health.command.js';
import { registerMigrateCommand } from './commands/migrate.command.js';
import { registerPrepareCommand } from './commands/prepare.command.js';
import { registerSettingsCommand } from './commands/settings.command.js';
import { registerStartCommand } from './commands/start.command.js';
import { registerSuperviseCommand } from './commands/supervise.command.js';
import { registerVerifyConfigCommand } from './commands/verify-config.command.js';

/** Each command lives in commands/<name>.command.ts and registers itself on the program. */
const COMMANDS: ((program: Command) => void)[] = [
  registerVerifyConfigCommand,
  registerMigrateCommand,
  registerPrepareCommand,
  registerStartCommand,
  registerHealthCommand,
  registerSuperviseCommand,
  registerSettingsCommand,
  registerAdminPasswordCommand,
];

function packageVersion(): string {
  // package.json sits one level above both src/ and dist/, so the same URL works from either.
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  return typeof manifest.version === 'string' ? manifest.version : '0.0.0';
}

/**
 * The `wharf` program. Commander throws instead of exiting (exitOverride, inherited by every
 * command registered after it), so the caller decides the exit status of usage errors.
 */
export function createProgram(): Command {
  const program = new Command('wharf')
    .description('Wharf container registry platform')
    .version(packageVersion())
    .showHelpAfterError()
    .exitOverride();
  for (const register of COMMANDS) register(program);
  return program;
}
