import { type MigrationInterface, type QueryRunner } from 'typeorm';

/** The NOTIFY channel that tells every process that a project's vulnerability policy or a CVE allowlist changed. */
export const VULNERABILITY_POLICY_CHANGE_CHANNEL = 'wharf_vulnerability_policy';

/**
 * Vulnerability scan reports, stored normalised: a finding (a CVE of a package at a version, as one scanner
 * registration describes it) is one `vulnerability_record` however many artifacts carry it, and a report links to
 * the records it found. A registry of 100,000 artifacts built on a few base images thus holds each finding once, not
 * once per artifact (goharbor/harbor#17927). A report belongs to an artifact digest, so an artifact held by several
 * repositories shares it, as in Harbor; its summary counts are kept on the report so that artifact lists show
 * `scan_overview` without reading findings.
 *
 * CVE allowlists: the system's (no project) and one per project, with an expiry in unix seconds. Changes to them and
 * to project metadata are announced on a channel of their own, which the pull gate's cache follows.
 */
export class ScanReports1766200000000 implements MigrationInterface {
  name = 'ScanReports1766200000000';

  async up(q: QueryRunner): Promise<void> {
    const severity = `('None', 'Unknown', 'Low', 'Medium', 'High', 'Critical')`;
    await q.query(`
      CREATE TABLE vulnerability_record (
        id bigserial PRIMARY KEY,
        registration_uuid text NOT NULL,
        cve_id text NOT NULL,
        package text NOT NULL,
        package_version text NOT NULL,
        severity text NOT NULL CHECK (severity IN ${severity}),
        fixed_version text NOT NULL DEFAULT '',
        description text NOT NULL DEFAULT '',
        urls text[] NOT NULL DEFAULT '{}',
        cvss_score_v3 double precision,
        cvss_vector_v3 text NOT NULL DEFAULT '',
        cvss_score_v2 double precision,
        cvss_vector_v2 text NOT NULL DEFAULT '',
        cwe_ids text[] NOT NULL DEFAULT '{}',
        vendor_attributes jsonb,
        UNIQUE (registration_uuid, cve_id, package, package_version)
      )`);
    // Security hub filters that do not start with the scanner.
    await q.query(`CREATE INDEX vulnerability_record_cve_idx ON vulnerability_record (cve_id)`);
    await q.query(`CREATE INDEX vulnerability_record_package_idx ON vulnerability_record (package)`);
    await q.query(`CREATE INDEX vulnerability_record_severity_idx ON vulnerability_record (severity, cvss_score_v3)`);
    await q.query(`CREATE INDEX vulnerability_record_cvss_idx ON vulnerability_record (cvss_score_v3)`);

    await q.query(`
      CREATE TABLE scan_report (
        id bigserial PRIMARY KEY,
        uuid uuid NOT NULL UNIQUE,
        digest text NOT NULL,
        registration_uuid text NOT NULL,
        mime_type text NOT NULL,
        status text NOT NULL CHECK (status IN ('Pending', 'Running', 'Success', 'Error', 'Stopped')),
        start_time timestamptz NOT NULL DEFAULT now(),
        end_time timestamptz,
        generated_at timestamptz,
        scanner_name text NOT NULL DEFAULT '',
        scanner_vendor text NOT NULL DEFAULT '',
        scanner_version text NOT NULL DEFAULT '',
        severity text CHECK (severity IN ${severity}),
        total_cnt integer NOT NULL DEFAULT 0,
        fixable_cnt integer NOT NULL DEFAULT 0,
        critical_cnt integer NOT NULL DEFAULT 0,
        high_cnt integer NOT NULL DEFAULT 0,
        medium_cnt integer NOT NULL DEFAULT 0,
        low_cnt integer NOT NULL DEFAULT 0,
        unknown_cnt integer NOT NULL DEFAULT 0,
        none_cnt integer NOT NULL DEFAULT 0,
        log text NOT NULL DEFAULT '',
        UNIQUE (digest, registration_uuid, mime_type)
      )`);
    // The unique key serves the overview of a page of artifacts (digest = ANY(...)); these rank the hub's tops.
    await q.query(`
      CREATE INDEX scan_report_danger_idx ON scan_report (critical_cnt DESC, high_cnt DESC, medium_cnt DESC)
        WHERE status = 'Success'`);
    await q.query(`
      CREATE TABLE scan_report_vulnerability (
        report_id bigint NOT NULL REFERENCES scan_report(id) ON DELETE CASCADE,
        record_id bigint NOT NULL REFERENCES vulnerability_record(id) ON DELETE CASCADE,
        PRIMARY KEY (report_id, record_id)
      )`);
    await q.query(`CREATE INDEX scan_report_vulnerability_record_idx ON scan_report_vulnerability (record_id)`);

    await q.query(`
      CREATE TABLE cve_allowlist (
        id serial PRIMARY KEY,
        project_id integer REFERENCES project(project_id) ON DELETE CASCADE,
        expires_at bigint,
        items text[] NOT NULL DEFAULT '{}',
        creation_time timestamptz NOT NULL DEFAULT now(),
        update_time timestamptz NOT NULL DEFAULT now()
      )`);
    // One per project, and one for the system (no project).
    await q.query(`CREATE UNIQUE INDEX cve_allowlist_project_idx ON cve_allowlist (COALESCE(project_id, 0))`);

    await q.query(`
      CREATE FUNCTION wharf_vulnerability_policy_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('${VULNERABILITY_POLICY_CHANGE_CHANNEL}', '');
        RETURN NULL;
      END $$`);
    for (const [table, events] of [
      ['project', 'UPDATE OF name OR DELETE OR TRUNCATE'],
      ['project_metadata', 'INSERT OR UPDATE OR DELETE OR TRUNCATE'],
      ['cve_allowlist', 'INSERT OR UPDATE OR DELETE OR TRUNCATE'],
    ]) {
      await q.query(
        `CREATE TRIGGER ${table}_vulnerability_policy_changed AFTER ${events} ON ${table}
           FOR EACH STATEMENT EXECUTE FUNCTION wharf_vulnerability_policy_changed()`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['project', 'project_metadata', 'cve_allowlist']) {
      await q.query(`DROP TRIGGER IF EXISTS ${table}_vulnerability_policy_changed ON ${table}`);
    }
    await q.query(`DROP FUNCTION IF EXISTS wharf_vulnerability_policy_changed()`);
    for (const table of ['cve_allowlist', 'scan_report_vulnerability', 'scan_report', 'vulnerability_record']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
