import { z } from 'zod';
import { PageQuery } from './list.dto.js';
import { INT4_MAX, IdParam, ProjectParamsDto } from './project.dto.js';

const RoleId = z
  .number({ error: 'is required: 1 projectAdmin, 2 developer, 3 guest, 4 maintainer, 5 limitedGuest' })
  .int('must be a role id from 1 to 5')
  .min(1, 'must be a role id from 1 to 5')
  .max(5, 'must be a role id from 1 to 5');

export const MemberParamsDto = ProjectParamsDto.extend({ mid: IdParam });
export type MemberParamsDto = z.infer<typeof MemberParamsDto>;

export const ListMembersQueryDto = z.object({
  ...PageQuery,
  entityname: z.string().max(255).optional(),
});
export type ListMembersQueryDto = z.infer<typeof ListMembersQueryDto>;

export const UserEntityDto = z
  .object({
    user_id: z.number().int().positive().max(INT4_MAX, 'is not a user id: too large').nullish(),
    username: z.string().max(255).nullish(),
  })
  .meta({ id: 'UserEntity' });
export type UserEntityDto = z.infer<typeof UserEntityDto>;

/** Harbor's UserGroup, as a member request may name one. */
const UserGroupDto = z
  .object({
    id: z.number().int().nullish(),
    group_name: z.string().nullish(),
    group_type: z.number().int().nullish(),
    ldap_group_dn: z.string().nullish(),
  })
  .meta({ id: 'UserGroup' });

/** Harbor's ProjectMember request. Wharf has no user groups, so `member_group` is refused when it names one. */
export const ProjectMemberReqDto = z
  .object({
    role_id: RoleId,
    member_user: UserEntityDto.nullish(),
    member_group: UserGroupDto.nullish(),
  })
  .meta({ id: 'ProjectMember' });
export type ProjectMemberReqDto = z.infer<typeof ProjectMemberReqDto>;

export const RoleRequestDto = z.object({ role_id: RoleId }).meta({ id: 'RoleRequest' });
export type RoleRequestDto = z.infer<typeof RoleRequestDto>;

export const ProjectMemberEntityDto = z
  .strictObject({
    id: z.number().int(),
    project_id: z.number().int(),
    entity_name: z.string(),
    role_name: z.enum(['projectAdmin', 'developer', 'guest', 'maintainer', 'limitedGuest']),
    role_id: z.number().int().min(1).max(5),
    entity_id: z.number().int(),
    entity_type: z.enum(['u', 'g']),
  })
  .meta({ id: 'ProjectMemberEntity' });
export type ProjectMemberEntityDto = z.infer<typeof ProjectMemberEntityDto>;

export const ProjectMemberListDto = z.array(ProjectMemberEntityDto);
export type ProjectMemberListDto = z.infer<typeof ProjectMemberListDto>;
