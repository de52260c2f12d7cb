import { z } from 'zod';

export const ComponentHealthDto = z
  .object({
    name: z.string(),
    status: z.enum(['healthy', 'unhealthy']),
    error: z.string().optional(),
  })
  .meta({ id: 'ComponentHealthStatus' });

export const OverallHealthDto = z
  .object({
    status: z.enum(['healthy', 'unhealthy']),
    components: z.array(ComponentHealthDto),
  })
  .meta({ id: 'OverallHealthStatus' });
export type OverallHealthDto = z.infer<typeof OverallHealthDto>;

export const GeneralInfoDto = z
  .object({
    current_time: z.string(),
    registry_url: z.string().optional(),
    external_url: z.string().optional(),
    auth_mode: z.string().optional(),
    primary_auth_mode: z.boolean().optional(),
    project_creation_restriction: z.enum(['everyone', 'adminonly']).optional(),
    self_registration: z.boolean().optional(),
    has_ca_root: z.boolean().optional(),
    harbor_version: z.string().optional(),
    registry_storage_provider_name: z.string().optional(),
    read_only: z.boolean().optional(),
    notification_enable: z.boolean().optional(),
    banner_message: z.string().optional(),
  })
  .meta({ id: 'GeneralInfo' });
export type GeneralInfoDto = z.infer<typeof GeneralInfoDto>;
