import { passwordPolicyProblem } from '@wharf/auth';
import { z } from 'zod';
import { PageQuery } from './list.dto.js';

/** Characters Harbor refuses in user names, plus ":" which would split Basic credentials in two. */
const ILLEGAL_USERNAME_CHARACTERS = [',', '"', '~', '#', '$', '%', ':'];
/** Characters Harbor refuses in a user's full name. */
const ILLEGAL_REALNAME_CHARACTERS = [',', '~', '#', '$', '%'];
export const USERNAME_MAX_LENGTH = 255;
const EMAIL_MAX_LENGTH = 255;
const REALNAME_MAX_LENGTH = 255;
const COMMENT_MAX_LENGTH = 30;

/** The address format Harbor accepts: a local part, "@", then a bracketed IPv4 address or a dotted domain. */
const EMAIL_FORMAT =
  /^(([^<>()[\]\\.,;:\s@"]+(\.[^<>()[\]\\.,;:\s@"]+)*)|(".+"))@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))$/;

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/** Length as a person counts it: in characters, not UTF-16 code units. */
function characters(value: string): number {
  return [...value].length;
}

function illegalIn(value: string, illegal: readonly string[]): string[] {
  return illegal.filter((c) => value.includes(c));
}

/** Why `username` cannot name a new user, in words for the person who typed it; undefined when it can. */
export function usernameProblem(username: string): string | undefined {
  const length = characters(username);
  if (length < 1 || length > USERNAME_MAX_LENGTH) {
    return `the user name must be 1 to ${USERNAME_MAX_LENGTH} characters long`;
  }
  const found = illegalIn(username, ILLEGAL_USERNAME_CHARACTERS);
  if (found.length > 0) {
    return `the user name must not contain ${found.map((c) => JSON.stringify(c)).join(' ')}; none of ${ILLEGAL_USERNAME_CHARACTERS.join(' ')} may appear in it`;
  }
  if (CONTROL_CHARACTER.test(username)) return 'the user name must not contain control characters';
  if (username.trim() !== username) return 'the user name must not start or end with white space';
  return undefined;
}

function emailProblem(email: string): string | undefined {
  if (email.length === 0) return 'the email address is required';
  if (characters(email) > EMAIL_MAX_LENGTH)
    return `the email address must be at most ${EMAIL_MAX_LENGTH} characters long`;
  if (!EMAIL_FORMAT.test(email)) return `${JSON.stringify(email)} is not a valid email address`;
  return undefined;
}

function realnameProblem(realname: string): string | undefined {
  const length = characters(realname);
  if (length < 1 || length > REALNAME_MAX_LENGTH) {
    return `the full name must be 1 to ${REALNAME_MAX_LENGTH} characters long`;
  }
  const found = illegalIn(realname, ILLEGAL_REALNAME_CHARACTERS);
  if (found.length > 0) {
    return `the full name must not contain ${found.map((c) => JSON.stringify(c)).join(' ')}; none of ${ILLEGAL_REALNAME_CHARACTERS.join(' ')} may appear in it`;
  }
  if (CONTROL_CHARACTER.test(realname)) return 'the full name must not contain control characters';
  return undefined;
}

function commentProblem(comment: string): string | undefined {
  return characters(comment) > COMMENT_MAX_LENGTH
    ? `the comment must be at most ${COMMENT_MAX_LENGTH} characters long`
    : undefined;
}

function checked(problem: (value: string) => string | undefined) {
  return z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message !== undefined) ctx.addIssue({ code: 'custom', message });
  });
}

const Email = checked(emailProblem);
const Realname = checked(realnameProblem);
const Comment = checked(commentProblem);
const Password = checked((password) => passwordPolicyProblem(password));

export const UserIdParams = z.object({
  user_id: z
    .string()
    .regex(/^[1-9][0-9]{0,9}$/, 'must be a user id, a positive integer')
    .transform(Number)
    .refine((id) => id <= 2_147_483_647, 'is not a user id: too large'),
});
export type UserIdParams = z.infer<typeof UserIdParams>;

/** Harbor's `UserCreationReq`. Fields Harbor ignores (such as sysadmin_flag) are ignored here too. */
export const UserCreationReq = z
  .object({
    username: checked(usernameProblem),
    email: Email,
    realname: Realname,
    comment: Comment.default(''),
    password: Password,
  })
  .meta({ id: 'UserCreationReq' });
export type UserCreationReq = z.infer<typeof UserCreationReq>;

/** Harbor's `UserProfile`: the whole profile is replaced, so an absent comment clears it. */
export const UserProfile = z
  .object({
    email: Email,
    realname: Realname,
    comment: Comment.default(''),
  })
  .meta({ id: 'UserProfile' });
export type UserProfile = z.infer<typeof UserProfile>;

/** Harbor's `PasswordReq`; `old_password` may be left out only by an administrator changing someone else's. */
export const PasswordReq = z
  .object({
    old_password: z.string().max(1024).optional(),
    new_password: Password,
  })
  .meta({ id: 'PasswordReq' });
export type PasswordReq = z.infer<typeof PasswordReq>;

export const UserSysAdminFlag = z
  .object({
    sysadmin_flag: z.boolean(),
  })
  .meta({ id: 'UserSysAdminFlag' });
export type UserSysAdminFlag = z.infer<typeof UserSysAdminFlag>;

export const ListUsersQuery = z.object({
  q: z.string().optional(),
  sort: z.string().optional(),
  ...PageQuery,
  /** Harbor also takes these two outside q, as fuzzy matches. */
  username: z.string().max(USERNAME_MAX_LENGTH).optional(),
  email: z.string().max(EMAIL_MAX_LENGTH).optional(),
});
export type ListUsersQuery = z.infer<typeof ListUsersQuery>;

export const SearchUsersQuery = z.object({
  username: z.string().max(USERNAME_MAX_LENGTH),
  ...PageQuery,
});
export type SearchUsersQuery = z.infer<typeof SearchUsersQuery>;

export const PermissionsQuery = z.object({
  scope: z.string().max(1024).optional(),
  relative: z.enum(['true', 'false']).optional(),
});
export type PermissionsQuery = z.infer<typeof PermissionsQuery>;

export const UserResp = z
  .strictObject({
    email: z.string(),
    realname: z.string(),
    comment: z.string(),
    user_id: z.number().int(),
    username: z.string(),
    sysadmin_flag: z.boolean(),
    admin_role_in_auth: z.boolean(),
    creation_time: z.iso.datetime(),
    update_time: z.iso.datetime(),
  })
  .meta({ id: 'UserResp' });
export type UserResp = z.infer<typeof UserResp>;

export const UserRespList = z.array(UserResp);
export type UserRespList = z.infer<typeof UserRespList>;

export const UserSearchRespItem = z
  .strictObject({
    user_id: z.number().int(),
    username: z.string(),
  })
  .meta({ id: 'UserSearchRespItem' });
export type UserSearchRespItem = z.infer<typeof UserSearchRespItem>;

export const UserSearchRespList = z.array(UserSearchRespItem);
export type UserSearchRespList = z.infer<typeof UserSearchRespList>;

export const Permission = z
  .strictObject({
    resource: z.string(),
    action: z.string(),
  })
  .meta({ id: 'Permission' });
export type Permission = z.infer<typeof Permission>;

export const PermissionList = z.array(Permission);
export type PermissionList = z.infer<typeof PermissionList>;
