import { type components } from '@wharf/api-client';

export type ScanSummary = components['schemas']['NativeReportSummary'];
export type ReportVulnerability = components['schemas']['ReportVulnerability'];
export type Accessory = components['schemas']['Accessory'];

/** The report type Harbor keys scan_overview and additions/vulnerabilities by. */
export const VULNERABILITY_REPORT = 'application/vnd.security.vulnerability.report; version=1.1';

/** Severities from the worst, as scanners name them. */
export const SEVERITIES = ['Critical', 'High', 'Medium', 'Low', 'Negligible', 'Unknown'] as const;

/** Scan statuses of a scan that has not finished yet: the artifact is asked again until it has. */
const RUNNING = new Set(['Pending', 'Scheduled', 'Running']);

export function severityRank(severity: string): number {
  const at = SEVERITIES.findIndex((s) => s.toLowerCase() === severity.toLowerCase());
  return at < 0 ? SEVERITIES.length : at;
}

export function severityTone(severity: string): 'danger' | 'warning' | 'info' | 'neutral' {
  const rank = severityRank(severity);
  if (rank <= 1) return 'danger';
  if (rank === 2) return 'warning';
  if (rank === 3) return 'info';
  return 'neutral';
}

/** The artifact's vulnerability scan summary, if it was ever scanned. */
export function scanSummaryOf(artifact: { scan_overview?: Record<string, ScanSummary> }): ScanSummary | undefined {
  return artifact.scan_overview?.[VULNERABILITY_REPORT];
}

export function isScanRunning(summary: ScanSummary | undefined): boolean {
  return summary !== undefined && RUNNING.has(summary.scan_status);
}

/** The counts of a summary per severity, worst first, leaving out the severities with none. */
export function severityCounts(summary: ScanSummary | undefined): { severity: string; count: number }[] {
  const counts = summary?.summary?.summary ?? {};
  return Object.entries(counts)
    .filter(([, count]) => count > 0)
    .sort(([a], [b]) => severityRank(a) - severityRank(b))
    .map(([severity, count]) => ({ severity, count }));
}

/** The vulnerabilities of a report, worst first, then by CVSS v3 score (highest first), then by id. */
export function sortVulnerabilities(list: readonly ReportVulnerability[]): ReportVulnerability[] {
  return [...list].sort(
    (a, b) =>
      severityRank(a.severity) - severityRank(b.severity) ||
      (b.preferred_cvss?.score_v3 ?? -1) - (a.preferred_cvss?.score_v3 ?? -1) ||
      a.id.localeCompare(b.id),
  );
}

/** The first link of a vulnerability that is a web address, for its id to link to. */
export function firstLink(vulnerability: ReportVulnerability): string | undefined {
  return vulnerability.links?.find((link) => /^https?:\/\//i.test(link));
}

/** A signature's state in words: verified against the project's trusted keys, failing them, or not checked. */
export function signatureState(verified: boolean | null | undefined): {
  label: string;
  tone: 'success' | 'danger' | 'neutral';
} {
  if (verified === true) return { label: 'Verified', tone: 'success' };
  if (verified === false) return { label: 'Not verified', tone: 'danger' };
  return { label: 'Not checked', tone: 'neutral' };
}

export function accessoryLabel(type: string): string {
  if (type === 'signature.cosign') return 'Cosign signature';
  if (type === 'signature.notation') return 'Notation signature';
  return type;
}
