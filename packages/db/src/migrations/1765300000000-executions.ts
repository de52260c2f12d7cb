import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Background work is recorded as executions (one per run of a feature: a GC, a retention run, a scan-all) made of
 * tasks (one per job the runner executes), with Harbor's shapes. A task's status code orders its statuses
 * (Pending 0 < Scheduled 1 < Running 2 < Stopped | Error | Success 3) so that a late or repeated status report
 * never moves a task backwards. Task logs live in their own table, bounded by the repository that writes them.
 */
export class Executions1765300000000 implements MigrationInterface {
  name = 'Executions1765300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE execution (
        id bigserial PRIMARY KEY,
        vendor_type varchar(64) NOT NULL,
        vendor_id bigint NOT NULL DEFAULT -1,
        status varchar(16) NOT NULL
          CHECK (status IN ('Pending', 'Scheduled', 'Running', 'Stopped', 'Error', 'Success')),
        status_message text NOT NULL DEFAULT '',
        trigger varchar(16) NOT NULL CHECK (trigger IN ('MANUAL', 'SCHEDULE', 'EVENT')),
        extra_attrs jsonb NOT NULL DEFAULT '{}',
        start_time timestamptz NOT NULL DEFAULT now(),
        update_time timestamptz NOT NULL DEFAULT now(),
        end_time timestamptz
      )`);
    // Lists by vendor type, with or without a vendor id, newest first; the sweep ranks final ones by the same order.
    await q.query(`CREATE INDEX execution_vendor_idx ON execution (vendor_type, vendor_id, start_time DESC, id DESC)`);
    await q.query(`CREATE INDEX execution_type_idx ON execution (vendor_type, start_time DESC, id DESC)`);
    await q.query(`
      CREATE TABLE task (
        id bigserial PRIMARY KEY,
        execution_id bigint NOT NULL REFERENCES execution (id) ON DELETE CASCADE,
        job_id varchar(64),
        status varchar(16) NOT NULL
          CHECK (status IN ('Pending', 'Scheduled', 'Running', 'Stopped', 'Error', 'Success')),
        status_code smallint NOT NULL CHECK (status_code BETWEEN 0 AND 3),
        status_revision bigint NOT NULL DEFAULT 0,
        status_message text NOT NULL DEFAULT '',
        run_count integer NOT NULL DEFAULT 0,
        extra_attrs jsonb NOT NULL DEFAULT '{}',
        creation_time timestamptz NOT NULL DEFAULT now(),
        start_time timestamptz,
        update_time timestamptz NOT NULL DEFAULT now(),
        end_time timestamptz
      )`);
    // Serves the task list of an execution (by id) and the cascade from a deleted execution.
    await q.query(`CREATE INDEX task_execution_idx ON task (execution_id, id)`);
    // Serves the per-status metrics of an execution and the status filter of its task list.
    await q.query(`CREATE INDEX task_execution_status_idx ON task (execution_id, status)`);
    await q.query(`CREATE INDEX task_job_idx ON task (job_id) WHERE job_id IS NOT NULL`);
    await q.query(`
      CREATE TABLE task_log (
        task_id bigint PRIMARY KEY REFERENCES task (id) ON DELETE CASCADE,
        content text NOT NULL,
        dropped bigint NOT NULL DEFAULT 0,
        update_time timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS task_log`);
    await q.query(`DROP TABLE IF EXISTS task`);
    await q.query(`DROP TABLE IF EXISTS execution`);
  }
}
