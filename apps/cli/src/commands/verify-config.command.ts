import { type Command } from 'commander';
import { ConfigError, loadConfig } from '@wharf/config';
import { ExitCode } from '../exit-codes.js';

interface VerifyConfigOptions {
  env: boolean;
}

/** Checks configuration files the way the servers read them at start, environment overrides included. */
export function registerVerifyConfigCommand(program: Command): void {
  program
    .command('verify-config')
    .description('validate harbor.yml files and name every invalid or unknown key')
    .argument('<file...>', 'configuration files to check')
    .option('--no-env', 'ignore WHARF__* environment overrides and check the files alone')
    .action((files: string[], options: VerifyConfigOptions) => {
      const env = options.env ? process.env : {};
      let failed = false;
      for (const file of files) {
        try {
          const { warnings } = loadConfig(file, env);
          console.log(`${file}: OK`);
          for (const warning of warnings) console.error(`${file}: warning: ${warning}`);
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          console.error(error.message);
          failed = true;
        }
      }
      if (failed) process.exitCode = ExitCode.Failure;
    });
}
