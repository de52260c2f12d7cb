import { Controller, Get } from '@nestjs/common';
import { API_PREFIX } from '../constants.js';
import {
  type HubVulnerabilityDto,
  HubVulnerabilityListDto,
  ListVulnerabilitiesQuery,
  SecuritySummaryDto,
  SecuritySummaryQuery,
} from '../dtos/scan.dto.js';
import { type Paged } from '../http/responses.js';
import { Endpoint, Query } from '../openapi/endpoint.decorator.js';
import { SecurityHubService } from '../services/security-hub.service.js';

/** Harbor's security hub: the vulnerabilities of the whole registry, for system administrators. */
@Controller(API_PREFIX)
export class SecurityHubController {
  constructor(private readonly hub: SecurityHubService) {}

  @Get('security/summary')
  @Endpoint({
    operationId: 'getSecuritySummary',
    summary:
      "Totals of the findings of every artifact's latest scan, scanned and total artifacts; with_dangerous_cve and " +
      'with_dangerous_artifact add the five CVEs (highest CVSS v3) and artifacts (most critical, high, medium) at most risk',
    tag: 'securityhub',
    access: { kind: 'sysadmin' },
    query: SecuritySummaryQuery,
    response: { description: 'The security summary', schema: SecuritySummaryDto },
    errors: [400],
  })
  summary(@Query() query: SecuritySummaryQuery): Promise<SecuritySummaryDto> {
    return this.hub.summary(query);
  }

  @Get('security/vul')
  @Endpoint({
    operationId: 'ListVulnerabilities',
    summary:
      'Findings in artifacts, highest CVSS v3 first; q takes cve_id, severity, package, project_id, repository_name, ' +
      'tag, digest (exact) and cvss_score_v3 ([min~max]); tune_count answers -1 past 1000; with_tag adds tags',
    tag: 'securityhub',
    access: { kind: 'sysadmin' },
    query: ListVulnerabilitiesQuery,
    response: {
      description: 'One page of findings',
      schema: HubVulnerabilityListDto,
      headers: ['X-Total-Count', 'Link'],
    },
    errors: [400],
  })
  list(@Query() query: ListVulnerabilitiesQuery): Promise<Paged<HubVulnerabilityDto>> {
    return this.hub.list(query);
  }
}
