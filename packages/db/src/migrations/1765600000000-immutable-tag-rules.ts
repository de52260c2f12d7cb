import { type MigrationInterface, type QueryRunner } from 'typeorm';

/** The NOTIFY channel that tells every process that a project's tag immutability rules changed. */
export const IMMUTABLE_RULE_CHANGE_CHANNEL = 'wharf_immutable_rules';

/**
 * Harbor's tag immutability rules, per project: a tag selector and a repository selector (Harbor's doublestar
 * selectors, kept as given), a priority, and whether the rule is disabled. A project holds a rule of given selectors
 * once. A change to the rules is announced by a trigger, so every process drops the rules it keeps for the pushes.
 */
export class ImmutableTagRules1765600000000 implements MigrationInterface {
  name = 'ImmutableTagRules1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE immutable_tag_rule (
        id serial PRIMARY KEY,
        project_id integer NOT NULL REFERENCES project(project_id) ON DELETE CASCADE,
        priority integer NOT NULL DEFAULT 0,
        disabled boolean NOT NULL DEFAULT false,
        tag_selectors jsonb NOT NULL,
        scope_selectors jsonb NOT NULL,
        creation_time timestamptz NOT NULL DEFAULT now(),
        UNIQUE (project_id, tag_selectors, scope_selectors)
      )`);
    await q.query(`
      CREATE FUNCTION wharf_immutable_rules_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('${IMMUTABLE_RULE_CHANGE_CHANNEL}', '');
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER immutable_tag_rule_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON immutable_tag_rule
        FOR EACH STATEMENT EXECUTE FUNCTION wharf_immutable_rules_changed()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS immutable_tag_rule`);
    await q.query(`DROP FUNCTION IF EXISTS wharf_immutable_rules_changed()`);
  }
}
