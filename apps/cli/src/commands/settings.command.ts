import { type Command } from 'commander';
import { type WharfConfig, loadConfig } from '@wharf/config';

interface SettingsOptions {
  config: string;
  withSecrets: boolean;
}

/** The settings install.sh acts on, as NAME=value lines. */
export function installSettings(config: WharfConfig, withSecrets: boolean): [string, string][] {
  const settings: [string, string | number | boolean | undefined][] = [
    ['HOSTNAME', config.hostname],
    ['EXTERNAL_URL', config.externalUrl],
    ['HTTP_HOST', config.http.host],
    ['HTTP_PORT', config.http.port],
    ['HTTPS_PORT', config.https?.port],
    ['HTTPS_CERTIFICATE', config.https?.certificateFile],
    ['HTTPS_PRIVATE_KEY', config.https?.privateKeyFile],
    ['DATA_VOLUME', config.dataVolume],
    ['STORAGE_ROOT', config.storage.driver === 'filesystem' ? config.storage.rootDirectory : undefined],
    ['LOG_LOCATION', config.log.location],
    ['LOG_ROTATE_SIZE', config.log.rotateSizeBytes],
    ['LOG_ROTATE_COUNT', config.log.rotateCount],
    ['DATABASE_EXTERNAL', config.database.external],
    ['DATABASE_HOST', config.database.host],
    ['DATABASE_PORT', config.database.port],
    ['DATABASE_NAME', config.database.database],
    ['DATABASE_USER', config.database.username],
    ['DATABASE_PASSWORD', withSecrets ? config.database.password : undefined],
    ['ADMIN_PASSWORD', withSecrets ? config.adminPassword : undefined],
    ['REDIS_EXTERNAL', config.redis.external],
    ['REDIS_HOST', config.redis.host],
    ['REDIS_PORT', config.redis.port],
  ];
  return settings.map(([name, value]) => {
    const text = value === undefined ? '' : String(value);
    // One setting per line: a value that spans lines could smuggle in another setting.
    if (/[\r\n\0]/.test(text)) throw new Error(`${name}: the value contains a line break, which install.sh cannot use`);
    return [name, text];
  });
}

/** Prints what install.sh needs from harbor.yml, validated and with defaults applied, one NAME=value per line. */
export function registerSettingsCommand(program: Command): void {
  program
    .command('install-settings')
    .description('print the settings install.sh uses, as NAME=value lines')
    .requiredOption('-c, --config <file>', 'harbor.yml')
    .option('--with-secrets', 'include the embedded database password and harbor_admin_password', false)
    .action((options: SettingsOptions) => {
      const { config } = loadConfig(options.config);
      for (const [name, value] of installSettings(config, options.withSecrets)) console.log(`${name}=${value}`);
    });
}
