import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * The control plane: users, projects with their metadata, members and quotas, robot accounts, the audit log and
 * system settings.
 *
 * Quota usage is kept by triggers on the registry's own tables, so it changes in the same transaction as the
 * manifest that causes it and the registry engine needs to know nothing of projects: every repository and manifest
 * row carries the project it belongs to (the first segment of the repository name), and `project_blob` counts how
 * many manifests of a project reference each blob. A blob enters the project's usage when its first reference
 * appears and leaves it with its last one, so a layer shared by two repositories of a project counts once.
 */
export class CoreSchema1763990000000 implements MigrationInterface {
  name = 'CoreSchema1763990000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE wharf_user (
        user_id serial PRIMARY KEY,
        username text COLLATE "C" NOT NULL,
        email text,
        realname text NOT NULL DEFAULT '',
        comment text NOT NULL DEFAULT '',
        password_hash text NOT NULL,
        sysadmin_flag boolean NOT NULL DEFAULT false,
        password_changed_at timestamptz NOT NULL DEFAULT now(),
        creation_time timestamptz NOT NULL DEFAULT now(),
        update_time timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX wharf_user_username_idx ON wharf_user (lower(username))`);
    await q.query(`CREATE UNIQUE INDEX wharf_user_email_idx ON wharf_user (lower(email)) WHERE email IS NOT NULL`);
    await q.query(`CREATE INDEX wharf_user_creation_idx ON wharf_user (creation_time, user_id)`);

    await q.query(`
      CREATE TABLE project (
        project_id serial PRIMARY KEY,
        name text COLLATE "C" NOT NULL UNIQUE,
        owner_id integer REFERENCES wharf_user(user_id) ON DELETE SET NULL,
        creation_time timestamptz NOT NULL DEFAULT now(),
        update_time timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX project_owner_idx ON project (owner_id)`);
    await q.query(`CREATE INDEX project_creation_idx ON project (creation_time, project_id)`);
    await q.query(`
      CREATE TABLE project_metadata (
        project_id integer NOT NULL REFERENCES project(project_id) ON DELETE CASCADE,
        name text NOT NULL,
        value text NOT NULL,
        PRIMARY KEY (project_id, name)
      )`);
    await q.query(`CREATE INDEX project_metadata_public_idx ON project_metadata (name, value, project_id)`);
    await q.query(`
      CREATE TABLE project_member (
        id serial PRIMARY KEY,
        project_id integer NOT NULL REFERENCES project(project_id) ON DELETE CASCADE,
        entity_id integer NOT NULL,
        entity_type char(1) NOT NULL CHECK (entity_type IN ('u', 'g')),
        role integer NOT NULL CHECK (role BETWEEN 1 AND 5),
        creation_time timestamptz NOT NULL DEFAULT now(),
        update_time timestamptz NOT NULL DEFAULT now(),
        UNIQUE (project_id, entity_type, entity_id)
      )`);
    await q.query(`CREATE INDEX project_member_entity_idx ON project_member (entity_type, entity_id)`);

    await q.query(`
      CREATE TABLE quota (
        id serial PRIMARY KEY,
        project_id integer NOT NULL UNIQUE REFERENCES project(project_id) ON DELETE CASCADE,
        hard_storage bigint NOT NULL DEFAULT -1 CHECK (hard_storage >= -1),
        used_storage bigint NOT NULL DEFAULT 0,
        creation_time timestamptz NOT NULL DEFAULT now(),
        update_time timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE project_blob (
        project_id integer NOT NULL REFERENCES project(project_id) ON DELETE CASCADE,
        digest text NOT NULL,
        size bigint NOT NULL,
        -- Zero only for the moment between the last reference going and the row's delete.
        refs integer NOT NULL CHECK (refs >= 0),
        PRIMARY KEY (project_id, digest)
      )`);

    await q.query(`
      CREATE TABLE robot (
        id serial PRIMARY KEY,
        name text COLLATE "C" NOT NULL,
        description text NOT NULL DEFAULT '',
        level text NOT NULL CHECK (level IN ('system', 'project')),
        project_id integer REFERENCES project(project_id) ON DELETE CASCADE,
        secret_hash text NOT NULL,
        salt text NOT NULL,
        duration integer NOT NULL,
        expires_at bigint NOT NULL,
        disabled boolean NOT NULL DEFAULT false,
        editable boolean NOT NULL DEFAULT true,
        creator_type text NOT NULL DEFAULT 'local',
        creator_ref integer,
        creation_time timestamptz NOT NULL DEFAULT now(),
        update_time timestamptz NOT NULL DEFAULT now(),
        CHECK ((level = 'project') = (project_id IS NOT NULL))
      )`);
    await q.query(`CREATE UNIQUE INDEX robot_name_idx ON robot (COALESCE(project_id, 0), name)`);
    await q.query(`CREATE INDEX robot_project_idx ON robot (project_id, id)`);
    await q.query(`
      CREATE TABLE robot_permission (
        robot_id integer NOT NULL REFERENCES robot(id) ON DELETE CASCADE,
        kind text NOT NULL CHECK (kind IN ('system', 'project')),
        namespace text NOT NULL,
        resource text NOT NULL,
        action text NOT NULL,
        effect text NOT NULL DEFAULT 'allow' CHECK (effect IN ('allow', 'deny')),
        PRIMARY KEY (robot_id, kind, namespace, resource, action)
      )`);

    await q.query(`
      CREATE TABLE audit_log (
        id bigserial PRIMARY KEY,
        project_id integer,
        operation text NOT NULL,
        resource_type text NOT NULL,
        resource text NOT NULL,
        username text NOT NULL,
        op_time timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX audit_log_time_idx ON audit_log (op_time DESC, id DESC)`);
    await q.query(`CREATE INDEX audit_log_project_idx ON audit_log (project_id, op_time DESC, id DESC)`);
    await q.query(`CREATE INDEX audit_log_username_idx ON audit_log (username, op_time DESC, id DESC)`);

    await q.query(`
      CREATE TABLE system_setting (
        name text PRIMARY KEY,
        value jsonb NOT NULL,
        update_time timestamptz NOT NULL DEFAULT now()
      )`);

    // The registry's rows learn their project when they are written.
    await q.query(`
      ALTER TABLE registry_repository
        ADD COLUMN project_id integer REFERENCES project(project_id),
        ADD COLUMN description text NOT NULL DEFAULT '',
        ADD COLUMN pull_count bigint NOT NULL DEFAULT 0`);
    await q.query(`CREATE INDEX registry_repository_project_idx ON registry_repository (project_id, name)`);
    await q.query(`ALTER TABLE registry_manifest ADD COLUMN project_id integer, ADD COLUMN pull_time timestamptz`);
    await q.query(
      `CREATE INDEX registry_manifest_push_idx ON registry_manifest (repository_id, created_at DESC, id DESC)`,
    );
    await q.query(`CREATE INDEX registry_manifest_digest_idx ON registry_manifest (digest)`);
    // Artifact lists leave out the children of indexes: this finds whether a manifest is one without a scan.
    await q.query(`
      CREATE INDEX registry_manifest_reference_child_idx ON registry_manifest_reference (digest, manifest_id)
        WHERE kind = 'manifest'`);
    await q.query(`CREATE INDEX registry_repository_created_idx ON registry_repository (created_at DESC, id DESC)`);

    await q.query(`
      CREATE FUNCTION wharf_repository_project() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.project_id IS NULL THEN
          SELECT p.project_id INTO NEW.project_id FROM project p WHERE p.name = split_part(NEW.name, '/', 1);
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER registry_repository_project BEFORE INSERT ON registry_repository
        FOR EACH ROW EXECUTE FUNCTION wharf_repository_project()`);
    await q.query(`
      CREATE FUNCTION wharf_manifest_project() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        SELECT r.project_id INTO NEW.project_id FROM registry_repository r WHERE r.id = NEW.repository_id;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER registry_manifest_project BEFORE INSERT ON registry_manifest
        FOR EACH ROW EXECUTE FUNCTION wharf_manifest_project()`);

    await q.query(`
      CREATE FUNCTION wharf_project_blob_add(p integer, d text, s bigint) RETURNS void LANGUAGE plpgsql AS $$
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
    await q.query(`
      CREATE FUNCTION wharf_project_blob_remove(p integer, d text) RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        remaining integer;
        blob_size bigint;
      BEGIN
        UPDATE project_blob SET refs = refs - 1 WHERE project_id = p AND digest = d
          RETURNING refs, size INTO remaining, blob_size;
        IF remaining = 0 THEN
          DELETE FROM project_blob WHERE project_id = p AND digest = d;
          UPDATE quota SET used_storage = GREATEST(used_storage - blob_size, 0) WHERE project_id = p;
        END IF;
      END $$`);

    await q.query(`
      CREATE FUNCTION wharf_manifest_usage_add() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.project_id IS NOT NULL THEN
          PERFORM wharf_project_blob_add(NEW.project_id, NEW.digest, NEW.size);
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER registry_manifest_usage_add AFTER INSERT ON registry_manifest
        FOR EACH ROW EXECUTE FUNCTION wharf_manifest_usage_add()`);
    await q.query(`
      CREATE FUNCTION wharf_reference_usage_add() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        p integer;
      BEGIN
        IF NEW.kind <> 'manifest' THEN
          SELECT m.project_id INTO p FROM registry_manifest m WHERE m.id = NEW.manifest_id;
          IF p IS NOT NULL THEN
            PERFORM wharf_project_blob_add(p, NEW.digest, NEW.size);
          END IF;
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER registry_manifest_reference_usage_add AFTER INSERT ON registry_manifest_reference
        FOR EACH ROW EXECUTE FUNCTION wharf_reference_usage_add()`);
    // BEFORE DELETE: the manifest's references still exist here, also when the delete cascades from its
    // repository, and the manifest row itself names its project.
    await q.query(`
      CREATE FUNCTION wharf_manifest_usage_remove() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        ref record;
      BEGIN
        IF OLD.project_id IS NOT NULL THEN
          PERFORM wharf_project_blob_remove(OLD.project_id, OLD.digest);
          FOR ref IN SELECT digest FROM registry_manifest_reference WHERE manifest_id = OLD.id AND kind <> 'manifest'
          LOOP
            PERFORM wharf_project_blob_remove(OLD.project_id, ref.digest);
          END LOOP;
        END IF;
        RETURN OLD;
      END $$`);
    await q.query(`
      CREATE TRIGGER registry_manifest_usage_remove BEFORE DELETE ON registry_manifest
        FOR EACH ROW EXECUTE FUNCTION wharf_manifest_usage_remove()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER IF EXISTS registry_manifest_usage_remove ON registry_manifest`);
    await q.query(`DROP TRIGGER IF EXISTS registry_manifest_reference_usage_add ON registry_manifest_reference`);
    await q.query(`DROP TRIGGER IF EXISTS registry_manifest_usage_add ON registry_manifest`);
    await q.query(`DROP TRIGGER IF EXISTS registry_manifest_project ON registry_manifest`);
    await q.query(`DROP TRIGGER IF EXISTS registry_repository_project ON registry_repository`);
    for (const fn of [
      'wharf_manifest_usage_remove()',
      'wharf_reference_usage_add()',
      'wharf_manifest_usage_add()',
      'wharf_project_blob_remove(integer, text)',
      'wharf_project_blob_add(integer, text, bigint)',
      'wharf_manifest_project()',
      'wharf_repository_project()',
    ]) {
      await q.query(`DROP FUNCTION IF EXISTS ${fn}`);
    }
    await q.query(`DROP INDEX IF EXISTS registry_repository_created_idx`);
    await q.query(`DROP INDEX IF EXISTS registry_manifest_reference_child_idx`);
    await q.query(`DROP INDEX IF EXISTS registry_manifest_digest_idx`);
    await q.query(`DROP INDEX IF EXISTS registry_manifest_push_idx`);
    await q.query(`ALTER TABLE registry_manifest DROP COLUMN IF EXISTS project_id, DROP COLUMN IF EXISTS pull_time`);
    await q.query(`DROP INDEX IF EXISTS registry_repository_project_idx`);
    await q.query(`
      ALTER TABLE registry_repository
        DROP COLUMN IF EXISTS project_id, DROP COLUMN IF EXISTS description, DROP COLUMN IF EXISTS pull_count`);
    for (const table of [
      'system_setting',
      'audit_log',
      'robot_permission',
      'robot',
      'project_blob',
      'quota',
      'project_member',
      'project_metadata',
      'project',
      'wharf_user',
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
