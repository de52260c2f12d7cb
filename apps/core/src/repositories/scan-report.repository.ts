import { Injectable } from '@nestjs/common';
import {
  type ScannerInfo,
  SEVERITIES,
  type Severity,
  ScannerMime,
  type VulnerabilityItem,
  type VulnerabilityReport,
} from '@wharf/scanner';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';

export const SCAN_STATUSES = ['Pending', 'Running', 'Success', 'Error', 'Stopped'] as const;
export type ScanStatus = (typeof SCAN_STATUSES)[number];

/** The statuses of a scan that has ended: its report no longer changes. */
export const FINAL_SCAN_STATUSES: readonly ScanStatus[] = ['Success', 'Error', 'Stopped'];

/** The report mime type Wharf stores vulnerability reports under, Harbor's native one. */
export const VULNERABILITY_REPORT_MIME = ScannerMime.VulnerabilityReport;

/** Counts of a report's findings: all, those with a fixed version, and per severity. */
export interface ScanSummaryCounts {
  total: number;
  fixable: number;
  bySeverity: Record<Severity, number>;
}

/** One scan of an artifact digest by one scanner registration, without its findings. */
export interface ScanReportRecord {
  id: number;
  uuid: string;
  digest: string;
  registrationUuid: string;
  mimeType: string;
  status: ScanStatus;
  startTime: Date;
  endTime: Date | null;
  generatedAt: Date | null;
  scanner: ScannerInfo;
  /** The highest severity of its findings; null until the scan succeeded. */
  severity: Severity | null;
  counts: ScanSummaryCounts;
}

export interface StartReportOptions {
  /** Defaults to Harbor's native vulnerability report. */
  mimeType?: string;
  /** The scanner as its registration names it, shown while the scan runs. */
  scanner?: ScannerInfo;
  /** Defaults to Pending. */
  status?: 'Pending' | 'Running';
}

interface ReportRow {
  id: string;
  uuid: string;
  digest: string;
  registration_uuid: string;
  mime_type: string;
  status: ScanStatus;
  start_time: Date;
  end_time: Date | null;
  generated_at: Date | null;
  scanner_name: string;
  scanner_vendor: string;
  scanner_version: string;
  severity: Severity | null;
  total_cnt: number;
  fixable_cnt: number;
  critical_cnt: number;
  high_cnt: number;
  medium_cnt: number;
  low_cnt: number;
  unknown_cnt: number;
  none_cnt: number;
}

const REPORT_COLUMNS = `r.id, r.uuid, r.digest, r.registration_uuid, r.mime_type, r.status, r.start_time, r.end_time,
  r.generated_at, r.scanner_name, r.scanner_vendor, r.scanner_version, r.severity, r.total_cnt, r.fixable_cnt,
  r.critical_cnt, r.high_cnt, r.medium_cnt, r.low_cnt, r.unknown_cnt, r.none_cnt`;

function toRecord(row: ReportRow): ScanReportRecord {
  return {
    id: Number(row.id),
    uuid: row.uuid,
    digest: row.digest,
    registrationUuid: row.registration_uuid,
    mimeType: row.mime_type,
    status: row.status,
    startTime: row.start_time,
    endTime: row.end_time,
    generatedAt: row.generated_at,
    scanner: { name: row.scanner_name, vendor: row.scanner_vendor, version: row.scanner_version },
    severity: row.severity,
    counts: {
      total: row.total_cnt,
      fixable: row.fixable_cnt,
      bySeverity: {
        Critical: row.critical_cnt,
        High: row.high_cnt,
        Medium: row.medium_cnt,
        Low: row.low_cnt,
        Unknown: row.unknown_cnt,
        None: row.none_cnt,
      },
    },
  };
}

function emptyCounts(): ScanSummaryCounts {
  return { total: 0, fixable: 0, bySeverity: { Critical: 0, High: 0, Medium: 0, Low: 0, Unknown: 0, None: 0 } };
}

function severityOf(value: unknown): Severity {
  return (SEVERITIES as readonly unknown[]).includes(value) ? (value as Severity) : 'Unknown';
}

function maxSeverity(a: Severity, b: Severity): Severity {
  return SEVERITIES.indexOf(a) >= SEVERITIES.indexOf(b) ? a : b;
}

/**
 * A report's findings once each: a scanner may list a CVE of a package at a version several times (once per layer or
 * target that holds it); the worst severity and the first description win.
 */
export function distinctFindings(items: readonly VulnerabilityItem[]): VulnerabilityItem[] {
  const byKey = new Map<string, VulnerabilityItem>();
  for (const item of items) {
    const normalised: VulnerabilityItem = { ...item, severity: severityOf(item.severity) };
    const key = JSON.stringify([item.id, item.package, item.version]);
    const kept = byKey.get(key);
    if (!kept) byKey.set(key, normalised);
    else kept.severity = maxSeverity(kept.severity, normalised.severity);
  }
  return [...byKey.values()];
}

/** The summary counts and overall severity of a report's distinct findings. */
export function summarise(items: readonly VulnerabilityItem[]): { counts: ScanSummaryCounts; severity: Severity } {
  const counts = emptyCounts();
  let severity: Severity = 'None';
  for (const item of items) {
    counts.total += 1;
    if (item.fix_version) counts.fixable += 1;
    counts.bySeverity[item.severity] += 1;
    severity = maxSeverity(severity, item.severity);
  }
  return { counts, severity };
}

interface FindingRow {
  cve_id: string;
  package: string;
  package_version: string;
  severity: Severity;
  fixed_version: string;
  description: string;
  urls: string[];
  cvss_score_v3: number | null;
  cvss_vector_v3: string;
  cvss_score_v2: number | null;
  cvss_vector_v2: string;
  cwe_ids: string[];
  vendor_attributes: Record<string, unknown> | null;
}

function toItem(row: FindingRow): VulnerabilityItem {
  const cvss = {
    ...(row.cvss_score_v3 === null ? {} : { score_v3: row.cvss_score_v3 }),
    ...(row.cvss_vector_v3 ? { vector_v3: row.cvss_vector_v3 } : {}),
    ...(row.cvss_score_v2 === null ? {} : { score_v2: row.cvss_score_v2 }),
    ...(row.cvss_vector_v2 ? { vector_v2: row.cvss_vector_v2 } : {}),
  };
  return {
    id: row.cve_id,
    package: row.package,
    version: row.package_version,
    fix_version: row.fixed_version,
    severity: row.severity,
    description: row.description,
    links: row.urls,
    ...(Object.keys(cvss).length > 0 ? { preferred_cvss: cvss } : {}),
    cwe_ids: row.cwe_ids,
    ...(row.vendor_attributes ? { vendor_attributes: row.vendor_attributes } : {}),
  };
}

/**
 * Scan reports and their findings, stored normalised (see the ScanReports migration). The scan job's whole protocol
 * is here: `startReport` when a scan is asked for, `markRunning` when the scanner takes it, then exactly one of
 * `finishReport`, `failReport` or `stopReport`. A report is the only one of its (digest, scanner registration, mime
 * type): starting a scan replaces the previous report of that key, as Harbor does, and a late answer for a replaced
 * report changes nothing (the methods that end a scan return false).
 */
@Injectable()
export class ScanReportRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Starts the report of a scan of `artifact` by the scanner registration `registrationUuid`: Pending (or Running),
   * with no findings, replacing the key's previous report. Returns its uuid (Harbor's report_id).
   */
  async startReport(
    artifact: { digest: string },
    registrationUuid: string,
    options: StartReportOptions = {},
  ): Promise<string> {
    const uuid = randomUUID();
    await this.dataSource.transaction(async (manager) => {
      const rows = await manager.query<{ id: string }[]>(
        `INSERT INTO scan_report (uuid, digest, registration_uuid, mime_type, status, scanner_name, scanner_vendor,
                                  scanner_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (digest, registration_uuid, mime_type) DO UPDATE SET
           uuid = EXCLUDED.uuid, status = EXCLUDED.status, start_time = now(), end_time = NULL, generated_at = NULL,
           scanner_name = EXCLUDED.scanner_name, scanner_vendor = EXCLUDED.scanner_vendor,
           scanner_version = EXCLUDED.scanner_version, severity = NULL, total_cnt = 0, fixable_cnt = 0,
           critical_cnt = 0, high_cnt = 0, medium_cnt = 0, low_cnt = 0, unknown_cnt = 0, none_cnt = 0, log = ''
         RETURNING id`,
        [
          uuid,
          artifact.digest,
          registrationUuid,
          options.mimeType ?? VULNERABILITY_REPORT_MIME,
          options.status ?? 'Pending',
          options.scanner?.name ?? '',
          options.scanner?.vendor ?? '',
          options.scanner?.version ?? '',
        ],
      );
      await manager.query(`DELETE FROM scan_report_vulnerability WHERE report_id = $1`, [rows[0].id]);
    });
    return uuid;
  }

  /** A Pending scan the scanner has taken; false when the report is not Pending any more (or was replaced). */
  async markRunning(uuid: string): Promise<boolean> {
    if (!isUuid(uuid)) return false;
    return this.changed(
      `UPDATE scan_report SET status = 'Running' WHERE uuid = $1 AND status = 'Pending' RETURNING 1`,
      [uuid],
    );
  }

  /**
   * Stores a scan's result in one transaction: its findings (each distinct CVE × package × version once, upserted in
   * bulk among the records of the registration), the report's links to them, summary counts, overall severity and
   * scanner, status Success, and the scan's log. False, with nothing written, when the report has ended or was
   * replaced by a newer scan.
   */
  async finishReport(uuid: string, report: VulnerabilityReport, log = ''): Promise<boolean> {
    const items = distinctFindings(report.vulnerabilities);
    const { counts, severity } = summarise(items);
    return this.dataSource.transaction(async (manager) => {
      const open = await this.lockOpen(manager, uuid);
      if (!open) return false;
      const findings = JSON.stringify(
        items.map((item) => ({
          cve_id: item.id,
          package: item.package,
          package_version: item.version,
          severity: item.severity,
          fixed_version: item.fix_version ?? '',
          description: item.description ?? '',
          urls: item.links ?? [],
          cvss_score_v3: item.preferred_cvss?.score_v3 ?? null,
          cvss_vector_v3: item.preferred_cvss?.vector_v3 ?? '',
          cvss_score_v2: item.preferred_cvss?.score_v2 ?? null,
          cvss_vector_v2: item.preferred_cvss?.vector_v2 ?? '',
          cwe_ids: item.cwe_ids ?? [],
          vendor_attributes: item.vendor_attributes ?? null,
        })),
      );
      const input = `jsonb_to_recordset($2::jsonb) AS x(cve_id text, package text, package_version text,
        severity text, fixed_version text, description text, urls text[], cvss_score_v3 double precision,
        cvss_vector_v3 text, cvss_score_v2 double precision, cvss_vector_v2 text, cwe_ids text[],
        vendor_attributes jsonb)`;
      if (items.length > 0) {
        // Sorted, so that two scans upserting the same records lock them in the same order.
        await manager.query(
          `INSERT INTO vulnerability_record AS v (registration_uuid, cve_id, package, package_version, severity,
                  fixed_version, description, urls, cvss_score_v3, cvss_vector_v3, cvss_score_v2, cvss_vector_v2,
                  cwe_ids, vendor_attributes)
           SELECT $1, x.cve_id, x.package, x.package_version, x.severity, x.fixed_version, x.description, x.urls,
                  x.cvss_score_v3, x.cvss_vector_v3, x.cvss_score_v2, x.cvss_vector_v2, x.cwe_ids, x.vendor_attributes
             FROM ${input}
            ORDER BY x.cve_id, x.package, x.package_version
           ON CONFLICT (registration_uuid, cve_id, package, package_version) DO UPDATE SET
             severity = EXCLUDED.severity, fixed_version = EXCLUDED.fixed_version,
             description = EXCLUDED.description, urls = EXCLUDED.urls, cvss_score_v3 = EXCLUDED.cvss_score_v3,
             cvss_vector_v3 = EXCLUDED.cvss_vector_v3, cvss_score_v2 = EXCLUDED.cvss_score_v2,
             cvss_vector_v2 = EXCLUDED.cvss_vector_v2, cwe_ids = EXCLUDED.cwe_ids,
             vendor_attributes = EXCLUDED.vendor_attributes
           WHERE (v.severity, v.fixed_version, v.description, v.urls, v.cvss_score_v3, v.cvss_vector_v3,
                  v.cvss_score_v2, v.cvss_vector_v2, v.cwe_ids, v.vendor_attributes)
                 IS DISTINCT FROM
                 (EXCLUDED.severity, EXCLUDED.fixed_version, EXCLUDED.description, EXCLUDED.urls,
                  EXCLUDED.cvss_score_v3, EXCLUDED.cvss_vector_v3, EXCLUDED.cvss_score_v2, EXCLUDED.cvss_vector_v2,
                  EXCLUDED.cwe_ids, EXCLUDED.vendor_attributes)`,
          [open.registrationUuid, findings],
        );
      }
      await manager.query(`DELETE FROM scan_report_vulnerability WHERE report_id = $1`, [open.id]);
      if (items.length > 0) {
        await manager.query(
          `INSERT INTO scan_report_vulnerability (report_id, record_id)
           SELECT $3, v.id FROM ${input}
             JOIN vulnerability_record v
               ON v.registration_uuid = $1 AND v.cve_id = x.cve_id AND v.package = x.package
              AND v.package_version = x.package_version`,
          [open.registrationUuid, findings, open.id],
        );
      }
      const generated = Date.parse(report.generated_at);
      await manager.query(
        `UPDATE scan_report SET status = 'Success', end_time = now(), generated_at = $2, scanner_name = $3,
                scanner_vendor = $4, scanner_version = $5, severity = $6, total_cnt = $7, fixable_cnt = $8,
                critical_cnt = $9, high_cnt = $10, medium_cnt = $11, low_cnt = $12, unknown_cnt = $13,
                none_cnt = $14, log = $15
          WHERE id = $1`,
        [
          open.id,
          Number.isNaN(generated) ? new Date() : new Date(generated),
          report.scanner.name,
          report.scanner.vendor,
          report.scanner.version,
          severity,
          counts.total,
          counts.fixable,
          counts.bySeverity.Critical,
          counts.bySeverity.High,
          counts.bySeverity.Medium,
          counts.bySeverity.Low,
          counts.bySeverity.Unknown,
          counts.bySeverity.None,
          log,
        ],
      );
      return true;
    });
  }

  /** Ends a scan with status Error; `reason` ends its log. False when the report has ended or was replaced. */
  async failReport(uuid: string, reason: string, log = ''): Promise<boolean> {
    return this.end(uuid, 'Error', log ? `${log.replace(/\n?$/, '\n')}${reason}` : reason);
  }

  /** Ends a scan with status Stopped. False when the report has ended or was replaced. */
  async stopReport(uuid: string, log = ''): Promise<boolean> {
    return this.end(uuid, 'Stopped', log);
  }

  async findByUuid(uuid: string): Promise<ScanReportRecord | undefined> {
    if (!isUuid(uuid)) return undefined;
    const rows = await this.dataSource.query<ReportRow[]>(
      `SELECT ${REPORT_COLUMNS} FROM scan_report r WHERE r.uuid = $1`,
      [uuid],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** The log of a scan; undefined when there is no such report. */
  async log(uuid: string): Promise<string | undefined> {
    if (!isUuid(uuid)) return undefined;
    const rows = await this.dataSource.query<{ log: string }[]>(`SELECT log FROM scan_report WHERE uuid = $1`, [uuid]);
    return rows[0]?.log;
  }

  /**
   * The latest report of each digest (one query for a whole page of artifacts), whatever scanner made it; the
   * registration's when one is given.
   */
  async latestOfDigests(
    digests: readonly string[],
    options: { mimeType?: string; registrationUuid?: string } = {},
  ): Promise<Map<string, ScanReportRecord>> {
    const found = new Map<string, ScanReportRecord>();
    if (digests.length === 0) return found;
    const rows = await this.dataSource.query<ReportRow[]>(
      `SELECT DISTINCT ON (r.digest) ${REPORT_COLUMNS}
         FROM scan_report r
        WHERE r.digest = ANY($1::text[]) AND r.mime_type = $2 AND ($3::text IS NULL OR r.registration_uuid = $3)
        ORDER BY r.digest, r.start_time DESC, r.id DESC`,
      [[...new Set(digests)], options.mimeType ?? VULNERABILITY_REPORT_MIME, options.registrationUuid ?? null],
    );
    for (const row of rows) found.set(row.digest, toRecord(row));
    return found;
  }

  /** A report's findings, rebuilt from the records it links to, worst first; of several reports, each once. */
  async findings(reportIds: number | readonly number[]): Promise<VulnerabilityItem[]> {
    const ids = typeof reportIds === 'number' ? [reportIds] : [...reportIds];
    const rows = await this.dataSource.query<FindingRow[]>(
      `SELECT v.cve_id, v.package, v.package_version, v.severity, v.fixed_version, v.description, v.urls,
              v.cvss_score_v3, v.cvss_vector_v3, v.cvss_score_v2, v.cvss_vector_v2, v.cwe_ids, v.vendor_attributes
         FROM vulnerability_record v
        WHERE v.id IN (SELECT l.record_id FROM scan_report_vulnerability l WHERE l.report_id = ANY($1::bigint[]))
        ORDER BY array_position($2::text[], v.severity) DESC, v.cve_id, v.package, v.package_version`,
      [ids.map(String), [...SEVERITIES]],
    );
    return rows.map(toItem);
  }

  /**
   * The counts of the distinct findings of each group of reports (an index's children), in one query: a finding two
   * children share counts once, as Harbor merges an index's reports.
   */
  async distinctCounts(groups: ReadonlyMap<string, readonly number[]>): Promise<Map<string, ScanSummaryCounts>> {
    const keys: string[] = [];
    const ids: string[] = [];
    for (const [key, reportIds] of groups) {
      for (const id of reportIds) {
        keys.push(key);
        ids.push(String(id));
      }
    }
    const found = new Map<string, ScanSummaryCounts>();
    for (const key of groups.keys()) found.set(key, emptyCounts());
    if (ids.length === 0) return found;
    const rows = await this.dataSource.query<{ key: string; severity: Severity; total: number; fixable: number }[]>(
      `SELECT d.key, v.severity, count(*)::int AS total, count(*) FILTER (WHERE v.fixed_version <> '')::int AS fixable
         FROM (SELECT DISTINCT g.key, l.record_id
                 FROM unnest($1::text[], $2::bigint[]) AS g(key, report_id)
                 JOIN scan_report_vulnerability l ON l.report_id = g.report_id) d
         JOIN vulnerability_record v ON v.id = d.record_id
        GROUP BY d.key, v.severity`,
      [keys, ids],
    );
    for (const row of rows) {
      const counts = found.get(row.key)!;
      counts.total += row.total;
      counts.fixable += row.fixable;
      counts.bySeverity[severityOf(row.severity)] += row.total;
    }
    return found;
  }

  private async lockOpen(
    manager: EntityManager,
    uuid: string,
  ): Promise<{ id: string; registrationUuid: string } | undefined> {
    if (!isUuid(uuid)) return undefined;
    const rows = await manager.query<{ id: string; registration_uuid: string }[]>(
      `SELECT id, registration_uuid FROM scan_report
        WHERE uuid = $1 AND status IN ('Pending', 'Running') FOR UPDATE`,
      [uuid],
    );
    return rows[0] ? { id: rows[0].id, registrationUuid: rows[0].registration_uuid } : undefined;
  }

  private async end(uuid: string, status: 'Error' | 'Stopped', log: string): Promise<boolean> {
    if (!isUuid(uuid)) return false;
    return this.changed(
      `UPDATE scan_report SET status = $2, end_time = now(), log = $3
        WHERE uuid = $1 AND status IN ('Pending', 'Running') RETURNING 1`,
      [uuid, status, log],
    );
  }

  /** Whether an UPDATE … RETURNING changed a row. */
  private async changed(update: string, parameters: unknown[]): Promise<boolean> {
    const rows = await this.dataSource.query<{ n: number }[]>(
      `WITH changed AS (${update}) SELECT count(*)::int AS n FROM changed`,
      parameters,
    );
    return rows[0].n > 0;
  }
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
