import { z } from 'zod';

/** Harbor's `Statistic`; the totals are zero for anyone but a system administrator, as in Harbor. */
export const StatisticDto = z
  .object({
    private_project_count: z.number().int().min(0),
    private_repo_count: z.number().int().min(0),
    public_project_count: z.number().int().min(0),
    public_repo_count: z.number().int().min(0),
    total_project_count: z.number().int().min(0),
    total_repo_count: z.number().int().min(0),
    total_storage_consumption: z.number().int().min(0),
  })
  .meta({ id: 'Statistic' });
export type StatisticDto = z.infer<typeof StatisticDto>;
