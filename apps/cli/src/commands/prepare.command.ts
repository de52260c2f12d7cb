import { type Command } from 'commander';
import { loadConfig } from '@wharf/config';

interface PrepareOptions {
  config: string;
}

/**
 * Creates `<data_volume>/secret` and every secret Wharf needs, once: session and encryption keys, the token signing
 * key and, with the embedded Redis, its password. Existing secrets are kept as they are. install.sh runs it as the
 * user the services run as.
 */
export function registerPrepareCommand(program: Command): void {
  program
    .command('prepare')
    .description('create the secret directory and every secret under data_volume (never overwrites)')
    .requiredOption('-c, --config <file>', 'harbor.yml')
    .action(async (options: PrepareOptions) => {
      const { config } = loadConfig(options.config);
      const { prepareSecrets } = await import('@wharf/core');
      for (const secret of await prepareSecrets(config)) {
        console.log(`${secret.created ? 'created' : 'kept'} ${secret.path}`);
      }
    });
}
