import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AuditRepository } from '../repositories/audit.repository.js';
import { OutboxRepository } from '../repositories/outbox.repository.js';
import { OUTBOX_RETENTION_MS } from './outbox-consumer.service.js';

/** The operations the audit log records; an event type is one of them joined to a resource type. */
export const AUDIT_OPERATIONS = ['create', 'update', 'delete', 'pull'] as const;

const EVENT_TYPE = new RegExp(`^(?:${AUDIT_OPERATIONS.join('|')})(?:_[a-z][a-z_]*)?$`);

/** Longest retention accepted: ten years. */
export const MAX_AUDIT_RETENTION_HOURS = 24 * 366 * 10;

/**
 * The parameters of an audit log purge, as Harbor names them: records older than `audit_retention_hour` hours
 * whose event type is listed in `include_event_types` (a comma-separated list; an operation alone, such as
 * `pull`, stands for every event type of that operation, as in Harbor's earlier versions) are deleted.
 */
export const auditPurgeParameters = z.strictObject({
  audit_retention_hour: z.coerce
    .number()
    .int('audit_retention_hour must be a whole number of hours')
    .min(1, 'audit_retention_hour must be at least 1')
    .max(MAX_AUDIT_RETENTION_HOURS, `audit_retention_hour must be at most ${MAX_AUDIT_RETENTION_HOURS}`),
  include_event_types: z
    .string()
    .max(4096)
    .transform((value) => [
      ...new Set(
        value
          .split(',')
          .map((type) => type.trim().toLowerCase())
          .filter((type) => type.length > 0),
      ),
    ])
    .refine((types) => types.every((type) => EVENT_TYPE.test(type)), {
      message: `include_event_types lists event types such as create_artifact or pull_artifact, or operations (${AUDIT_OPERATIONS.join(', ')})`,
    }),
  dry_run: z.boolean().default(false),
});

export type AuditPurgeParameters = z.output<typeof auditPurgeParameters>;

export interface AuditPurgeContext {
  log(line: string): Promise<void> | void;
  signal?: AbortSignal;
}

export interface AuditPurgeResult {
  /** Audit records deleted, or that would be in a dry run. */
  purged: number;
  /** Delivered outbox events deleted (none in a dry run). */
  outboxPurged: number;
  stopped: boolean;
}

const BATCH_SIZE = 10_000;

/**
 * Purges the audit log as Harbor's purge job does, in batches so a large log neither holds one long transaction
 * nor blocks new records; a stop takes effect between batches. The outbox's delivered events, already copied into
 * the audit log, are deleted in the same run.
 */
@Injectable()
export class AuditPurgeService {
  constructor(
    private readonly audit: AuditRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async purge(parameters: AuditPurgeParameters, context: AuditPurgeContext): Promise<AuditPurgeResult> {
    const before = new Date(Date.now() - parameters.audit_retention_hour * 3_600_000);
    const types = parameters.include_event_types;
    const filter = {
      operations: types.filter((type) => !type.includes('_')),
      eventTypes: types.filter((type) => type.includes('_')),
    };
    const dryRun = parameters.dry_run;
    await context.log(
      `purging audit records older than ${parameters.audit_retention_hour} hour(s) (before ${before.toISOString()})` +
        ` of event types ${types.length > 0 ? types.join(', ') : '(none)'}${dryRun ? ' (dry run)' : ''}`,
    );
    const result: AuditPurgeResult = { purged: 0, outboxPurged: 0, stopped: false };
    if (types.length === 0) {
      await context.log('no event type selected: nothing to purge');
      return result;
    }
    if (dryRun) {
      result.purged = await this.audit.purgeBatch(before, filter, BATCH_SIZE, true);
      await context.log(`${result.purged} audit record(s) would be purged`);
      return result;
    }
    for (;;) {
      if (context.signal?.aborted) {
        result.stopped = true;
        await context.log(`stopped after purging ${result.purged} audit record(s)`);
        return result;
      }
      const n = await this.audit.purgeBatch(before, filter, BATCH_SIZE, false);
      result.purged += n;
      if (n < BATCH_SIZE) break;
    }
    await context.log(`purged ${result.purged} audit record(s)`);
    for (;;) {
      const n = await this.outbox.purgeDelivered(OUTBOX_RETENTION_MS, BATCH_SIZE);
      result.outboxPurged += n;
      if (n < BATCH_SIZE || context.signal?.aborted) break;
    }
    await context.log(`purged ${result.outboxPurged} delivered outbox event(s)`);
    return result;
  }
}
