import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * An upload's write lease names the process that holds it (see UploadLeaseHolder), so that a lease whose process has
 * died is taken over at once instead of blocking the upload until it expires. Leases taken before this column
 * existed name no process and keep expiring as before.
 */
export class UploadLeaseHolder1765230000000 implements MigrationInterface {
  name = 'UploadLeaseHolder1765230000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE registry_upload ADD COLUMN lease_holder integer`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE registry_upload DROP COLUMN IF EXISTS lease_holder`);
  }
}
