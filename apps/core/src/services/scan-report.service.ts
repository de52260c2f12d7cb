import { Injectable } from '@nestjs/common';
import { SEVERITIES, type Severity } from '@wharf/scanner';
import {
  type NativeReportSummaryDto,
  type ScanOverviewDto,
  type VulnerabilitiesAdditionDto,
} from '../dtos/scan.dto.js';
import {
  FINAL_SCAN_STATUSES,
  type ScanReportRecord,
  ScanReportRepository,
  type ScanStatus,
  type ScanSummaryCounts,
  VULNERABILITY_REPORT_MIME,
} from '../repositories/scan-report.repository.js';

/** An artifact whose scan is asked about: its digest, and for an index the digests of its children. */
export interface ScannedArtifact {
  digest: string;
  children?: readonly string[];
}

/** Harbor's merge of an index's children's statuses: Running wins, then Stopped, then Success, then the latest. */
export function mergeScanStatus(a: ScanStatus, b: ScanStatus): ScanStatus {
  if (a === 'Running' || b === 'Running') return 'Running';
  if (a === 'Stopped' || b === 'Stopped') return 'Stopped';
  if (a === 'Success' || b === 'Success') return 'Success';
  if (a === 'Pending' || b === 'Pending') return 'Pending';
  return 'Error';
}

function severityCounts(counts: ScanSummaryCounts): Record<string, number> {
  const out: Record<string, number> = {};
  for (const severity of [...SEVERITIES].reverse()) {
    if (counts.bySeverity[severity] > 0) out[severity] = counts.bySeverity[severity];
  }
  return out;
}

function worst(counts: ScanSummaryCounts): Severity {
  for (const severity of [...SEVERITIES].reverse()) if (counts.bySeverity[severity] > 0) return severity;
  return 'None';
}

interface Merged {
  reportId: string;
  status: ScanStatus;
  start: Date;
  end: Date | null;
  scanner: ScanReportRecord['scanner'];
  counts: ScanSummaryCounts | null;
  completePercent: number;
}

function summaryDto(merged: Merged): NativeReportSummaryDto {
  const done = merged.status === 'Success' && merged.counts !== null;
  return {
    report_id: merged.reportId,
    scan_status: merged.status,
    ...(done ? { severity: worst(merged.counts!) } : {}),
    ...(merged.end ? { duration: Math.round((merged.end.getTime() - merged.start.getTime()) / 1000) } : {}),
    ...(done
      ? {
          summary: {
            total: merged.counts!.total,
            fixable: merged.counts!.fixable,
            summary: severityCounts(merged.counts!),
          },
        }
      : {}),
    start_time: merged.start.toISOString(),
    ...(merged.end ? { end_time: merged.end.toISOString() } : {}),
    complete_percent: merged.completePercent,
    scanner: merged.scanner,
  };
}

/**
 * What the API reads of scan reports: the `scan_overview` of artifacts (a page of them in a fixed number of queries)
 * and the vulnerabilities addition. An index has no report of its own: as in Harbor, its children's are merged.
 */
@Injectable()
export class ScanReportService {
  constructor(private readonly reports: ScanReportRepository) {}

  /** The scan overview of each artifact that has a report (or children with one), by digest. */
  async overviews(artifacts: readonly ScannedArtifact[]): Promise<Map<string, ScanOverviewDto>> {
    const digests = artifacts.flatMap((a) => [a.digest, ...(a.children ?? [])]);
    const latest = await this.reports.latestOfDigests(digests);
    const merged = new Map<string, Merged>();
    const groups = new Map<string, number[]>();
    for (const artifact of artifacts) {
      if (artifact.children && artifact.children.length > 0) {
        const childReports = [...new Set(artifact.children)].flatMap((child) => latest.get(child) ?? []);
        if (childReports.length === 0) continue;
        const result = this.merge(childReports, artifact.children.length);
        merged.set(artifact.digest, result);
        if (result.status === 'Success') {
          groups.set(
            artifact.digest,
            childReports.filter((r) => r.status === 'Success').map((r) => r.id),
          );
        }
        continue;
      }
      const report = latest.get(artifact.digest);
      if (report) merged.set(artifact.digest, this.merge([report], 1));
    }
    const counts = await this.reports.distinctCounts(groups);
    const out = new Map<string, ScanOverviewDto>();
    for (const [digest, result] of merged) {
      const distinct = counts.get(digest);
      if (distinct) result.counts = distinct;
      out.set(digest, { [VULNERABILITY_REPORT_MIME]: summaryDto(result) });
    }
    return out;
  }

  /** Harbor's vulnerabilities addition: the artifact's report (an index's: its children's merged), `{}` unscanned. */
  async vulnerabilities(artifact: ScannedArtifact): Promise<VulnerabilitiesAdditionDto> {
    const digests = artifact.children && artifact.children.length > 0 ? artifact.children : [artifact.digest];
    const latest = [...(await this.reports.latestOfDigests(digests)).values()].filter((r) => r.status === 'Success');
    if (latest.length === 0) return {};
    const items = await this.reports.findings(latest.map((r) => r.id));
    const newest = latest.reduce((a, b) => (b.startTime > a.startTime ? b : a));
    const generated = latest.reduce<Date>(
      (at, r) => (r.generatedAt && r.generatedAt > at ? r.generatedAt : at),
      newest.generatedAt ?? newest.startTime,
    );
    let severity: Severity = 'None';
    for (const item of items)
      if (SEVERITIES.indexOf(item.severity) > SEVERITIES.indexOf(severity)) severity = item.severity;
    return {
      [VULNERABILITY_REPORT_MIME]: {
        generated_at: generated.toISOString(),
        scanner: newest.scanner,
        severity,
        vulnerabilities: items,
      },
    };
  }

  private merge(reports: readonly ScanReportRecord[], expected: number): Merged {
    const first = reports[0];
    let status = first.status;
    let start = first.startTime;
    let end = first.endTime;
    let newest = first;
    let complete = 0;
    for (const report of reports) {
      status = mergeScanStatus(status, report.status);
      if (report.startTime < start) start = report.startTime;
      if (report.endTime && (!end || report.endTime > end)) end = report.endTime;
      if (report.startTime > newest.startTime) newest = report;
      if (FINAL_SCAN_STATUSES.includes(report.status)) complete += 1;
    }
    const finished = FINAL_SCAN_STATUSES.includes(status);
    return {
      reportId: reports.length === 1 ? first.uuid : reports.map((r) => r.uuid).join(','),
      status,
      start,
      end: finished ? end : null,
      scanner: newest.scanner,
      counts: reports.length === 1 && first.status === 'Success' ? first.counts : null,
      completePercent: Math.floor((complete * 100) / Math.max(expected, reports.length)),
    };
  }
}
