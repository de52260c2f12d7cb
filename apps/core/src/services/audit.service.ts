import { Injectable } from '@nestjs/common';
import { ALL_PROJECTS_NAMESPACE, PROJECT_ROLES, robotAllows, roleAllows } from '@wharf/auth';
import { parsePagination, parseQuery, parseSort } from '@wharf/db';
import { type EntityManager } from 'typeorm';
import { type Principal, type ProjectRef } from '../auth/principal.js';
import { type AuditLogDto, type ListAuditLogsQuery } from '../dtos/audit-log.dto.js';
import { Paged } from '../http/responses.js';
import {
  type AuditRecord,
  AuditRepository,
  type AuditScope,
  type NewAuditRecord,
} from '../repositories/audit.repository.js';
import { AccessService } from './access.service.js';

export type AuditOperation = 'create' | 'update' | 'delete' | 'pull';

export interface AuditEntry extends NewAuditRecord {
  operation: AuditOperation;
}

/** Roles whose members may read their project's audit log (Harbor: project admins). */
const LOG_READER_ROLES = PROJECT_ROLES.filter((role) => roleAllows(role, 'log', 'list'));

function toDto(record: AuditRecord): AuditLogDto {
  return {
    id: record.id,
    username: record.username,
    resource: record.resource,
    resource_type: record.resourceType,
    operation: record.operation,
    op_time: record.opTime.toISOString(),
  };
}

/** The audit log: who did what to which resource, and when. */
@Injectable()
export class AuditService {
  constructor(
    private readonly audit: AuditRepository,
    private readonly access: AccessService,
  ) {}

  /** Records an API change; pass the transaction's manager so the record commits with the change or not at all. */
  async record(manager: EntityManager, entry: AuditEntry): Promise<void> {
    await this.audit.insert([entry], manager);
  }

  /**
   * Harbor's `GET /audit-logs`: everything for a system administrator (or a robot granted the system audit log);
   * for anyone else the records of the projects whose log they may read.
   */
  async list(principal: Principal, query: ListAuditLogsQuery): Promise<Paged<AuditLogDto>> {
    return this.page(await this.scopeOf(principal), query);
  }

  /** Harbor's `GET /projects/{project_name}/logs`; the guard has checked the caller may read this project's log. */
  async listOfProject(project: ProjectRef, query: ListAuditLogsQuery): Promise<Paged<AuditLogDto>> {
    return this.page({ kind: 'projects', projectIds: [project.projectId] }, query);
  }

  private async page(scope: AuditScope, query: ListAuditLogsQuery): Promise<Paged<AuditLogDto>> {
    const pagination = parsePagination(query.page, query.page_size);
    const { items, total } = await this.audit.list({
      scope,
      terms: parseQuery(query.q),
      sort: parseSort(query.sort),
      pagination,
    });
    return new Paged(items.map(toDto), total, pagination.page, pagination.pageSize);
  }

  private async scopeOf(principal: Principal): Promise<AuditScope> {
    if (this.access.canInSystem(principal, 'audit-log', 'list')) return { kind: 'all' };
    switch (principal.kind) {
      case 'anonymous':
        return { kind: 'projects', projectIds: [] };
      case 'user':
        return {
          kind: 'projects',
          projectIds: await this.audit.projectIdsOfMember(principal.userId, LOG_READER_ROLES),
        };
      case 'robot': {
        const wanted = { kind: 'project' as const, resource: 'log', action: 'list' };
        if (robotAllows(principal.grants, { ...wanted, namespace: ALL_PROJECTS_NAMESPACE })) {
          return { kind: 'any-project' };
        }
        const names = new Set<string>();
        for (const grant of principal.grants) {
          if (grant.kind === 'project' && robotAllows(principal.grants, { ...wanted, namespace: grant.namespace })) {
            names.add(grant.namespace);
          }
        }
        const projects = await this.audit.projectsByName([...names]);
        return { kind: 'projects', projectIds: projects.map((p) => p.projectId) };
      }
    }
  }
}
