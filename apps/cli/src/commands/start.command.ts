import { type Command, InvalidArgumentError } from 'commander';
import { type WharfConfig, loadConfig } from '@wharf/config';

/** A running component: where it listens (if it does), and how to stop it cleanly. */
interface Running {
  url?: string;
  close(): Promise<void>;
  /** Reads the TLS certificate and key again (core); it logs the outcome itself. */
  reloadCertificate?(): Promise<void>;
}

// Each component is loaded only when started: the other commands need none of them, and core brings in NestJS.
const COMPONENTS = {
  /** The control plane: the API, the token service and the registry at /v2. */
  core: async (config: WharfConfig): Promise<Running> => (await import('@wharf/core')).startCoreServer(config),
  /** The registry engine alone, as `registry:2` is used. */
  registry: async (config: WharfConfig): Promise<Running> =>
    (await import('@wharf/registry-app')).startRegistryServer(config),
  /** The background worker (it listens on no port). */
  jobservice: async (config: WharfConfig): Promise<Running> =>
    (await import('@wharf/jobservice')).startJobService(config),
} as const;
type Component = keyof typeof COMPONENTS;
const NAMES = Object.keys(COMPONENTS) as Component[];

interface StartOptions {
  config: string;
}

function parseComponent(value: string): Component {
  if ((NAMES as string[]).includes(value)) return value as Component;
  throw new InvalidArgumentError(`unknown component; choose one of: ${NAMES.join(', ')}`);
}

/**
 * Runs a component in the foreground until SIGTERM or SIGINT, then shuts it down cleanly. SIGHUP makes core read its
 * certificate and key again, as a web server reloads its configuration on it.
 */
export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('run a Wharf component in the foreground')
    .argument('<component>', `what to run: ${NAMES.join(', ')}`, parseComponent)
    .requiredOption('-c, --config <file>', 'harbor.yml')
    .action(async (component: Component, options: StartOptions) => {
      const { config, warnings } = loadConfig(options.config);
      for (const warning of warnings) console.error(`wharf: warning: ${warning}`);
      const server = await COMPONENTS[component](config);
      console.error(
        server.url === undefined ? `wharf ${component} running` : `wharf ${component} listening on ${server.url}`,
      );
      const reload = server.reloadCertificate?.bind(server);
      if (reload) {
        // A failed reload keeps the certificate being served, and the component has logged why.
        process.on('SIGHUP', () => void reload().catch(() => undefined));
      }
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: NodeJS.Signals) => {
          if (stopping) return;
          stopping = true;
          console.error(`wharf ${component}: ${signal} received, shutting down`);
          server.close().then(resolve, (error: unknown) => {
            console.error(`wharf ${component}: shutdown failed: ${(error as Error).message}`);
            process.exitCode = 1;
            resolve();
          });
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
}
