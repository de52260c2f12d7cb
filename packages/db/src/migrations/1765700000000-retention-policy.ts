import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Tag retention policies, one per project at most, with Harbor's model: the algorithm, rules and trigger are kept
 * as the API validated them (a document the engine reads whole), the project they apply to as a column. The
 * project's `retention_id` metadata names its policy, as in Harbor; deleting the project deletes both.
 */
export class RetentionPolicy1765700000000 implements MigrationInterface {
  name = 'RetentionPolicy1765700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE retention_policy (
        id bigserial PRIMARY KEY,
        project_id integer NOT NULL UNIQUE REFERENCES project (project_id) ON DELETE CASCADE,
        algorithm varchar(16) NOT NULL CHECK (algorithm = 'or'),
        rules jsonb NOT NULL CHECK (jsonb_typeof(rules) = 'array' AND jsonb_array_length(rules) <= 15),
        trigger jsonb NOT NULL CHECK (jsonb_typeof(trigger) = 'object'),
        creation_time timestamptz NOT NULL DEFAULT now(),
        update_time timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM project_metadata WHERE name = 'retention_id'`);
    await q.query(`DROP TABLE IF EXISTS retention_policy`);
  }
}
