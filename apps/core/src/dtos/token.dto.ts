import { z } from 'zod';

/** More scopes than any client asks for at once; a request past it is refused rather than evaluated. */
export const MAX_TOKEN_SCOPES = 100;
const MAX_SCOPE_LENGTH = 4096;

const scopeValue = z.string().max(MAX_SCOPE_LENGTH);

/** The query of a token request in the Docker token protocol (`GET /service/token`). */
export const TokenQueryDto = z.object({
  /** The registry the token is for; Wharf's is `harbor-registry`. */
  service: z.string().min(1).max(255),
  /** `type:name:actions`, repeated, each value possibly holding several separated by spaces. */
  scope: z.union([scopeValue, z.array(scopeValue).max(MAX_TOKEN_SCOPES)]).optional(),
  /** The account the client logs in as; the credentials decide who the token is for. */
  account: z.string().max(255).optional(),
  client_id: z.string().max(255).optional(),
  /** Clients ask for a refresh token this way; Wharf issues access tokens only, as Harbor. */
  offline_token: z.enum(['true', 'false']).optional(),
});
export type TokenQueryDto = z.infer<typeof TokenQueryDto>;

export const TokenResponseDto = z
  .object({
    token: z.string(),
    /** The same token under the OAuth 2 name some clients read. */
    access_token: z.string(),
    /** Seconds the token stays valid. */
    expires_in: z.number().int().positive(),
    /** RFC 3339 time of issue. */
    issued_at: z.string(),
  })
  .meta({ id: 'TokenResponse' });
export type TokenResponseDto = z.infer<typeof TokenResponseDto>;
