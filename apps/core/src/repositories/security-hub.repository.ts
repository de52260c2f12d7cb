import { Injectable } from '@nestjs/common';
import { type FieldSpec, type Pagination, type QueryTerm, QuerySyntaxError, buildFilter } from '@wharf/db';
import { SEVERITIES } from '@wharf/scanner';
import { DataSource } from 'typeorm';
import { VULNERABILITY_REPORT_MIME } from './scan-report.repository.js';

export interface SecurityTotals {
  critical: number;
  high: number;
  medium: number;
  low: number;
  none: number;
  unknown: number;
  fixable: number;
  scanned: number;
  artifacts: number;
}

export interface DangerousArtifact {
  projectId: number;
  repository: string;
  digest: string;
  critical: number;
  high: number;
  medium: number;
}

export interface DangerousCve {
  cveId: string;
  severity: string;
  cvssScoreV3: number;
  description: string;
  package: string;
  version: string;
}

export interface HubFinding {
  projectId: number;
  repository: string;
  digest: string;
  tags?: string[];
  cveId: string;
  severity: string;
  cvssScoreV3: number | null;
  package: string;
  version: string;
  fixedVersion: string;
  description: string;
  links: string[];
}

/** The `q` keys of the hub's list that map onto a column; `tag` and `cvss_score_v3` are built apart. */
const FIELDS: Record<string, FieldSpec> = {
  cve_id: { column: 'v.cve_id', type: 'text' },
  severity: { column: 'v.severity', type: 'text' },
  package: { column: 'v.package', type: 'text' },
  project_id: { column: 'rr.project_id', type: 'int' },
  repository_name: { column: 'rr.name', type: 'text' },
  digest: { column: 'm.digest', type: 'text' },
};

function score(key: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n))
    throw new QuerySyntaxError('q', `${JSON.stringify(key)} takes a number, not ${JSON.stringify(value)}`);
  return n;
}

/** The filter of the hub's list: Harbor's keys, every one served by an index of the findings or the registry. */
function filterOf(terms: readonly QueryTerm[], params: unknown[]): string {
  const conditions: string[] = [];
  const rest: QueryTerm[] = [];
  for (const term of terms) {
    if (term.key === 'cvss_score_v3') {
      let min: number | undefined;
      let max: number | undefined;
      if (term.match === 'range') {
        min = score(term.key, term.min);
        max = score(term.key, term.max);
      } else if (term.match === 'exact') {
        min = max = score(term.key, term.value);
      } else {
        throw new QuerySyntaxError('q', '"cvss_score_v3" takes a number or a range [min~max]');
      }
      if (min !== undefined) {
        params.push(min);
        conditions.push(`v.cvss_score_v3 >= $${params.length}`);
      }
      if (max !== undefined) {
        params.push(max);
        conditions.push(`v.cvss_score_v3 <= $${params.length}`);
      }
    } else if (term.key === 'tag') {
      if (term.match !== 'exact') throw new QuerySyntaxError('q', '"tag" takes an exact tag');
      params.push(term.value);
      conditions.push(
        `EXISTS (SELECT 1 FROM registry_tag t WHERE t.manifest_id = m.id AND t.name = $${params.length})`,
      );
    } else {
      rest.push(term);
    }
  }
  conditions.push(buildFilter(rest, FIELDS, params));
  return conditions.join(' AND ');
}

/**
 * The security hub's reads across the registry: totals of the latest successful reports of every artifact, the
 * artifacts and CVEs most at risk, and the findings with Harbor's filters.
 */
@Injectable()
export class SecurityHubRepository {
  constructor(private readonly dataSource: DataSource) {}

  async totals(): Promise<SecurityTotals> {
    const rows = await this.dataSource.query<Record<keyof SecurityTotals, number>[]>(
      `SELECT (SELECT count(*) FROM registry_manifest)::int AS artifacts,
              count(s.id)::int AS scanned,
              COALESCE(sum(s.critical_cnt), 0)::int AS critical, COALESCE(sum(s.high_cnt), 0)::int AS high,
              COALESCE(sum(s.medium_cnt), 0)::int AS medium, COALESCE(sum(s.low_cnt), 0)::int AS low,
              COALESCE(sum(s.none_cnt), 0)::int AS none, COALESCE(sum(s.unknown_cnt), 0)::int AS unknown,
              COALESCE(sum(s.fixable_cnt), 0)::int AS fixable
         FROM registry_manifest m
         JOIN LATERAL (SELECT r.id, r.critical_cnt, r.high_cnt, r.medium_cnt, r.low_cnt, r.none_cnt, r.unknown_cnt,
                              r.fixable_cnt
                         FROM scan_report r WHERE r.digest = m.digest AND r.mime_type = $1
                        ORDER BY r.start_time DESC, r.id DESC LIMIT 1) s ON true`,
      [VULNERABILITY_REPORT_MIME],
    );
    return rows[0];
  }

  async dangerousArtifacts(limit = 5): Promise<DangerousArtifact[]> {
    const rows = await this.dataSource.query<
      { project_id: number; name: string; digest: string; critical: number; high: number; medium: number }[]
    >(
      `SELECT rr.project_id, rr.name, m.digest, s.critical_cnt AS critical, s.high_cnt AS high, s.medium_cnt AS medium
         FROM scan_report s
         JOIN registry_manifest m ON m.digest = s.digest
         JOIN registry_repository rr ON rr.id = m.repository_id
        WHERE s.status = 'Success' AND s.mime_type = $1
          AND s.critical_cnt + s.high_cnt + s.medium_cnt + s.low_cnt > 0
        ORDER BY s.critical_cnt DESC, s.high_cnt DESC, s.medium_cnt DESC, s.low_cnt DESC, m.id
        LIMIT $2`,
      [VULNERABILITY_REPORT_MIME, limit],
    );
    return rows.map((row) => ({
      projectId: row.project_id,
      repository: row.name,
      digest: row.digest,
      critical: row.critical,
      high: row.high,
      medium: row.medium,
    }));
  }

  async dangerousCves(limit = 5): Promise<DangerousCve[]> {
    const rows = await this.dataSource.query<
      {
        cve_id: string;
        severity: string;
        cvss_score_v3: number;
        description: string;
        package: string;
        package_version: string;
      }[]
    >(
      `SELECT v.cve_id, v.severity, v.cvss_score_v3, v.description, v.package, v.package_version
         FROM vulnerability_record v
        WHERE v.cvss_score_v3 IS NOT NULL
          AND EXISTS (SELECT 1 FROM scan_report_vulnerability l WHERE l.record_id = v.id)
        ORDER BY v.cvss_score_v3 DESC, array_position($1::text[], v.severity) DESC, v.cve_id, v.id
        LIMIT $2`,
      [[...SEVERITIES], limit],
    );
    return rows.map((row) => ({
      cveId: row.cve_id,
      severity: row.severity,
      cvssScoreV3: row.cvss_score_v3,
      description: row.description,
      package: row.package,
      version: row.package_version,
    }));
  }

  /**
   * One page of findings in artifacts, highest CVSS first, with the total (or, with `capTotal`, the total up to that
   * many and -1 beyond, as Harbor's tune_count).
   */
  async findings(
    terms: readonly QueryTerm[],
    page: Pagination,
    options: { withTags: boolean; capTotal?: number },
  ): Promise<{ items: HubFinding[]; total: number }> {
    const params: unknown[] = [VULNERABILITY_REPORT_MIME];
    const where = filterOf(terms, params);
    const from = `FROM scan_report s
         JOIN scan_report_vulnerability l ON l.report_id = s.id
         JOIN vulnerability_record v ON v.id = l.record_id
         JOIN registry_manifest m ON m.digest = s.digest
         JOIN registry_repository rr ON rr.id = m.repository_id
        WHERE s.status = 'Success' AND s.mime_type = $1 AND ${where}`;
    const countParams = [...params];
    const rows = await this.dataSource.query<
      {
        project_id: number;
        name: string;
        digest: string;
        tags: string[] | null;
        cve_id: string;
        severity: string;
        cvss_score_v3: number | null;
        package: string;
        package_version: string;
        fixed_version: string;
        description: string;
        urls: string[];
      }[]
    >(
      `SELECT rr.project_id, rr.name, m.digest,
              ${options.withTags ? '(SELECT array_agg(t.name ORDER BY t.name) FROM registry_tag t WHERE t.manifest_id = m.id)' : 'NULL'} AS tags,
              v.cve_id, v.severity, v.cvss_score_v3, v.package, v.package_version, v.fixed_version, v.description, v.urls
         ${from}
        ORDER BY v.cvss_score_v3 DESC NULLS LAST, m.id, v.id
        LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, page.pageSize, page.offset],
    );
    let total: number;
    if (options.capTotal !== undefined) {
      const counted = await this.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM (SELECT 1 ${from} LIMIT ${options.capTotal + 1}) c`,
        countParams,
      );
      total = counted[0].n > options.capTotal ? -1 : counted[0].n;
    } else {
      total = (await this.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n ${from}`, countParams))[0].n;
    }
    return {
      items: rows.map((row) => ({
        projectId: row.project_id,
        repository: row.name,
        digest: row.digest,
        ...(options.withTags ? { tags: row.tags ?? [] } : {}),
        cveId: row.cve_id,
        severity: row.severity,
        cvssScoreV3: row.cvss_score_v3,
        package: row.package,
        version: row.package_version,
        fixedVersion: row.fixed_version,
        description: row.description,
        links: row.urls,
      })),
      total,
    };
  }
}
