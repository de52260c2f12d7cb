import { z } from 'zod';
import { IdParam, ProjectParamsDto } from './project.dto.js';

/** A key a project trusts for content trust: a cosign public key or a notation trust-store certificate, in PEM. */
export const TrustedKeyDto = z
  .object({
    id: z.number().int(),
    type: z.enum(['cosign', 'notation']),
    name: z.string(),
    pem: z.string(),
    /** SHA-256 of the public key (cosign, over its SubjectPublicKeyInfo) or of the certificate (notation). */
    fingerprint: z.string(),
    creation_time: z.string(),
  })
  .meta({ id: 'TrustedKey' });
export type TrustedKeyDto = z.infer<typeof TrustedKeyDto>;

export const TrustedKeyListDto = z.array(TrustedKeyDto);

export const TrustedKeyReqDto = z
  .object({
    type: z.enum(['cosign', 'notation']),
    name: z.string().trim().min(1).max(255),
    /** One PEM block: PUBLIC KEY for cosign (ECDSA P-256/P-384/P-521 or RSA), CERTIFICATE for notation. */
    pem: z
      .string()
      .min(1)
      .max(64 * 1024),
  })
  .strict()
  .meta({ id: 'TrustedKeyReq' });
export type TrustedKeyReqDto = z.infer<typeof TrustedKeyReqDto>;

export const TrustedKeyParamsDto = ProjectParamsDto.extend({ key_id: IdParam });
export type TrustedKeyParamsDto = z.infer<typeof TrustedKeyParamsDto>;
