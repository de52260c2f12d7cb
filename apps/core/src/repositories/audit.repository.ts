import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

export interface NewAuditRecord {
  projectId?: number | null;
  operation: string;
  resourceType: string;
  resource: string;
  username: string;
  opTime?: Date;
}

@Injectable()
export class AuditRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insert(records: NewAuditRecord[], manager: EntityManager = this.dataSource.manager): Promise<void> {
    if (records.length === 0) return;
    const values: string[] = [];
    const params: unknown[] = [];
    for (const r of records) {
      params.push(r.projectId ?? null, r.operation, r.resourceType, r.resource, r.username, r.opTime ?? new Date());
      const n = params.length;
      values.push(`($${n - 5}, $${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`);
    }
    await manager.query(
      `INSERT INTO audit_log (project_id, operation, resource_type, resource, username, op_time) VALUES ${values.join(', ')}`,
      params,
    );
  }
}
