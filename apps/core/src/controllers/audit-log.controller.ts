import { Controller, Get } from '@nestjs/common';
import { Auth, CurrentProject } from '../auth/auth.decorator.js';
import { type ProjectRef, type RequestAuth } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import { type AuditLogDto, AuditLogListDto, ListAuditLogsQuery, ProjectLogsParams } from '../dtos/audit-log.dto.js';
import { type Paged } from '../http/responses.js';
import { Endpoint, Query } from '../openapi/endpoint.decorator.js';
import { AuditService } from '../services/audit.service.js';

const LIST_HEADERS = ['X-Total-Count', 'Link'];

@Controller(API_PREFIX)
export class AuditLogController {
  constructor(private readonly audit: AuditService) {}

  @Get('audit-logs')
  @Endpoint({
    operationId: 'listAuditLogs',
    summary: 'The audit log: all of it for system administrators, else that of the projects whose log the caller reads',
    tag: 'auditlog',
    access: { kind: 'authenticated' },
    query: ListAuditLogsQuery,
    response: { description: 'One page of audit log records', schema: AuditLogListDto, headers: LIST_HEADERS },
    errors: [400],
  })
  list(@Auth() auth: RequestAuth, @Query() query: ListAuditLogsQuery): Promise<Paged<AuditLogDto>> {
    return this.audit.list(auth.principal, query);
  }

  @Get('projects/:project_name/logs')
  @Endpoint({
    operationId: 'getLogs',
    summary: "A project's audit log",
    tag: 'project',
    access: { kind: 'project', resource: 'log', action: 'list', param: 'project_name' },
    params: ProjectLogsParams,
    query: ListAuditLogsQuery,
    response: {
      description: "One page of the project's audit log records",
      schema: AuditLogListDto,
      headers: LIST_HEADERS,
    },
    errors: [400, 404],
  })
  listOfProject(
    @CurrentProject() project: ProjectRef,
    @Query() query: ListAuditLogsQuery,
  ): Promise<Paged<AuditLogDto>> {
    return this.audit.listOfProject(project, query);
  }
}
