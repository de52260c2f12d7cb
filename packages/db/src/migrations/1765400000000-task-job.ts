import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * A task keeps the job it runs (name and payload, without the task id), so that a task whose queued job was lost
 * with Redis can be queued again from PostgreSQL alone. Both stay null for tasks recorded without a job.
 */
export class TaskJob1765400000000 implements MigrationInterface {
  name = 'TaskJob1765400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE task ADD COLUMN job_name varchar(64), ADD COLUMN job_data jsonb`);
    // The reconciliation reads the unfinished tasks that have a job.
    await q.query(`CREATE INDEX task_unfinished_idx ON task (id) WHERE status_code < 3 AND job_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX task_unfinished_idx`);
    await q.query(`ALTER TABLE task DROP COLUMN job_name, DROP COLUMN job_data`);
  }
}
