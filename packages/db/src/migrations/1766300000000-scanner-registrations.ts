import { type MigrationInterface, type QueryRunner } from 'typeorm';

/** The URL of the built-in scanner's registration: not an address, the name of the Trivy binary run by Wharf. */
export const BUILT_IN_SCANNER_URL = 'builtin:trivy';

/**
 * Harbor's scanner registrations: the scanners Wharf may ask, by Harbor's Scanner Adapter API v1 (external adapters)
 * or in-process (the built-in Trivy scanner, registered here as `Trivy`, immutable and the default). At most one
 * registration is the default; a name and a URL are each used once, as in Harbor. The access credential is kept encrypted (AES-256-GCM with the
 * install's encryption key: IV, tag and ciphertext), never in clear. A project may be bound to one registration;
 * a project without one uses the default.
 */
export class ScannerRegistrations1766300000000 implements MigrationInterface {
  name = 'ScannerRegistrations1766300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE scanner_registration (
        id serial PRIMARY KEY,
        uuid text NOT NULL UNIQUE,
        name text NOT NULL UNIQUE,
        description text NOT NULL DEFAULT '',
        url text NOT NULL UNIQUE,
        disabled boolean NOT NULL DEFAULT false,
        is_default boolean NOT NULL DEFAULT false,
        skip_cert_verify boolean NOT NULL DEFAULT false,
        auth text NOT NULL DEFAULT '',
        access_credential bytea,
        use_internal_addr boolean NOT NULL DEFAULT false,
        immutable boolean NOT NULL DEFAULT false,
        create_time timestamptz NOT NULL DEFAULT now(),
        update_time timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX scanner_registration_default ON scanner_registration ((true)) WHERE is_default`);
    await q.query(`
      CREATE TABLE project_scanner (
        project_id integer PRIMARY KEY REFERENCES project(project_id) ON DELETE CASCADE,
        registration_id integer NOT NULL REFERENCES scanner_registration(id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX project_scanner_registration ON project_scanner (registration_id)`);
    await q.query(
      `INSERT INTO scanner_registration (uuid, name, description, url, is_default, immutable)
       VALUES (gen_random_uuid()::text, 'Trivy', $1, $2, true, true)`,
      [
        'The built-in scanner: the trivy binary, run by Wharf against artifacts of its own registry.',
        BUILT_IN_SCANNER_URL,
      ],
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS project_scanner`);
    await q.query(`DROP TABLE IF EXISTS scanner_registration`);
  }
}
