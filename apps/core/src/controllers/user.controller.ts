import { Controller, Delete, Get, Ip, Post, Put } from '@nestjs/common';
import { Auth } from '../auth/auth.decorator.js';
import { type RequestAuth } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import {
  ListUsersQuery,
  PasswordReq,
  PermissionList,
  PermissionsQuery,
  SearchUsersQuery,
  UserCreationReq,
  UserIdParams,
  UserProfile,
  UserResp,
  UserRespList,
  type UserSearchRespItem,
  UserSearchRespList,
  UserSysAdminFlag,
} from '../dtos/user.dto.js';
import { type Paged, type WithHeaders } from '../http/responses.js';
import { Body, Endpoint, Params, Query } from '../openapi/endpoint.decorator.js';
import { UserService } from '../services/user.service.js';

const TAG = 'user';
const LIST_HEADERS = ['X-Total-Count', 'Link'];

@Controller(API_PREFIX)
export class UserController {
  constructor(private readonly users: UserService) {}

  @Post('users')
  @Endpoint({
    operationId: 'createUser',
    summary: 'Creates a local user',
    tag: TAG,
    access: { kind: 'system', resource: 'user', action: 'create' },
    body: UserCreationReq,
    status: 201,
    response: { description: 'The user was created; Location names it', headers: ['Location'] },
    errors: [400, 409],
  })
  create(@Auth() auth: RequestAuth, @Body() body: UserCreationReq): Promise<WithHeaders<undefined>> {
    return this.users.create(auth, body);
  }

  @Get('users')
  @Endpoint({
    operationId: 'listUsers',
    summary: 'Lists users; q filters by username, email (exact or ~fuzzy) and user_id',
    tag: TAG,
    access: { kind: 'system', resource: 'user', action: 'list' },
    query: ListUsersQuery,
    response: { description: 'One page of users', schema: UserRespList, headers: LIST_HEADERS },
    errors: [400],
  })
  list(@Query() query: ListUsersQuery): Promise<Paged<UserResp>> {
    return this.users.list(query);
  }

  @Get('users/current')
  @Endpoint({
    operationId: 'getCurrentUserInfo',
    summary: 'The profile of the user making the request',
    tag: TAG,
    access: { kind: 'authenticated' },
    response: { description: 'The current user', schema: UserResp },
    errors: [412],
  })
  current(@Auth() auth: RequestAuth): Promise<UserResp> {
    return this.users.current(auth);
  }

  @Get('users/current/permissions')
  @Endpoint({
    operationId: 'getCurrentUserPermissions',
    summary: 'What the caller may do in a scope such as /system or /project/1',
    tag: TAG,
    access: { kind: 'authenticated' },
    query: PermissionsQuery,
    response: { description: 'The permissions the caller holds in the scope', schema: PermissionList },
    errors: [400],
  })
  permissions(@Auth() auth: RequestAuth, @Query() query: PermissionsQuery): Promise<PermissionList> {
    return this.users.permissions(auth, query);
  }

  @Get('users/search')
  @Endpoint({
    operationId: 'searchUsers',
    summary: 'Users whose name contains the given text, for picking project members',
    tag: TAG,
    access: { kind: 'authenticated' },
    query: SearchUsersQuery,
    response: { description: 'One page of matching users', schema: UserSearchRespList, headers: LIST_HEADERS },
    errors: [400],
  })
  search(@Query() query: SearchUsersQuery): Promise<Paged<UserSearchRespItem>> {
    return this.users.search(query);
  }

  @Get('users/:user_id')
  @Endpoint({
    operationId: 'getUser',
    summary: "A user's profile; users may read their own, administrators anyone's",
    tag: TAG,
    access: { kind: 'authenticated' },
    params: UserIdParams,
    response: { description: 'The user', schema: UserResp },
    errors: [400, 404],
  })
  get(@Auth() auth: RequestAuth, @Params() params: UserIdParams): Promise<UserResp> {
    return this.users.get(auth, params.user_id);
  }

  @Put('users/:user_id')
  @Endpoint({
    operationId: 'updateUserProfile',
    summary: "Replaces a user's email, full name and comment; users may change their own",
    tag: TAG,
    access: { kind: 'authenticated' },
    params: UserIdParams,
    body: UserProfile,
    response: { description: 'The profile was updated' },
    errors: [400, 404, 409],
  })
  update(@Auth() auth: RequestAuth, @Params() params: UserIdParams, @Body() body: UserProfile): Promise<void> {
    return this.users.updateProfile(auth, params.user_id, body);
  }

  @Delete('users/:user_id')
  @Endpoint({
    operationId: 'deleteUser',
    summary: 'Deletes a user and their project memberships, and ends their sessions',
    tag: TAG,
    access: { kind: 'system', resource: 'user', action: 'delete' },
    params: UserIdParams,
    response: { description: 'The user was deleted' },
    errors: [400, 404],
  })
  delete(@Auth() auth: RequestAuth, @Params() params: UserIdParams): Promise<void> {
    return this.users.delete(auth, params.user_id);
  }

  @Put('users/:user_id/password')
  @Endpoint({
    operationId: 'updateUserPassword',
    summary: "Changes a password: one's own with the current password, anyone's as an administrator",
    tag: TAG,
    access: { kind: 'authenticated' },
    params: UserIdParams,
    body: PasswordReq,
    response: {
      description: "The password was changed and the user's sessions ended; a portal caller gets a new session",
      headers: ['Set-Cookie', 'X-Harbor-CSRF-Token'],
    },
    errors: [400, 404, 429],
  })
  changePassword(
    @Auth() auth: RequestAuth,
    @Params() params: UserIdParams,
    @Body() body: PasswordReq,
    @Ip() clientAddress: string,
  ): Promise<WithHeaders<undefined> | undefined> {
    return this.users.changePassword(auth, params.user_id, body, clientAddress);
  }

  @Put('users/:user_id/sysadmin')
  @Endpoint({
    operationId: 'setUserSysAdmin',
    summary: 'Makes a user a system administrator or takes the role away',
    tag: TAG,
    access: { kind: 'sysadmin' },
    params: UserIdParams,
    body: UserSysAdminFlag,
    response: { description: 'The flag was set' },
    errors: [400, 404],
  })
  setSysadmin(
    @Auth() auth: RequestAuth,
    @Params() params: UserIdParams,
    @Body() body: UserSysAdminFlag,
  ): Promise<void> {
    return this.users.setSysadmin(auth, params.user_id, body);
  }
}
