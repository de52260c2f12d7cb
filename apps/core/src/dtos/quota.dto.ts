import { z } from 'zod';
import { PageQuery } from './list.dto.js';
import { IdParam, MAX_STORAGE_BYTES, ResourceListDto } from './project.dto.js';

export const QuotaParamsDto = z.object({ id: IdParam });
export type QuotaParamsDto = z.infer<typeof QuotaParamsDto>;

export const ListQuotasQueryDto = z.object({
  ...PageQuery,
  sort: z.string().optional(),
  reference: z.string().max(64).optional(),
  reference_id: z.string().max(64).optional(),
});
export type ListQuotasQueryDto = z.infer<typeof ListQuotasQueryDto>;

/** Harbor's QuotaUpdateReq; `hard` is a resource list, of which Wharf knows `storage`. */
export const QuotaUpdateReqDto = z
  .object({
    hard: z.record(
      z.string(),
      z
        .number({ error: 'must be a number' })
        .int('must be a whole number')
        .min(-1, 'must be -1 (unlimited) or a number of bytes')
        .max(MAX_STORAGE_BYTES, `must be at most ${MAX_STORAGE_BYTES}`),
      { error: 'is required: an object such as {"storage": 10737418240}' },
    ),
  })
  .meta({ id: 'QuotaUpdateReq' });
export type QuotaUpdateReqDto = z.infer<typeof QuotaUpdateReqDto>;

/** What a project quota refers to: Harbor's QuotaRefObject for the `project` reference. */
export const QuotaRefDto = z
  .strictObject({
    id: z.number().int(),
    name: z.string(),
    owner_name: z.string().optional(),
  })
  .meta({ id: 'QuotaRefObject' });
export type QuotaRefDto = z.infer<typeof QuotaRefDto>;

export const QuotaDto = z
  .strictObject({
    id: z.number().int(),
    ref: QuotaRefDto,
    hard: ResourceListDto,
    used: ResourceListDto,
    creation_time: z.iso.datetime(),
    update_time: z.iso.datetime(),
  })
  .meta({ id: 'Quota' });
export type QuotaDto = z.infer<typeof QuotaDto>;

export const QuotaListDto = z.array(QuotaDto);
export type QuotaListDto = z.infer<typeof QuotaListDto>;
