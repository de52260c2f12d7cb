import { type MigrationInterface, type QueryRunner } from 'typeorm';

/** The NOTIFY channel that tells every process that who may do what in which project may have changed. */
export const ACCESS_CHANGE_CHANNEL = 'wharf_access';

/**
 * A change notice, from the database itself, on every change to what decides a registry token's worth: an account
 * deleted or its admin flag changed, a project created, renamed, deleted or made private, a membership or role
 * changed, a robot disabled, expired, deleted or its permissions changed. Triggers rather than application code, so
 * that a change made by any process, or by hand in SQL, reaches the caches of every server. Statement-level: one
 * notice per statement, and PostgreSQL folds equal notices of a transaction into one, delivered at commit.
 */
export class AccessChangeNotice1765216000000 implements MigrationInterface {
  name = 'AccessChangeNotice1765216000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION wharf_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('${ACCESS_CHANGE_CHANNEL}', '');
        RETURN NULL;
      END $$`);
    const triggers: [table: string, events: string][] = [
      ['wharf_user', 'UPDATE OF sysadmin_flag OR DELETE OR TRUNCATE'],
      ['project', 'INSERT OR UPDATE OF name OR DELETE OR TRUNCATE'],
      ['project_metadata', 'INSERT OR UPDATE OR DELETE OR TRUNCATE'],
      ['project_member', 'INSERT OR UPDATE OR DELETE OR TRUNCATE'],
      ['robot', 'UPDATE OR DELETE OR TRUNCATE'],
      ['robot_permission', 'INSERT OR UPDATE OR DELETE OR TRUNCATE'],
    ];
    for (const [table, events] of triggers) {
      await q.query(
        `CREATE TRIGGER ${table}_access_changed AFTER ${events} ON ${table}
           FOR EACH STATEMENT EXECUTE FUNCTION wharf_access_changed()`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['wharf_user', 'project', 'project_metadata', 'project_member', 'robot', 'robot_permission']) {
      await q.query(`DROP TRIGGER IF EXISTS ${table}_access_changed ON ${table}`);
    }
    await q.query(`DROP FUNCTION IF EXISTS wharf_access_changed()`);
  }
}
