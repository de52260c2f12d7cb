import { Injectable } from '@nestjs/common';
import { parsePagination, parseQuery } from '@wharf/db';
import {
  type HubVulnerabilityDto,
  type ListVulnerabilitiesQuery,
  type SecuritySummaryDto,
  type SecuritySummaryQuery,
} from '../dtos/scan.dto.js';
import { Paged } from '../http/responses.js';
import { SecurityHubRepository } from '../repositories/security-hub.repository.js';

/** Harbor's tune_count: past this many findings the list answers -1 instead of counting them all. */
const TUNED_COUNT_LIMIT = 1000;

/** Harbor's security hub: the registry's vulnerabilities at a glance, and the findings with filters. */
@Injectable()
export class SecurityHubService {
  constructor(private readonly hub: SecurityHubRepository) {}

  async summary(query: SecuritySummaryQuery): Promise<SecuritySummaryDto> {
    const [totals, cves, artifacts] = await Promise.all([
      this.hub.totals(),
      query.with_dangerous_cve ? this.hub.dangerousCves() : undefined,
      query.with_dangerous_artifact ? this.hub.dangerousArtifacts() : undefined,
    ]);
    return {
      critical_cnt: totals.critical,
      high_cnt: totals.high,
      medium_cnt: totals.medium,
      low_cnt: totals.low,
      none_cnt: totals.none,
      unknown_cnt: totals.unknown,
      total_vuls: totals.critical + totals.high + totals.medium + totals.low + totals.none + totals.unknown,
      scanned_cnt: totals.scanned,
      total_artifact: totals.artifacts,
      fixable_cnt: totals.fixable,
      ...(cves
        ? {
            dangerous_cves: cves.map((cve) => ({
              cve_id: cve.cveId,
              severity: cve.severity,
              cvss_score_v3: cve.cvssScoreV3,
              desc: cve.description,
              package: cve.package,
              version: cve.version,
            })),
          }
        : {}),
      ...(artifacts
        ? {
            dangerous_artifacts: artifacts.map((a) => ({
              project_id: a.projectId,
              repository_name: a.repository,
              digest: a.digest,
              critical_cnt: a.critical,
              high_cnt: a.high,
              medium_cnt: a.medium,
            })),
          }
        : {}),
    };
  }

  async list(query: ListVulnerabilitiesQuery): Promise<Paged<HubVulnerabilityDto>> {
    const pagination = parsePagination(query.page, query.page_size);
    const { items, total } = await this.hub.findings(parseQuery(query.q), pagination, {
      withTags: query.with_tag ?? false,
      ...(query.tune_count ? { capTotal: TUNED_COUNT_LIMIT } : {}),
    });
    return new Paged(
      items.map((item) => ({
        project_id: item.projectId,
        repository_name: item.repository,
        digest: item.digest,
        ...(item.tags ? { tags: item.tags } : {}),
        cve_id: item.cveId,
        severity: item.severity,
        ...(item.cvssScoreV3 === null ? {} : { cvss_v3_score: item.cvssScoreV3 }),
        package: item.package,
        version: item.version,
        fixed_version: item.fixedVersion,
        desc: item.description,
        links: item.links,
      })),
      total,
      pagination.page,
      pagination.pageSize,
    );
  }
}
