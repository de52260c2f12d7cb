import { z } from 'zod';
import { ListQuery } from './repository.dto.js';

/** Harbor's ScannerRegistration. The access credential is never answered. */
export const ScannerRegistrationDto = z
  .object({
    uuid: z.string(),
    name: z.string(),
    description: z.string(),
    url: z.string(),
    disabled: z.boolean(),
    is_default: z.boolean(),
    auth: z.string(),
    skip_certVerify: z.boolean(),
    use_internal_addr: z.boolean(),
    /** Wharf's registration of its built-in scanner: it cannot be changed or deleted. */
    immutable: z.boolean(),
    create_time: z.string(),
    update_time: z.string(),
    adapter: z.string().optional(),
    vendor: z.string().optional(),
    version: z.string().optional(),
    health: z.string().optional(),
    capabilities: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'ScannerRegistration' });
export type ScannerRegistrationDto = z.infer<typeof ScannerRegistrationDto>;

export const ScannerRegistrationListDto = z.array(ScannerRegistrationDto);

/** Harbor's ScannerRegistrationReq; its own checks (name, URL, auth) are the service's, in Harbor's words. */
export const ScannerRegistrationReqDto = z
  .object({
    name: z.string().max(128),
    description: z.string().max(1024).optional(),
    url: z.string().max(1024),
    auth: z.string().max(64).optional(),
    access_credential: z.string().max(4096).optional(),
    skip_certVerify: z.boolean().optional(),
    use_internal_addr: z.boolean().optional(),
    disabled: z.boolean().optional(),
  })
  .meta({ id: 'ScannerRegistrationReq' });
export type ScannerRegistrationReqDto = z.infer<typeof ScannerRegistrationReqDto>;

/** Harbor's ScannerRegistrationSettings: what /scanners/ping tries. */
export const ScannerRegistrationSettingsDto = z
  .object({
    name: z.string().max(128),
    url: z.string().max(1024),
    auth: z.string().max(64).optional(),
    access_credential: z.string().max(4096).optional(),
  })
  .meta({ id: 'ScannerRegistrationSettings' });
export type ScannerRegistrationSettingsDto = z.infer<typeof ScannerRegistrationSettingsDto>;

/** Harbor's IsDefault. */
export const IsDefaultDto = z.object({ is_default: z.boolean() }).meta({ id: 'IsDefault' });
export type IsDefaultDto = z.infer<typeof IsDefaultDto>;

/** Harbor's ProjectScanner. */
export const ProjectScannerDto = z.object({ uuid: z.string().min(1).max(64) }).meta({ id: 'ProjectScanner' });
export type ProjectScannerDto = z.infer<typeof ProjectScannerDto>;

/** Harbor's ScannerAdapterMetadata. */
export const ScannerAdapterMetadataDto = z
  .object({
    scanner: z.object({ name: z.string(), vendor: z.string(), version: z.string() }).meta({ id: 'ScannerInfo' }),
    capabilities: z.array(
      z
        .object({
          type: z.string().optional(),
          consumes_mime_types: z.array(z.string()),
          produces_mime_types: z.array(z.string()),
        })
        .meta({ id: 'ScannerCapability' }),
    ),
    properties: z.record(z.string(), z.string()).optional(),
  })
  .meta({ id: 'ScannerAdapterMetadata' });
export type ScannerAdapterMetadataDto = z.infer<typeof ScannerAdapterMetadataDto>;

export const ScannerParamsDto = z.object({ registration_id: z.string().min(1).max(64) });
export type ScannerParamsDto = z.infer<typeof ScannerParamsDto>;

export const ScannerListQuery = ListQuery;
export type ScannerListQuery = z.infer<typeof ScannerListQuery>;
