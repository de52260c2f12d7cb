import { type Command } from 'commander';
import { loadConfig } from '@wharf/config';

interface AdminPasswordOptions {
  config: string;
}

/** What `wharf admin-password` prints: whether `admin` still logs in with harbor_admin_password. */
export type AdminPasswordState = 'initial' | 'changed' | 'absent';

const ADMIN = 'admin';

/**
 * Prints `initial` while the `admin` user's password is still harbor_admin_password, `changed` once it is another,
 * and `absent` before core has created the user. install.sh keeps showing where the initial password is until it
 * has been changed. Reads the database; runs as the user the services run as.
 */
export function registerAdminPasswordCommand(program: Command): void {
  program
    .command('admin-password')
    .description("tell whether the admin user's password is still harbor_admin_password (initial, changed, absent)")
    .requiredOption('-c, --config <file>', 'harbor.yml')
    .action(async (options: AdminPasswordOptions) => {
      const { config } = loadConfig(options.config);
      const [{ createDataSource }, { verifyPassword }] = await Promise.all([
        import('@wharf/db'),
        import('@wharf/auth'),
      ]);
      const dataSource = createDataSource({ ...config.database, maxOpenConns: 1, applicationName: 'wharf-cli' });
      await dataSource.initialize();
      let state: AdminPasswordState;
      try {
        const rows = await dataSource.query<{ password_hash: string }[]>(
          'SELECT password_hash FROM wharf_user WHERE lower(username) = lower($1)',
          [ADMIN],
        );
        if (rows.length === 0) state = 'absent';
        else state = (await verifyPassword(config.adminPassword, rows[0].password_hash)) ? 'initial' : 'changed';
      } finally {
        await dataSource.destroy();
      }
      console.log(state);
    });
}
