import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * The registry's metadata: repositories, blobs stored once per digest and linked to the repositories that
 * hold them, manifests with their references and subjects, tags, resumable upload sessions, and the event
 * outbox. Names and tags sort byte-wise (COLLATE "C") because the spec orders them lexically.
 */
export class RegistrySchema1763900000000 implements MigrationInterface {
  name = 'RegistrySchema1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE registry_repository (
        id bigserial PRIMARY KEY,
        name text COLLATE "C" NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE registry_blob (
        digest text PRIMARY KEY,
        size bigint NOT NULL CHECK (size >= 0),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE registry_repository_blob (
        repository_id bigint NOT NULL REFERENCES registry_repository(id) ON DELETE CASCADE,
        digest text NOT NULL REFERENCES registry_blob(digest),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (repository_id, digest)
      )`);
    await q.query(`CREATE INDEX registry_repository_blob_digest_idx ON registry_repository_blob (digest)`);
    await q.query(`
      CREATE TABLE registry_manifest (
        id bigserial PRIMARY KEY,
        repository_id bigint NOT NULL REFERENCES registry_repository(id) ON DELETE CASCADE,
        digest text NOT NULL,
        media_type text NOT NULL,
        artifact_type text,
        size bigint NOT NULL,
        payload bytea NOT NULL,
        subject_digest text,
        annotations jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (repository_id, digest)
      )`);
    await q.query(`
      CREATE INDEX registry_manifest_subject_idx ON registry_manifest (repository_id, subject_digest)
        WHERE subject_digest IS NOT NULL`);
    await q.query(`
      CREATE TABLE registry_manifest_reference (
        manifest_id bigint NOT NULL REFERENCES registry_manifest(id) ON DELETE CASCADE,
        position integer NOT NULL,
        kind text NOT NULL CHECK (kind IN ('config', 'layer', 'manifest')),
        digest text NOT NULL,
        media_type text NOT NULL,
        size bigint NOT NULL,
        PRIMARY KEY (manifest_id, position)
      )`);
    await q.query(`CREATE INDEX registry_manifest_reference_digest_idx ON registry_manifest_reference (digest)`);
    await q.query(`
      CREATE TABLE registry_tag (
        repository_id bigint NOT NULL REFERENCES registry_repository(id) ON DELETE CASCADE,
        name text COLLATE "C" NOT NULL,
        manifest_id bigint NOT NULL REFERENCES registry_manifest(id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (repository_id, name)
      )`);
    await q.query(`CREATE INDEX registry_tag_manifest_idx ON registry_tag (manifest_id)`);
    // Upload sessions are short-lived state written on every chunk. UNLOGGED spares each write a WAL flush;
    // the price is that a PostgreSQL crash (not a clean restart) forgets open sessions, and clients then
    // start those uploads again, as they do after any upload error.
    await q.query(`
      CREATE UNLOGGED TABLE registry_upload (
        id uuid PRIMARY KEY,
        repository_name text NOT NULL,
        path text NOT NULL,
        size bigint NOT NULL DEFAULT 0,
        lease_owner uuid,
        lease_until timestamptz,
        started_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX registry_upload_updated_idx ON registry_upload (updated_at)`);
    await q.query(`
      CREATE TABLE event_outbox (
        id bigserial PRIMARY KEY,
        type text NOT NULL,
        payload jsonb NOT NULL,
        occurred_at timestamptz NOT NULL DEFAULT now(),
        delivered_at timestamptz
      )`);
    await q.query(`CREATE INDEX event_outbox_pending_idx ON event_outbox (id) WHERE delivered_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'event_outbox',
      'registry_upload',
      'registry_tag',
      'registry_manifest_reference',
      'registry_manifest',
      'registry_repository_blob',
      'registry_blob',
      'registry_repository',
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
