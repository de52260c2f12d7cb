import { z } from 'zod';
import { PageQuery } from './list.dto.js';
import { BooleanQueryParam } from './project.dto.js';
import { ArtifactReference, RepositoryNameParam } from './repository.dto.js';

/** Harbor's Scanner: the scanner behind a report. */
export const ScannerDto = z
  .object({ name: z.string(), vendor: z.string(), version: z.string() })
  .meta({ id: 'Scanner' });

/** Harbor's VulnerabilitySummary: counts of a report's findings; `summary` names only severities found. */
export const VulnerabilitySummaryDto = z
  .object({
    total: z.number().int(),
    fixable: z.number().int(),
    summary: z.record(z.string(), z.number().int()),
  })
  .meta({ id: 'VulnerabilitySummary' });

/** Harbor's NativeReportSummary: an artifact's scan at a glance (an index's, merged from its children's). */
export const NativeReportSummaryDto = z
  .object({
    report_id: z.string(),
    scan_status: z.string(),
    severity: z.string().optional(),
    duration: z.number().int().optional(),
    summary: VulnerabilitySummaryDto.optional(),
    start_time: z.string().optional(),
    end_time: z.string().optional(),
    complete_percent: z.number().int().optional(),
    scanner: ScannerDto.optional(),
  })
  .meta({ id: 'NativeReportSummary' });
export type NativeReportSummaryDto = z.infer<typeof NativeReportSummaryDto>;

/** Harbor's ScanOverview: report summaries keyed by the report's mime type. */
export const ScanOverviewDto = z.record(z.string(), NativeReportSummaryDto).meta({ id: 'ScanOverview' });
export type ScanOverviewDto = z.infer<typeof ScanOverviewDto>;

const CvssDto = z.object({
  score_v2: z.number().nullable().optional(),
  score_v3: z.number().nullable().optional(),
  vector_v2: z.string().optional(),
  vector_v3: z.string().optional(),
});

/** One finding of Harbor's vulnerability report. */
export const ReportVulnerabilityDto = z
  .object({
    id: z.string(),
    package: z.string(),
    version: z.string(),
    fix_version: z.string().optional(),
    severity: z.string(),
    description: z.string().optional(),
    links: z.array(z.string()).optional(),
    preferred_cvss: CvssDto.optional(),
    cwe_ids: z.array(z.string()).optional(),
    vendor_attributes: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'ReportVulnerability' });

/** Harbor's vulnerability report of an artifact, rebuilt from the stored findings. */
export const VulnerabilityReportDto = z
  .object({
    generated_at: z.string(),
    scanner: ScannerDto,
    severity: z.string(),
    vulnerabilities: z.array(ReportVulnerabilityDto),
  })
  .meta({ id: 'VulnerabilityReport' });

/** The vulnerabilities addition: the report keyed by its mime type; `{}` for an artifact never scanned. */
export const VulnerabilitiesAdditionDto = z.record(z.string(), VulnerabilityReportDto).meta({ id: 'Vulnerabilities' });
export type VulnerabilitiesAdditionDto = z.infer<typeof VulnerabilitiesAdditionDto>;

export const SecuritySummaryQuery = z.object({
  with_dangerous_cve: BooleanQueryParam.optional(),
  with_dangerous_artifact: BooleanQueryParam.optional(),
});
export type SecuritySummaryQuery = z.infer<typeof SecuritySummaryQuery>;

export const DangerousCveDto = z
  .object({
    cve_id: z.string(),
    severity: z.string(),
    cvss_score_v3: z.number(),
    desc: z.string(),
    package: z.string(),
    version: z.string(),
  })
  .meta({ id: 'DangerousCVE' });

export const DangerousArtifactDto = z
  .object({
    project_id: z.number().int(),
    repository_name: z.string(),
    digest: z.string(),
    critical_cnt: z.number().int(),
    high_cnt: z.number().int(),
    medium_cnt: z.number().int(),
  })
  .meta({ id: 'DangerousArtifact' });

export const SecuritySummaryDto = z
  .object({
    critical_cnt: z.number().int(),
    high_cnt: z.number().int(),
    medium_cnt: z.number().int(),
    low_cnt: z.number().int(),
    none_cnt: z.number().int(),
    unknown_cnt: z.number().int(),
    total_vuls: z.number().int(),
    scanned_cnt: z.number().int(),
    total_artifact: z.number().int(),
    fixable_cnt: z.number().int(),
    dangerous_cves: z.array(DangerousCveDto).optional(),
    dangerous_artifacts: z.array(DangerousArtifactDto).optional(),
  })
  .meta({ id: 'SecuritySummary' });
export type SecuritySummaryDto = z.infer<typeof SecuritySummaryDto>;

export const ListVulnerabilitiesQuery = z.object({
  q: z.string().optional(),
  ...PageQuery,
  tune_count: BooleanQueryParam.optional(),
  with_tag: BooleanQueryParam.optional(),
});
export type ListVulnerabilitiesQuery = z.infer<typeof ListVulnerabilitiesQuery>;

/** Harbor's security hub VulnerabilityItem: a finding in one artifact. */
export const HubVulnerabilityDto = z
  .object({
    project_id: z.number().int(),
    repository_name: z.string(),
    digest: z.string(),
    tags: z.array(z.string()).optional(),
    cve_id: z.string(),
    severity: z.string(),
    status: z.string().optional(),
    cvss_v3_score: z.number().optional(),
    package: z.string(),
    version: z.string(),
    fixed_version: z.string(),
    desc: z.string(),
    links: z.array(z.string()),
  })
  .meta({ id: 'VulnerabilityItem' });
export type HubVulnerabilityDto = z.infer<typeof HubVulnerabilityDto>;
export const HubVulnerabilityListDto = z.array(HubVulnerabilityDto);

/** Harbor's ScanType: what a scan request asks for (a vulnerability report unless it says sbom). */
export const ScanRequestDto = z
  .object({ scan_type: z.enum(['vulnerability', 'sbom']).optional() })
  .meta({ id: 'ScanType' });
export type ScanRequestDto = z.infer<typeof ScanRequestDto>;

export const ScanLogParams = z.object({
  project_name: z.string().min(1),
  repository_name: RepositoryNameParam,
  reference: ArtifactReference,
  report_id: z.string().min(1).max(64),
});
export type ScanLogParams = z.infer<typeof ScanLogParams>;
