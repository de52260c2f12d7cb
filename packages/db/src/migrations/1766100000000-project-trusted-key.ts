import { type MigrationInterface, type QueryRunner } from 'typeorm';

/** The NOTIFY channel that tells every process that a project's trusted signing keys changed. */
export const TRUSTED_KEY_CHANGE_CHANNEL = 'wharf_trusted_key';

/**
 * The public keys a project trusts for content trust: cosign public keys and notation trust-store certificates (PEM).
 * When a project holds keys of a type, only a signature of that type that verifies against one of them lets a pull
 * through. A change notice from the database itself, so every process drops its cached keys and verdicts.
 */
export class ProjectTrustedKey1766100000000 implements MigrationInterface {
  name = 'ProjectTrustedKey1766100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE project_trusted_key (
        id serial PRIMARY KEY,
        project_id integer NOT NULL REFERENCES project (project_id) ON DELETE CASCADE,
        type text NOT NULL CHECK (type IN ('cosign', 'notation')),
        name text NOT NULL,
        pem text NOT NULL,
        fingerprint text NOT NULL,
        creation_time timestamptz NOT NULL DEFAULT now(),
        UNIQUE (project_id, type, fingerprint)
      )`);
    await q.query(`
      CREATE FUNCTION wharf_trusted_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('${TRUSTED_KEY_CHANGE_CHANNEL}', '');
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER project_trusted_key_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON project_trusted_key
        FOR EACH STATEMENT EXECUTE FUNCTION wharf_trusted_key_changed()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER IF EXISTS project_trusted_key_changed ON project_trusted_key`);
    await q.query(`DROP FUNCTION IF EXISTS wharf_trusted_key_changed()`);
    await q.query(`DROP TABLE IF EXISTS project_trusted_key`);
  }
}
