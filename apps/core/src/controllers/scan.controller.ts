import { Controller, Get, Post } from '@nestjs/common';
import { z } from 'zod';
import { Auth, CurrentProject } from '../auth/auth.decorator.js';
import { type ProjectRef, type RequestAuth } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import { ArtifactParams } from '../dtos/artifact.dto.js';
import { ScanLogParams, ScanRequestDto } from '../dtos/scan.dto.js';
import { Body, Endpoint, Params } from '../openapi/endpoint.decorator.js';
import { ScanService } from '../services/scan.service.js';

const ARTIFACT = 'projects/:project_name/repositories/:repository_name/artifacts/:reference';

/** Harbor's scans of an artifact: start one, stop it, read a report's log. */
@Controller(API_PREFIX)
export class ScanController {
  constructor(private readonly scans: ScanService) {}

  @Post(`${ARTIFACT}/scan`)
  @Endpoint({
    operationId: 'scanArtifact',
    summary:
      "Scans the artifact for vulnerabilities with the project's scanner (an index through its child images); " +
      'scan_type sbom is not supported yet (400); 409 while a scan of it is unfinished',
    tag: 'scan',
    access: { kind: 'project', resource: 'scan', action: 'create', param: 'project_name' },
    params: ArtifactParams,
    body: ScanRequestDto,
    bodyOptional: true,
    status: 202,
    response: { description: 'The scan was started' },
    errors: [400, 404, 409],
  })
  scan(
    @Auth() auth: RequestAuth,
    @CurrentProject() project: ProjectRef,
    @Params() params: ArtifactParams,
    @Body() body: ScanRequestDto | undefined,
  ): Promise<void> {
    return this.scans.scan(auth, project, params, body);
  }

  @Post(`${ARTIFACT}/scan/stop`)
  @Endpoint({
    operationId: 'stopScanArtifact',
    summary: "Stops the artifact's unfinished scan; 400 when none is running",
    tag: 'scan',
    access: { kind: 'project', resource: 'scan', action: 'stop', param: 'project_name' },
    params: ArtifactParams,
    body: ScanRequestDto,
    bodyOptional: true,
    status: 202,
    response: { description: 'The scan was stopped' },
    errors: [400, 404],
  })
  stop(
    @CurrentProject() project: ProjectRef,
    @Params() params: ArtifactParams,
    @Body() body: ScanRequestDto | undefined,
  ): Promise<void> {
    return this.scans.stop(project, params, body);
  }

  @Get(`${ARTIFACT}/scan/:report_id/log`)
  @Endpoint({
    operationId: 'getReportLog',
    summary: 'The log of a scan report of the artifact (or of one of its child images)',
    tag: 'scan',
    access: { kind: 'project', resource: 'scan', action: 'read', param: 'project_name' },
    params: ScanLogParams,
    response: { description: 'The log', schema: z.string() },
    errors: [400, 404],
  })
  log(@CurrentProject() project: ProjectRef, @Params() params: ScanLogParams): Promise<string> {
    return this.scans.log(project, params);
  }
}
