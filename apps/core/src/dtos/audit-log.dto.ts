import { z } from 'zod';
import { PageQuery } from './list.dto.js';

/** Harbor's `AuditLog`: one operation on one resource. */
export const AuditLogDto = z
  .object({
    id: z.number().int(),
    username: z.string(),
    resource: z.string(),
    resource_type: z.string(),
    operation: z.string(),
    op_time: z.iso.datetime(),
  })
  .meta({ id: 'AuditLog' });
export type AuditLogDto = z.infer<typeof AuditLogDto>;

export const AuditLogListDto = z.array(AuditLogDto);
export type AuditLogListDto = z.infer<typeof AuditLogListDto>;

/**
 * A list's `q`, `sort`, `page` and `page_size`. The query language itself is checked by the list parser, which
 * answers 400 naming the bad term.
 */
export const ListAuditLogsQuery = z.object({
  q: z.string().max(2048).optional(),
  sort: z.string().max(256).optional(),
  ...PageQuery,
});
export type ListAuditLogsQuery = z.infer<typeof ListAuditLogsQuery>;

export const ProjectLogsParams = z.object({
  project_name: z.string().min(1).max(255),
});
export type ProjectLogsParams = z.infer<typeof ProjectLogsParams>;
