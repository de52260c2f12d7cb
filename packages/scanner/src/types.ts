/*
 * The model every scanner produces and Wharf stores: the shapes of Harbor's Pluggable Scanner Adapter API v1 (metadata,
 * scan request, the Harbor vulnerability report), so that the built-in Trivy scanner and an external adapter (Clair,
 * Grype, Trivy's own adapter) are read the same way.
 */

/** Media types of the Scanner Adapter API v1. */
export const ScannerMime = {
  Metadata: 'application/vnd.scanner.adapter.metadata+json; version=1.0',
  ScanRequest: 'application/vnd.scanner.adapter.scan.request+json; version=1.0',
  ScanResponse: 'application/vnd.scanner.adapter.scan.response+json; version=1.0',
  Error: 'application/vnd.scanner.adapter.error+json; version=1.0',
  /** Harbor's vulnerability report, the one Wharf asks scanners for. */
  VulnerabilityReport: 'application/vnd.security.vulnerability.report; version=1.1',
  /** The older name of the same report, still produced by some adapters. */
  HarborVulnerabilityReport: 'application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0',
  SbomReport: 'application/vnd.security.sbom.report+json; version=1.0',
} as const;

/** Harbor's severities, lowest first; `None` is a report with no finding. */
export const SEVERITIES = ['None', 'Unknown', 'Low', 'Medium', 'High', 'Critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Whether `severity` is `threshold` or worse. */
export function atLeast(severity: Severity, threshold: Severity): boolean {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(threshold);
}

/** The scanner behind an adapter, as its metadata names it. */
export interface ScannerInfo {
  name: string;
  vendor: string;
  version: string;
}

export interface ScannerCapability {
  /** `vulnerability` or `sbom` (API v1.2); absent means vulnerability. */
  type?: 'vulnerability' | 'sbom';
  consumes_mime_types: string[];
  produces_mime_types: string[];
}

/** GET /api/v1/metadata. */
export interface ScannerAdapterMetadata {
  scanner: ScannerInfo;
  capabilities: ScannerCapability[];
  properties?: Record<string, string>;
}

/** POST /api/v1/scan: the artifact to scan and how the scanner may pull it. */
export interface ScanRequest {
  registry: {
    /** Where the scanner reaches the registry, e.g. `http://wharf.internal:8080`. */
    url: string;
    /** An HTTP Authorization value, `Basic …` or `Bearer …`, valid for pulling the artifact. */
    authorization?: string;
  };
  artifact: {
    repository: string;
    digest: string;
    tag?: string;
    mime_type: string;
  };
  enabled_capabilities?: Array<{ type: 'vulnerability' | 'sbom'; produces_mime_types: string[]; parameters?: unknown }>;
}

export interface CvssScores {
  score_v2?: number | null;
  score_v3?: number | null;
  vector_v2?: string;
  vector_v3?: string;
}

/** One finding of a Harbor vulnerability report: a vulnerability of a package at a version. */
export interface VulnerabilityItem {
  id: string;
  package: string;
  version: string;
  fix_version?: string;
  severity: Severity;
  description?: string;
  links?: string[];
  layer?: { digest?: string; diff_id?: string };
  preferred_cvss?: CvssScores;
  cwe_ids?: string[];
  vendor_attributes?: Record<string, unknown>;
}

/** Harbor's vulnerability report for one artifact. */
export interface VulnerabilityReport {
  generated_at: string;
  artifact?: { repository: string; digest: string; mime_type: string };
  scanner: ScannerInfo;
  /** The highest severity of its findings; `None` without any. */
  severity: Severity;
  vulnerabilities: VulnerabilityItem[];
}
