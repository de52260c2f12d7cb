import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Tags get what Harbor's API shows of them: an id of their own, kept while the tag is moved to another artifact,
 * and the time of the tag's latest pull (recorded from pull events, in batches, like an artifact's). Existing tags
 * are numbered when the column is added.
 */
export class TagIdPullTime1765100000000 implements MigrationInterface {
  name = 'TagIdPullTime1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE registry_tag ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY, ADD COLUMN pull_time timestamptz`,
    );
    await q.query(`CREATE UNIQUE INDEX registry_tag_id_key ON registry_tag (id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS registry_tag_id_key`);
    await q.query(`ALTER TABLE registry_tag DROP COLUMN IF EXISTS pull_time, DROP COLUMN IF EXISTS id`);
  }
}
