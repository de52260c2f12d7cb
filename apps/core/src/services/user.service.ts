import { fastifyCookie } from '@fastify/cookie';
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import {
  ALL_PROJECT_POLICIES,
  ROBOT_PERMISSION_CATALOG,
  SYSTEM_NAMESPACE,
  hashPassword,
  projectAllows,
  publicProjectAllows,
  robotAllows,
  verifyPassword,
} from '@wharf/auth';
import { type WharfConfig } from '@wharf/config';
import { type QueryTerm, parsePagination, parseQuery, parseSort } from '@wharf/db';
import { DataSource } from 'typeorm';
import { type AuthenticatedPrincipal, type Principal, type RequestAuth, principalName } from '../auth/principal.js';
import { API_PREFIX, CORE_CONFIG } from '../constants.js';
import { type LoginForm } from '../dtos/session.dto.js';
import {
  type ListUsersQuery,
  type PasswordReq,
  type Permission,
  type PermissionsQuery,
  type SearchUsersQuery,
  type UserCreationReq,
  type UserProfile,
  type UserResp,
  type UserSearchRespItem,
  type UserSysAdminFlag,
} from '../dtos/user.dto.js';
import { ApiError } from '../errors/api-error.js';
import { RedisUnavailableError } from '../errors/unavailable.js';
import { type RequestSite, normalisedOrigin } from '../http/request-site.js';
import { Paged, WithHeaders, created } from '../http/responses.js';
import { ProjectRepository } from '../repositories/project.repository.js';
import {
  BOOTSTRAP_ADMIN_ID,
  BOOTSTRAP_ADMIN_NAME,
  type User,
  type UserConflict,
  UserRepository,
} from '../repositories/user.repository.js';
import { externalUrl } from '../urls.js';
import { AccessService } from './access.service.js';
import { AuditService } from './audit.service.js';
import { type CredentialCheck, CredentialService } from './credential.service.js';
import { SESSION_COOKIE, SessionService } from './session.service.js';

/** The response header that carries a session's CSRF token, spelled as Harbor's portal reads it. */
export const CSRF_RESPONSE_HEADER = 'X-Harbor-CSRF-Token';

/**
 * What may be asked of the installation as a whole (Harbor's `/system` namespace): what robots may be granted there,
 * plus the system configuration, which only administrators touch.
 */
const SYSTEM_POLICIES: readonly { resource: string; action: string }[] = [
  ...ROBOT_PERMISSION_CATALOG.system,
  { resource: 'configuration', action: 'read' },
  { resource: 'configuration', action: 'update' },
];

const SYSTEM_SCOPE_PREFIX = '/system';
/** Harbor's project namespace: `/project/<id>`, optionally followed by a sub-resource. */
const PROJECT_SCOPE = /^\/project\/([^/]*)\/?/;

type Evaluator = (resource: string, action: string) => boolean;

function toUserResp(user: User): UserResp {
  return {
    email: user.email ?? '',
    realname: user.realname,
    comment: user.comment,
    user_id: user.userId,
    username: user.username,
    sysadmin_flag: user.sysadmin,
    // Only an external authenticator (LDAP groups) grants administrator rights besides the flag; Wharf has none.
    admin_role_in_auth: false,
    creation_time: user.creationTime.toISOString(),
    update_time: user.updateTime.toISOString(),
  };
}

function isSelf(principal: Principal, userId: number): boolean {
  return principal.kind === 'user' && principal.userId === userId;
}

function authenticated(principal: Principal): AuthenticatedPrincipal {
  if (principal.kind === 'anonymous') throw ApiError.unauthorized();
  return principal;
}

function conflictError(conflict: UserConflict, taken: { username?: string; email: string }): ApiError {
  switch (conflict) {
    case 'username':
      return ApiError.conflict(`the user name ${JSON.stringify(taken.username)} is already taken`);
    case 'email':
      return ApiError.conflict(`the email address ${JSON.stringify(taken.email)} is already used by another user`);
  }
}

function credentialFailure(check: Exclude<CredentialCheck, { ok: true }>, invalid: ApiError): ApiError {
  switch (check.reason) {
    case 'throttled':
      return new ApiError('TOO_MANY_REQUESTS', `too many failed logins; try again in ${check.retryAfterSeconds} s`, {
        'Retry-After': String(check.retryAfterSeconds),
      });
    case 'invalid':
      return invalid;
  }
}

/** Harbor's `Resource.RelativeTo`: the part of `resource` below `scope`, "." for the scope itself. */
function relativeTo(resource: string, scope: string): string | undefined {
  if (!resource.startsWith(scope)) return undefined;
  const rest = resource.slice(scope.length);
  const relative = rest.startsWith('/') ? rest.slice(1) : rest;
  return relative === '' ? '.' : relative;
}

/**
 * Local user accounts (Harbor's database authentication) and the portal's login sessions: creating, reading,
 * changing and deleting users, their passwords and administrator flag, what the current user may do, and the
 * `admin` account every installation starts with.
 */
@Injectable()
export class UserService implements OnApplicationBootstrap {
  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UserRepository,
    private readonly projects: ProjectRepository,
    private readonly access: AccessService,
    private readonly audit: AuditService,
    private readonly credentials: CredentialService,
    private readonly sessions: SessionService,
    @Inject(CORE_CONFIG) private readonly config: WharfConfig,
  ) {}

  /** Creates `admin` with harbor_admin_password on first start; an existing admin (and its password) stays as it is. */
  async onApplicationBootstrap(): Promise<void> {
    if (await this.users.findCredentialsByUsername(BOOTSTRAP_ADMIN_NAME)) return;
    await this.users.createBootstrapAdmin(await hashPassword(this.config.adminPassword));
    if (!(await this.users.findCredentialsByUsername(BOOTSTRAP_ADMIN_NAME))) {
      throw new Error(`the ${BOOTSTRAP_ADMIN_NAME} user does not exist and could not be created`);
    }
  }

  async create(auth: RequestAuth, request: UserCreationReq): Promise<WithHeaders<undefined>> {
    const passwordHash = await hashPassword(request.password);
    const user = await this.dataSource.transaction(async (manager) => {
      const result = await this.users.create(manager, {
        username: request.username,
        email: request.email,
        realname: request.realname,
        comment: request.comment,
        passwordHash,
        sysadmin: false,
      });
      if (!result.ok) throw conflictError(result.conflict, request);
      await this.audit.record(manager, {
        operation: 'create',
        resourceType: 'user',
        resource: result.value.username,
        username: principalName(auth.principal),
      });
      return result.value;
    });
    return created(`${API_PREFIX}/users/${user.userId}`);
  }

  async list(query: ListUsersQuery): Promise<Paged<UserResp>> {
    const page = parsePagination(query.page, query.page_size);
    const terms: QueryTerm[] = parseQuery(query.q);
    if (query.username) terms.push({ key: 'username', match: 'fuzzy', value: query.username });
    if (query.email) terms.push({ key: 'email', match: 'fuzzy', value: query.email });
    const { items, total } = await this.users.list(terms, parseSort(query.sort), page);
    return new Paged(items.map(toUserResp), total, page.page, page.pageSize);
  }

  async search(query: SearchUsersQuery): Promise<Paged<UserSearchRespItem>> {
    const page = parsePagination(query.page, query.page_size);
    const { items, total } = await this.users.searchByName(query.username, page);
    return new Paged(
      items.map((item) => ({ user_id: item.userId, username: item.username })),
      total,
      page.page,
      page.pageSize,
    );
  }

  async get(auth: RequestAuth, userId: number): Promise<UserResp> {
    const { principal } = auth;
    if (!isSelf(principal, userId) && !this.access.canInSystem(principal, 'user', 'read')) {
      throw ApiError.forbidden(`you may read only your own user profile, not that of user ${userId}`);
    }
    return toUserResp(await this.require(userId));
  }

  async current(auth: RequestAuth): Promise<UserResp> {
    const principal = authenticated(auth.principal);
    if (principal.kind === 'robot') {
      throw ApiError.precondition(`${principal.name} is a robot account; only users have a current user profile`);
    }
    const user = await this.users.findById(principal.userId);
    if (!user) throw ApiError.unauthorized('the user of this session no longer exists');
    return toUserResp(user);
  }

  async updateProfile(auth: RequestAuth, userId: number, profile: UserProfile): Promise<void> {
    const { principal } = auth;
    if (!isSelf(principal, userId) && !this.access.canInSystem(principal, 'user', 'update')) {
      throw ApiError.forbidden(`you may change only your own user profile, not that of user ${userId}`);
    }
    await this.dataSource.transaction(async (manager) => {
      const result = await this.users.updateProfile(manager, userId, profile);
      if (!result.ok) throw conflictError(result.conflict, profile);
      if (!result.value) throw ApiError.notFound(`user ${userId} not found`);
      await this.audit.record(manager, {
        operation: 'update',
        resourceType: 'user',
        resource: result.value.username,
        username: principalName(principal),
      });
    });
  }

  /** Deletes a user with their project memberships, then ends their portal sessions. */
  async delete(auth: RequestAuth, userId: number): Promise<void> {
    const { principal } = auth;
    if (isSelf(principal, userId)) throw ApiError.forbidden('you cannot delete your own account');
    if (userId === BOOTSTRAP_ADMIN_ID) {
      throw ApiError.forbidden(
        `user ${BOOTSTRAP_ADMIN_ID} is the installation's first administrator and cannot be deleted`,
      );
    }
    await this.dataSource.transaction(async (manager) => {
      const user = await this.users.findById(userId, manager);
      if (!user || !(await this.users.delete(manager, userId))) throw ApiError.notFound(`user ${userId} not found`);
      await this.audit.record(manager, {
        operation: 'delete',
        resourceType: 'user',
        resource: user.username,
        username: principalName(principal),
      });
    });
    // A deleted user's sessions resolve to no one (each request reads the user again): ending them is tidying, and
    // Redis being away must not turn a completed delete into an error.
    await this.sessions.destroyAllOf(userId).catch((error: unknown) => {
      if (!(error instanceof RedisUnavailableError)) throw error;
    });
  }

  /**
   * Changes a password. Users changing their own must prove the current one (failures count towards the login
   * throttle); administrators may reset anyone else's without it. Every session of the user ends; when the caller
   * changed their own password in the portal, their session continues under a new id, returned as a new cookie.
   */
  async changePassword(
    auth: RequestAuth,
    userId: number,
    request: PasswordReq,
    clientAddress: string,
  ): Promise<WithHeaders<undefined> | undefined> {
    const { principal } = auth;
    const self = isSelf(principal, userId);
    if (!self && !this.access.canInSystem(principal, 'user', 'update')) {
      throw ApiError.forbidden(`you may change only your own password, not that of user ${userId}`);
    }
    const target = await this.users.findCredentialsById(userId);
    if (!target) throw ApiError.notFound(`user ${userId} not found`);
    if (self) {
      if (request.old_password === undefined) {
        throw ApiError.badRequest('old_password is required to change your own password');
      }
      const check = await this.credentials.check(target.username, request.old_password, clientAddress);
      if (!check.ok) throw credentialFailure(check, ApiError.forbidden('the current password is incorrect'));
    }
    if (await verifyPassword(request.new_password, target.passwordHash)) {
      throw ApiError.badRequest('the new password must differ from the current one');
    }
    const passwordHash = await hashPassword(request.new_password);
    // Ended before the change as well: without Redis the old sessions could not be ended, so the change is refused
    // (503) rather than made while they live on.
    await this.sessions.destroyAllOf(userId);
    await this.dataSource.transaction(async (manager) => {
      if (!(await this.users.updatePasswordHash(manager, userId, passwordHash))) {
        throw ApiError.notFound(`user ${userId} not found`);
      }
      await this.audit.record(manager, {
        operation: 'update',
        resourceType: 'user',
        resource: target.username,
        username: principalName(principal),
      });
    });
    await this.sessions.destroyAllOf(userId);
    if (self && principal.kind === 'user' && principal.sessionId !== undefined) {
      const { sessionId, csrfToken } = await this.sessions.create(userId);
      return new WithHeaders(undefined, this.sessionHeaders(sessionId, csrfToken));
    }
    return undefined;
  }

  async setSysadmin(auth: RequestAuth, userId: number, request: UserSysAdminFlag): Promise<void> {
    const { principal } = auth;
    if (isSelf(principal, userId)) {
      throw ApiError.forbidden('you cannot change your own administrator flag; ask another administrator');
    }
    await this.dataSource.transaction(async (manager) => {
      const user = await this.users.findById(userId, manager);
      if (!user || !(await this.users.setSysadmin(manager, userId, request.sysadmin_flag))) {
        throw ApiError.notFound(`user ${userId} not found`);
      }
      await this.audit.record(manager, {
        operation: 'update',
        resourceType: 'user',
        resource: user.username,
        username: principalName(principal),
      });
    });
  }

  /**
   * Harbor's `GET /users/current/permissions`: of the policies of the namespace `scope` names (`/system` or
   * `/project/<id>`), those the caller holds, as absolute resources (`/project/1/repository`) or, with `relative`,
   * relative to the scope (`repository`; `.` for the project itself). An unknown scope holds nothing.
   */
  async permissions(auth: RequestAuth, query: PermissionsQuery): Promise<Permission[]> {
    const principal = authenticated(auth.principal);
    const scope = query.scope ?? '';
    let policies: { resource: string; action: string; path: string }[];
    let allows: Evaluator;
    const projectMatch = PROJECT_SCOPE.exec(scope);
    if (scope.startsWith(SYSTEM_SCOPE_PREFIX)) {
      policies = SYSTEM_POLICIES.map((p) => ({ ...p, path: `/system/${p.resource}` }));
      allows = this.systemEvaluator(principal);
    } else if (projectMatch && /^[0-9]{1,15}$/.test(projectMatch[1])) {
      const projectId = Number(projectMatch[1]);
      policies = ALL_PROJECT_POLICIES.map((p) => ({
        ...p,
        // Harbor names the project itself by its namespace alone.
        path: p.resource === 'project' ? `/project/${projectId}` : `/project/${projectId}/${p.resource}`,
      }));
      allows = await this.projectEvaluator(principal, projectId);
    } else {
      return [];
    }
    const relative = query.relative === 'true';
    const result: Permission[] = [];
    for (const policy of policies) {
      if (!allows(policy.resource, policy.action)) continue;
      const resource = relative ? relativeTo(policy.path, scope) : policy.path;
      if (resource !== undefined) result.push({ resource, action: policy.action });
    }
    return result;
  }

  /** Checks the login form and opens a portal session; robot accounts may not log in to the portal. */
  async login(
    form: LoginForm,
    clientAddress: string,
    current: Principal,
    site: RequestSite,
  ): Promise<WithHeaders<undefined>> {
    this.refuseCrossSite(site);
    const check = await this.credentials.check(form.principal, form.password, clientAddress);
    if (!check.ok) throw credentialFailure(check, ApiError.unauthorized('invalid user name or password'));
    if (check.principal.kind !== 'user') {
      throw ApiError.unauthorized('robot accounts cannot log in to the portal; use their secret with docker login');
    }
    // A new login never continues an old session, so a session id planted before login is worthless after it.
    if (current.kind === 'user' && current.sessionId !== undefined) {
      await this.sessions.destroy(current.sessionId, current.userId);
    }
    const { sessionId, csrfToken } = await this.sessions.create(check.principal.userId);
    return new WithHeaders(undefined, this.sessionHeaders(sessionId, csrfToken));
  }

  /**
   * A login posted by a page of another site would put the victim's browser in the poster's account (login CSRF):
   * a browser's request must come from Wharf's own origin, the configured one or the one it was addressed to.
   * Requests without Origin are not a browser's cross-site post (browsers send it on every form POST).
   */
  private refuseCrossSite(site: RequestSite): void {
    const refuse = (): never => {
      throw ApiError.forbidden('a login from a page of another site is refused; log in from the portal itself');
    };
    if (site.fetchSite === 'cross-site') refuse();
    if (site.origin === undefined) return;
    const origin = normalisedOrigin(site.origin);
    const own = [normalisedOrigin(externalUrl(this.config)), site.ownOrigin];
    if (origin === undefined || !own.includes(origin)) refuse();
  }

  /** Ends the caller's portal session, if any, and clears its cookie either way. */
  async logout(current: Principal): Promise<WithHeaders<undefined>> {
    if (current.kind === 'user' && current.sessionId !== undefined) {
      await this.sessions.destroy(current.sessionId, current.userId);
    }
    return new WithHeaders(undefined, {
      'Set-Cookie': fastifyCookie.serialize(SESSION_COOKIE, '', {
        ...this.cookieOptions(),
        maxAge: 0,
        expires: new Date(0),
      }),
    });
  }

  private async require(userId: number): Promise<User> {
    const user = await this.users.findById(userId);
    if (!user) throw ApiError.notFound(`user ${userId} not found`);
    return user;
  }

  private systemEvaluator(principal: AuthenticatedPrincipal): Evaluator {
    switch (principal.kind) {
      case 'user':
        return () => principal.sysadmin;
      case 'robot':
        return (resource, action) =>
          robotAllows(principal.grants, { kind: 'system', namespace: SYSTEM_NAMESPACE, resource, action });
    }
  }

  /** The caller's permissions in one project, with the project and membership read once for the whole list. */
  private async projectEvaluator(principal: AuthenticatedPrincipal, projectId: number): Promise<Evaluator> {
    if (principal.kind === 'user' && principal.sysadmin) return () => true;
    const project = await this.projects.findRefById(projectId);
    if (!project) return () => false;
    switch (principal.kind) {
      case 'user': {
        const role = await this.access.roleIn(principal, project);
        const context = { roles: role === undefined ? [] : [role], publicProject: project.public };
        return (resource, action) => projectAllows(context, resource, action);
      }
      case 'robot':
        return (resource, action) =>
          (project.public && publicProjectAllows(resource, action)) ||
          robotAllows(principal.grants, { kind: 'project', namespace: project.name, resource, action });
    }
  }

  private cookieOptions(): { path: string; httpOnly: boolean; sameSite: 'lax'; secure: boolean } {
    // With https configured, sessions only ever travel over TLS (the HTTP port redirects), whatever external_url says.
    const secure = this.config.https !== undefined || externalUrl(this.config).startsWith('https://');
    return { path: '/', httpOnly: true, sameSite: 'lax', secure };
  }

  private sessionHeaders(sessionId: string, csrfToken: string): Record<string, string> {
    return {
      'Set-Cookie': fastifyCookie.serialize(SESSION_COOKIE, sessionId, this.cookieOptions()),
      [CSRF_RESPONSE_HEADER]: csrfToken,
    };
  }
}
