import { Injectable } from '@nestjs/common';
import { type EntityManager } from 'typeorm';
import { AuditRepository, type NewAuditRecord } from '../repositories/audit.repository.js';

export type AuditOperation = 'create' | 'update' | 'delete' | 'pull';

export interface AuditEntry extends NewAuditRecord {
  operation: AuditOperation;
}

/** The audit log: who did what to which resource, and when. */
@Injectable()
export class AuditService {
  constructor(private readonly audit: AuditRepository) {}

  /** Records an API change; pass the transaction's manager so the record commits with the change or not at all. */
  async record(manager: EntityManager, entry: AuditEntry): Promise<void> {
    await this.audit.insert([entry], manager);
  }
}
