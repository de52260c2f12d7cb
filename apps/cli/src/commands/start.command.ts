import { type Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '@wharf/config';
import { startRegistryServer } from '@wharf/registry-app';

const COMPONENTS = ['registry'] as const;
type Component = (typeof COMPONENTS)[number];

interface StartOptions {
  config: string;
}

function parseComponent(value: string): Component {
  if ((COMPONENTS as readonly string[]).includes(value)) return value as Component;
  throw new InvalidArgumentError(`unknown component; choose one of: ${COMPONENTS.join(', ')}`);
}

/** Runs a component in the foreground until SIGTERM or SIGINT, then shuts it down cleanly. */
export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('run a Wharf component in the foreground')
    .argument('<component>', `what to run: ${COMPONENTS.join(', ')}`, parseComponent)
    .requiredOption('-c, --config <file>', 'harbor.yml')
    .action(async (_component: Component, options: StartOptions) => {
      const { config, warnings } = loadConfig(options.config);
      for (const warning of warnings) console.error(`wharf: warning: ${warning}`);
      const server = await startRegistryServer(config);
      console.error(`wharf registry listening on ${server.url}`);
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: NodeJS.Signals) => {
          if (stopping) return;
          stopping = true;
          console.error(`wharf registry: ${signal} received, shutting down`);
          server.close().then(resolve, (error: unknown) => {
            console.error(`wharf registry: shutdown failed: ${(error as Error).message}`);
            process.exitCode = 1;
            resolve();
          });
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
}
