import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Online garbage collection. Each blob row carries its collection state: 'none', 'delete' (marked by a collection
 * as unreferenced; any push that uses the blob puts it back to 'none'), or 'deleting' (its bytes may be gone: the
 * data path treats it as absent, and only the collector deletes it, bytes first, then the row). `touched_at` is when
 * a push last stored or linked the blob; collection keeps blobs touched within its time window. Existing rows start
 * at the migration's time. The partial index finds the few rows a collection is working on.
 */
export class BlobGcState1765500000000 implements MigrationInterface {
  name = 'BlobGcState1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE registry_blob
        ADD COLUMN gc_state text NOT NULL DEFAULT 'none' CHECK (gc_state IN ('none', 'delete', 'deleting')),
        ADD COLUMN touched_at timestamptz NOT NULL DEFAULT now()`);
    await q.query(`CREATE INDEX registry_blob_gc_state_idx ON registry_blob (gc_state) WHERE gc_state <> 'none'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS registry_blob_gc_state_idx`);
    await q.query(`ALTER TABLE registry_blob DROP COLUMN IF EXISTS touched_at, DROP COLUMN IF EXISTS gc_state`);
  }
}
