import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Schedules of background work, as Harbor keeps them: what runs (a vendor type and id, such as GARBAGE_COLLECTION
 * or a retention policy), when (Harbor's schedule type and a 6-field cron whose seconds field is 0), and with which
 * parameters. The job queue's schedulers are made from these rows, never the other way round, so a Redis that lost
 * its data gets every schedule back.
 */
export class Schedules1765800000000 implements MigrationInterface {
  name = 'Schedules1765800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE schedule (
        id bigserial PRIMARY KEY,
        vendor_type varchar(64) NOT NULL,
        vendor_id bigint NOT NULL DEFAULT -1,
        cron_type varchar(16) NOT NULL CHECK (cron_type IN ('Hourly', 'Daily', 'Weekly', 'Custom')),
        cron varchar(128) NOT NULL,
        extra_attrs jsonb NOT NULL DEFAULT '{}',
        creation_time timestamptz NOT NULL DEFAULT now(),
        update_time timestamptz NOT NULL DEFAULT now(),
        UNIQUE (vendor_type, vendor_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS schedule`);
  }
}
