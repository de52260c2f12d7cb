/*
 * The parts of Trivy's JSON output Wharf reads, validated before use: the vulnerability report (SchemaVersion 2) of
 * `trivy image --format json` and `trivy sbom --format json`, and `trivy version --format json`.
 */
import { z } from 'zod';

export const TRIVY_SEVERITIES = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type TrivySeverity = (typeof TRIVY_SEVERITIES)[number];

const cvssEntry = z.looseObject({
  V2Vector: z.string().optional(),
  V3Vector: z.string().optional(),
  V2Score: z.number().optional(),
  V3Score: z.number().optional(),
});

export const trivyVulnerabilitySchema = z.looseObject({
  VulnerabilityID: z.string().min(1),
  PkgID: z.string().optional(),
  PkgName: z.string().min(1),
  InstalledVersion: z.string(),
  FixedVersion: z.string().optional(),
  Status: z.string().optional(),
  Layer: z.looseObject({ Digest: z.string().optional(), DiffID: z.string().optional() }).optional(),
  SeveritySource: z.string().optional(),
  PrimaryURL: z.string().optional(),
  Title: z.string().optional(),
  Description: z.string().optional(),
  Severity: z.enum(TRIVY_SEVERITIES),
  CweIDs: z.array(z.string()).optional(),
  VendorSeverity: z.record(z.string(), z.number()).optional(),
  CVSS: z.record(z.string(), cvssEntry).optional(),
  References: z.array(z.string()).optional(),
  PublishedDate: z.string().optional(),
  LastModifiedDate: z.string().optional(),
});
export type TrivyVulnerability = z.infer<typeof trivyVulnerabilitySchema>;

export const trivyResultSchema = z.looseObject({
  Target: z.string(),
  Class: z.string().optional(),
  Type: z.string().optional(),
  Vulnerabilities: z.array(trivyVulnerabilitySchema).nullish(),
});
export type TrivyResult = z.infer<typeof trivyResultSchema>;

export const trivyReportSchema = z.looseObject({
  SchemaVersion: z.literal(2),
  CreatedAt: z.string().optional(),
  ArtifactName: z.string(),
  ArtifactType: z.string(),
  Metadata: z
    .looseObject({
      OS: z.looseObject({ Family: z.string(), Name: z.string() }).optional(),
      ImageID: z.string().optional(),
      DiffIDs: z.array(z.string()).nullish(),
      RepoTags: z.array(z.string()).nullish(),
      RepoDigests: z.array(z.string()).nullish(),
    })
    .optional(),
  Results: z.array(trivyResultSchema).nullish(),
});
export type TrivyReport = z.infer<typeof trivyReportSchema>;

export const trivyVersionSchema = z.looseObject({
  Version: z.string().min(1),
  VulnerabilityDB: z
    .looseObject({
      Version: z.number(),
      NextUpdate: z.string().optional(),
      UpdatedAt: z.string().optional(),
      DownloadedAt: z.string().optional(),
    })
    .optional(),
});
export type TrivyVersion = z.infer<typeof trivyVersionSchema>;
