import { z } from 'zod';

const StringConfigItem = z.strictObject({ value: z.string(), editable: z.boolean() }).meta({ id: 'StringConfigItem' });
const IntegerConfigItem = z
  .strictObject({ value: z.number().int(), editable: z.boolean() })
  .meta({ id: 'IntegerConfigItem' });

/** Harbor's ConfigurationsResponse, for the settings Wharf has. */
export const ConfigurationsResponseDto = z
  .strictObject({
    auth_mode: StringConfigItem,
    project_creation_restriction: StringConfigItem,
    token_expiration: IntegerConfigItem,
    robot_token_duration: IntegerConfigItem,
    storage_per_project: IntegerConfigItem,
  })
  .meta({ id: 'ConfigurationsResponse' });
export type ConfigurationsResponseDto = z.infer<typeof ConfigurationsResponseDto>;

/**
 * Harbor's Configurations: any subset of the settings, by name. The keys and values are checked against the
 * settings Wharf has, so an unknown or read-only key is refused by name rather than silently dropped.
 */
export const ConfigurationsDto = z
  .record(z.string().max(128), z.unknown(), {
    error: 'must be an object of settings, such as {"project_creation_restriction": "adminonly"}',
  })
  .meta({ id: 'Configurations' });
export type ConfigurationsDto = z.infer<typeof ConfigurationsDto>;
