import { type Severity, type VulnerabilityItem, type VulnerabilityReport } from '@wharf/scanner';
import { type ScanReportRepository } from '../repositories/scan-report.repository.js';

/** The scanner registration fixtures scan with unless told otherwise. */
export const FIXTURE_REGISTRATION = '5f0c9a0e-1d7e-4a57-9c63-1c7c2f0f3a11';

/** A finding of `id` in `pkg` at `version`, with what a Trivy report usually carries. */
export function finding(
  id: string,
  severity: Severity,
  pkg = 'openssl',
  version = '1.1.1',
  fix = '',
): VulnerabilityItem {
  return {
    id,
    package: pkg,
    version,
    fix_version: fix,
    severity,
    description: `${id} in ${pkg}`,
    links: [`https://avd.aquasec.com/nvd/${id.toLowerCase()}`],
    preferred_cvss: {
      score_v3: severity === 'Critical' ? 9.8 : severity === 'High' ? 7.5 : 5.3,
      vector_v3: 'CVSS:3.1/AV:N',
    },
    cwe_ids: ['CWE-79'],
    vendor_attributes: { CVSS: { nvd: { V3Score: 9.8 } } },
  };
}

/** Builds scan reports for tests through the repository itself, as the scan job stores them. */
export class ScanReportFactory {
  constructor(private readonly reports: ScanReportRepository) {}

  /** A finished scan of `digest` with these findings; returns the report's uuid. */
  async scanned(
    digest: string,
    vulnerabilities: VulnerabilityItem[],
    registration = FIXTURE_REGISTRATION,
  ): Promise<string> {
    const uuid = await this.reports.startReport({ digest }, registration, {
      scanner: { name: 'Trivy', vendor: 'Aqua Security', version: 'v0.50.0' },
    });
    await this.reports.markRunning(uuid);
    const report: VulnerabilityReport = {
      generated_at: new Date().toISOString(),
      scanner: { name: 'Trivy', vendor: 'Aqua Security', version: 'v0.50.0' },
      severity: 'None',
      vulnerabilities,
    };
    if (!(await this.reports.finishReport(uuid, report, 'scanned\n'))) throw new Error(`report ${uuid} did not finish`);
    return uuid;
  }
}
