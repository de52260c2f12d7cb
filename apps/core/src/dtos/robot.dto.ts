import { robotPermissionsSchema, robotSecretPolicyProblem } from '@wharf/auth';
import { z } from 'zod';
import { PageQuery } from './list.dto.js';
import { Permission } from './user.dto.js';

/** Harbor's robot name grammar: lower case, separators between alphanumerics, and never a "+". */
export const ROBOT_NAME_PATTERN = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
export const ROBOT_NAME_MAX = 255;
export const ROBOT_DESCRIPTION_MAX = 1024;
/** Harbor keeps durations below 2^31 days. */
export const ROBOT_DURATION_MAX = 2_147_483_646;
const INT32_MAX = 2_147_483_647;

const RobotLevelDto = z.enum(['system', 'project']);

/** Days: -1 never expires, 0 takes the system default (robot_token_duration), else a positive number of days. */
const RobotDurationDto = z
  .number()
  .int('must be a whole number of days')
  .min(-1, 'must be -1 (never expires), 0 (the system default) or a positive number of days')
  .max(ROBOT_DURATION_MAX, `must be at most ${ROBOT_DURATION_MAX} days`);

/** A secret chosen by the caller, which must pass the same policy as passwords; empty asks for a generated one. */
const ChosenSecretDto = z.string().superRefine((secret, ctx) => {
  if (secret === '') return;
  const problem = robotSecretPolicyProblem(secret);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

export const RobotIdParams = z.object({
  robot_id: z
    .string()
    .regex(/^[1-9][0-9]{0,9}$/, 'must be a robot id (a positive integer)')
    .transform(Number)
    .pipe(z.number().max(INT32_MAX, 'is not a robot id')),
});
export type RobotIdParams = z.infer<typeof RobotIdParams>;

export const RobotListQuery = z.object({
  q: z.string().optional(),
  sort: z.string().optional(),
  ...PageQuery,
});
export type RobotListQuery = z.infer<typeof RobotListQuery>;

export const RobotCreateDto = z
  .object({
    name: z
      .string()
      .max(ROBOT_NAME_MAX, `must be at most ${ROBOT_NAME_MAX} characters`)
      .regex(
        ROBOT_NAME_PATTERN,
        'must be lower-case letters and digits, optionally separated by single ".", "_" or "-" (no "+")',
      ),
    description: z.string().max(ROBOT_DESCRIPTION_MAX).default(''),
    /** Absent or empty: Wharf generates one. */
    secret: ChosenSecretDto.optional(),
    level: RobotLevelDto,
    disable: z.boolean().default(false),
    duration: RobotDurationDto.default(0),
    permissions: robotPermissionsSchema,
  })
  .meta({ id: 'RobotCreate' });
export type RobotCreateDto = z.infer<typeof RobotCreateDto>;

/**
 * Harbor's portal sends back the whole `Robot` it read; the read-only fields (id, expires_at, editable, times,
 * creator) are accepted and ignored, and name and level must stay what they are.
 */
export const RobotUpdateDto = z
  .object({
    name: z.string().optional(),
    level: RobotLevelDto.optional(),
    description: z.string().max(ROBOT_DESCRIPTION_MAX).default(''),
    disable: z.boolean().default(false),
    /** Absent or null: unchanged. */
    duration: RobotDurationDto.nullable().optional(),
    permissions: robotPermissionsSchema,
  })
  .meta({ id: 'RobotUpdateReq' });
export type RobotUpdateDto = z.infer<typeof RobotUpdateDto>;

export const RobotSecretDto = z
  .object({
    /** Absent or empty: Wharf generates a new secret and answers it. */
    secret: ChosenSecretDto.optional(),
  })
  .meta({ id: 'RobotSecReq' });
export type RobotSecretDto = z.infer<typeof RobotSecretDto>;

// Responses are strict, so a field such as a secret can never slip into one unnoticed.

export const RobotAccessDto = z
  .strictObject({
    resource: z.string(),
    action: z.string(),
    effect: z.enum(['allow', 'deny']).optional(),
  })
  .meta({ id: 'Access' });
export type RobotAccessDto = z.infer<typeof RobotAccessDto>;

export const RobotPermissionDto = z
  .strictObject({
    kind: z.enum(['system', 'project']),
    namespace: z.string(),
    access: z.array(RobotAccessDto),
  })
  .meta({ id: 'RobotPermission' });
export type RobotPermissionDto = z.infer<typeof RobotPermissionDto>;

export const RobotDto = z
  .strictObject({
    id: z.number().int(),
    /** The login name: `robot$<name>` or `robot$<project>+<name>`. */
    name: z.string(),
    description: z.string(),
    level: RobotLevelDto,
    duration: z.number().int().nullable(),
    editable: z.boolean(),
    disable: z.boolean(),
    expires_at: z.number().int(),
    permissions: z.array(RobotPermissionDto),
    creator_type: z.string(),
    creator_ref: z.number().int().optional(),
    creation_time: z.iso.datetime(),
    update_time: z.iso.datetime(),
  })
  .meta({ id: 'Robot' });
export type RobotDto = z.infer<typeof RobotDto>;

export const RobotListDto = z.array(RobotDto);
export type RobotListDto = z.infer<typeof RobotListDto>;

export const RobotCreatedDto = z
  .strictObject({
    id: z.number().int(),
    name: z.string(),
    secret: z.string(),
    creation_time: z.iso.datetime(),
    expires_at: z.number().int(),
  })
  .meta({ id: 'RobotCreated' });
export type RobotCreatedDto = z.infer<typeof RobotCreatedDto>;

/** The new secret when Wharf generated it; empty when the caller chose it (they know it, and it is not echoed). */
export const RobotSecDto = z.strictObject({ secret: z.string().optional() }).meta({ id: 'RobotSec' });
export type RobotSecDto = z.infer<typeof RobotSecDto>;

/** Harbor's `Permission`, the same schema as a user's permission (one schema for the one `Permission` component). */
export const PermissionDto = Permission;
export type PermissionDto = Permission;

/** What robots may be granted: system administrators see both kinds, project administrators the project kind. */
export const PermissionsDto = z
  .strictObject({
    system: z.array(PermissionDto).optional(),
    project: z.array(PermissionDto).optional(),
  })
  .meta({ id: 'Permissions' });
export type PermissionsDto = z.infer<typeof PermissionsDto>;
