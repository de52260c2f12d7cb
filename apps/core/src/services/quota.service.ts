import { Injectable } from '@nestjs/common';
import { parsePagination, parseSort } from '@wharf/db';
import { DataSource } from 'typeorm';
import { type RequestAuth, principalName } from '../auth/principal.js';
import { INT4_MAX } from '../dtos/project.dto.js';
import { type ListQuotasQueryDto, type QuotaDto, type QuotaUpdateReqDto } from '../dtos/quota.dto.js';
import { ApiError } from '../errors/api-error.js';
import { Paged } from '../http/responses.js';
import { type QuotaRecord, QuotaRepository } from '../repositories/quota.repository.js';
import { AuditService } from './audit.service.js';

/** Harbor's only quota reference: quotas belong to projects. */
const PROJECT_REFERENCE = 'project';

function toDto(record: QuotaRecord): QuotaDto {
  return {
    id: record.id,
    ref: {
      id: record.projectId,
      name: record.projectName,
      ...(record.ownerName === undefined ? {} : { owner_name: record.ownerName }),
    },
    hard: { storage: record.hardStorage },
    used: { storage: record.usedStorage },
    creation_time: record.creationTime.toISOString(),
    update_time: record.updateTime.toISOString(),
  };
}

/** Project storage quotas: the hard limits an administrator sets, and the usage pushes and deletes keep. */
@Injectable()
export class QuotaService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly quotas: QuotaRepository,
    private readonly audit: AuditService,
  ) {}

  async list(query: ListQuotasQueryDto): Promise<Paged<QuotaDto>> {
    const pagination = parsePagination(query.page, query.page_size);
    const sort = parseSort(query.sort);
    const empty = new Paged<QuotaDto>([], 0, pagination.page, pagination.pageSize);
    // Like Harbor, a reference that matches nothing lists nothing rather than failing.
    if (query.reference !== undefined && query.reference !== '' && query.reference !== PROJECT_REFERENCE) return empty;
    let projectId: number | undefined;
    if (query.reference_id !== undefined && query.reference_id !== '') {
      projectId = Number(query.reference_id);
      // Past the id column's range no project is: nothing to list, and nothing to ask the database.
      if (!/^[0-9]{1,10}$/.test(query.reference_id) || projectId > INT4_MAX) return empty;
    }
    const { items, total } = await this.quotas.list({ projectId, sort, pagination });
    return new Paged(items.map(toDto), total, pagination.page, pagination.pageSize);
  }

  async get(id: number): Promise<QuotaDto> {
    const quota = await this.quotas.findById(id);
    if (!quota) throw ApiError.notFound(`quota ${id} not found`);
    return toDto(quota);
  }

  async update(auth: RequestAuth, id: number, body: QuotaUpdateReqDto): Promise<void> {
    const resources = Object.keys(body.hard);
    if (resources.length === 0)
      throw ApiError.badRequest('hard: give the new limits, such as {"storage": 10737418240}');
    const unknown = resources.filter((name) => name !== 'storage');
    if (unknown.length > 0) {
      throw ApiError.badRequest(`hard: ${unknown.join(', ')} cannot be limited; the only quota resource is storage`);
    }
    const storage = body.hard.storage;
    await this.dataSource.transaction(async (manager) => {
      const quota = await this.quotas.setHardStorage(manager, id, storage);
      if (!quota) throw ApiError.notFound(`quota ${id} not found`);
      await this.audit.record(manager, {
        projectId: quota.projectId,
        operation: 'update',
        resourceType: 'quota',
        resource: quota.projectName,
        username: principalName(auth.principal),
      });
    });
  }
}
