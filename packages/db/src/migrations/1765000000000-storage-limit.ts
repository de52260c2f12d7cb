import { type MigrationInterface, type QueryRunner } from 'typeorm';
import { STORAGE_LIMIT_SQLSTATE } from '../storage-limit.js';

/**
 * The storage limit is enforced where usage is counted. The registry's policy check before a push refuses what is
 * visibly over the limit, but two pushes into one project that each fit and not together could both pass it; the
 * usage trigger now refuses the one that would cross the limit, in the transaction that stores it. Both add to the
 * project's quota row, so the second waits for the first and sees its usage. A blob that was already in the project
 * adds nothing and is never refused, even when the limit has been lowered below the usage.
 */
export class StorageLimit1765000000000 implements MigrationInterface {
  name = 'StorageLimit1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION wharf_project_blob_add(p integer, d text, s bigint) RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        first_reference boolean;
        now_used bigint;
        hard bigint;
      BEGIN
        INSERT INTO project_blob AS b (project_id, digest, size, refs) VALUES (p, d, s, 1)
          ON CONFLICT (project_id, digest) DO UPDATE SET refs = b.refs + 1
          RETURNING b.refs = 1 INTO first_reference;
        IF first_reference THEN
          UPDATE quota SET used_storage = used_storage + s WHERE project_id = p
            RETURNING used_storage, hard_storage INTO now_used, hard;
          IF hard IS NOT NULL AND hard >= 0 AND s > 0 AND now_used > hard THEN
            RAISE EXCEPTION 'storage limit of project % exceeded', p
              USING ERRCODE = '${STORAGE_LIMIT_SQLSTATE}',
                    DETAIL = json_build_object('adding', s, 'used', now_used - s, 'limit', hard)::text;
          END IF;
        END IF;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION wharf_project_blob_add(p integer, d text, s bigint) RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        first_reference boolean;
      BEGIN
        INSERT INTO project_blob AS b (project_id, digest, size, refs) VALUES (p, d, s, 1)
          ON CONFLICT (project_id, digest) DO UPDATE SET refs = b.refs + 1
          RETURNING b.refs = 1 INTO first_reference;
        IF first_reference THEN
          UPDATE quota SET used_storage = used_storage + s WHERE project_id = p;
        END IF;
      END $$`);
  }
}
