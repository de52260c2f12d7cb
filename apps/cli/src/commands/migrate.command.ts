import { type Command } from 'commander';
import { loadConfig } from '@wharf/config';

interface MigrateOptions {
  config: string;
}

/** Brings the database schema up to date; safe to run again (it applies only what is pending). */
export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations')
    .requiredOption('-c, --config <file>', 'harbor.yml to read the database settings from')
    .action(async (options: MigrateOptions) => {
      const { config } = loadConfig(options.config);
      // Loaded here: TypeORM takes a while to load, and the other commands do not need it.
      const { createDataSource, runMigrations } = await import('@wharf/db');
      const dataSource = createDataSource({ ...config.database, applicationName: 'wharf-migrate' });
      await dataSource.initialize();
      try {
        const ran = await runMigrations(dataSource);
        if (ran.length === 0) console.log('database schema is up to date');
        for (const name of ran) console.log(`applied ${name}`);
      } finally {
        await dataSource.destroy();
      }
    });
}
