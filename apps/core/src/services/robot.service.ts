import { Injectable } from '@nestjs/common';
import {
  ALL_PROJECTS_NAMESPACE,
  type ProjectRole,
  ROBOT_PERMISSION_CATALOG,
  type RobotGrant,
  type RobotLevel,
  type RobotPermission,
  flattenRobotPermissions,
  generateRobotSecret,
  grantsCover,
  groupRobotGrants,
  hashRobotSecret,
  newSalt,
  roleAllows,
  validateRobotPermissions,
} from '@wharf/auth';
import { type QueryTerm, QuerySyntaxError, parsePagination, parseQuery, parseSort } from '@wharf/db';
import { DataSource } from 'typeorm';
import { type AuthenticatedPrincipal, type Principal, type ProjectRef, principalName } from '../auth/principal.js';
import { API_PREFIX, ROBOT_NAME_PREFIX } from '../constants.js';
import {
  type PermissionsDto,
  type RobotCreateDto,
  type RobotCreatedDto,
  type RobotDto,
  type RobotListQuery,
  type RobotSecDto,
  type RobotSecretDto,
  type RobotUpdateDto,
} from '../dtos/robot.dto.js';
import { ApiError } from '../errors/api-error.js';
import { Paged, WithHeaders } from '../http/responses.js';
import { ProjectRepository } from '../repositories/project.repository.js';
import { ROBOT_LIST_FIELDS, type RobotRecord, RobotRepository } from '../repositories/robot.repository.js';
import { AccessService } from './access.service.js';
import { AuditService } from './audit.service.js';
import { SettingService } from './setting.service.js';

type RobotAction = 'create' | 'read' | 'update' | 'delete' | 'list';

const SECONDS_PER_DAY = 86_400;
const INT32_MAX = 2_147_483_647;
/** How many missing permissions an error lists before it counts the rest. */
const LISTED_GRANTS = 10;
const LIST_KEYS = ['Level', 'ProjectID', ...Object.keys(ROBOT_LIST_FIELDS)].sort();

/** A robot's login name: `robot$<name>` for a system robot, `robot$<project>+<name>` for a robot of a project. */
export function robotLoginName(name: string, projectName: string | null | undefined): string {
  return projectName ? `${ROBOT_NAME_PREFIX}${projectName}+${name}` : `${ROBOT_NAME_PREFIX}${name}`;
}

/**
 * The stored name within a name filter: Harbor clients may search by login name (`robot$ci`) or by Harbor's stored
 * form of a project robot (`library+ci`), while Wharf keeps the bare name with the robot's scope.
 */
function bareRobotName(value: string): string {
  const unprefixed = value.startsWith(ROBOT_NAME_PREFIX) ? value.slice(ROBOT_NAME_PREFIX.length) : value;
  return unprefixed.slice(unprefixed.indexOf('+') + 1);
}

/** Unix seconds of expiry for a robot of `durationDays` counted from `startSeconds`; -1 never expires. */
export function robotExpiry(startSeconds: number, durationDays: number): number {
  return durationDays === -1 ? -1 : startSeconds + durationDays * SECONDS_PER_DAY;
}

function describeGrant(grant: RobotGrant): string {
  const scope = grant.kind === 'system' ? 'system' : `project ${grant.namespace}`;
  return `${grant.resource}:${grant.action} (${scope})`;
}

function describeGrants(grants: readonly RobotGrant[]): string {
  const listed = grants.slice(0, LISTED_GRANTS).map(describeGrant).join(', ');
  return grants.length > LISTED_GRANTS ? `${listed} and ${grants.length - LISTED_GRANTS} more` : listed;
}

/** Latest instant a JavaScript Date holds, in Unix seconds; durations may reach beyond it. */
const MAX_DATE_SECONDS = 8.64e12;

function describeTime(unixSeconds: number): string {
  return unixSeconds <= MAX_DATE_SECONDS ? new Date(unixSeconds * 1000).toISOString() : `Unix time ${unixSeconds}`;
}

function toDto(robot: RobotRecord): RobotDto {
  return {
    id: robot.id,
    name: robotLoginName(robot.name, robot.level === 'project' ? robot.projectName : null),
    description: robot.description,
    level: robot.level,
    duration: robot.duration,
    editable: robot.editable,
    disable: robot.disabled,
    expires_at: robot.expiresAt,
    permissions: groupRobotGrants(robot.grants),
    creator_type: robot.creatorType,
    ...(robot.creatorRef === null ? {} : { creator_ref: robot.creatorRef }),
    creation_time: robot.creationTime.toISOString(),
    update_time: robot.updateTime.toISOString(),
  };
}

function authenticated(principal: Principal): AuthenticatedPrincipal {
  if (principal.kind === 'anonymous') throw ApiError.unauthorized();
  return principal;
}

function exactTerm(term: QueryTerm): string {
  if (term.match !== 'exact') throw new QuerySyntaxError('q', `${term.key} takes a single value, as ${term.key}=value`);
  return term.value;
}

/**
 * Harbor's robot accounts (API v2): system robots, which may hold system permissions and permissions in any
 * project, and project robots, which hold one permission in their own project. Whoever manages robots needs the
 * `robot` permission of the scope (the system, or the project), and can never hand out more than they hold
 * themselves: a robot not beyond its own grants and lifetime, a project member not beyond their role.
 */
@Injectable()
export class RobotService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly robots: RobotRepository,
    private readonly projects: ProjectRepository,
    private readonly access: AccessService,
    private readonly audit: AuditService,
    private readonly settings: SettingService,
  ) {}

  async create(principal: Principal, body: RobotCreateDto): Promise<WithHeaders<RobotCreatedDto>> {
    const actor = authenticated(principal);
    this.requireValidPermissions(body.level, body.permissions);
    let project: ProjectRef | undefined;
    if (body.level === 'project') {
      // A project robot's single permission names its project.
      const namespace = body.permissions[0]?.namespace ?? '';
      project = await this.projects.findRefByName(namespace);
      if (!project) throw ApiError.notFound(`project ${namespace} not found`);
      await this.requireProjectAccess(actor, project, 'create');
    } else {
      this.requireSystemAccess(actor, 'create');
      await this.requireProjectsExist(body.permissions);
    }
    const grants = flattenRobotPermissions(body.permissions);
    await this.refuseEscalation(actor, grants);

    const duration = await this.resolveDuration(body.duration);
    const creationTime = new Date(Math.floor(Date.now() / 1000) * 1000);
    const expiresAt = robotExpiry(creationTime.getTime() / 1000, duration);
    await this.refuseOutliving(actor, expiresAt);

    const secret = body.secret || generateRobotSecret();
    const salt = newSalt();
    const name = robotLoginName(body.name, project?.name);
    const id = await this.dataSource.transaction(async (manager) => {
      const created = await this.robots.insert(
        manager,
        {
          name: body.name,
          description: body.description,
          level: body.level,
          projectId: project?.projectId ?? null,
          secretHash: hashRobotSecret(secret, salt),
          salt,
          duration,
          expiresAt,
          disabled: body.disable,
          creatorType: actor.kind === 'robot' ? 'robot' : 'local',
          creatorRef: actor.kind === 'robot' ? actor.robotId : actor.userId,
          creationTime,
        },
        grants,
      );
      if (created === undefined) throw ApiError.conflict(`a robot account named ${name} already exists`);
      await this.audit.record(manager, {
        projectId: project?.projectId ?? null,
        operation: 'create',
        resourceType: 'robot',
        resource: name,
        username: principalName(actor),
      });
      return created;
    });
    return new WithHeaders(
      { id, name, secret, creation_time: creationTime.toISOString(), expires_at: expiresAt },
      { Location: `${API_PREFIX}/robots/${id}` },
    );
  }

  /**
   * Harbor's list: `q=Level=project,ProjectID=<id>` for the robots of a project, `Level=system` (or no Level) for
   * the system robots; `name`, `description` and `disabled` filter further.
   */
  async list(principal: Principal, query: RobotListQuery): Promise<Paged<RobotDto>> {
    const actor = authenticated(principal);
    const page = parsePagination(query.page, query.page_size);
    const sort = parseSort(query.sort);
    let level: RobotLevel | undefined;
    let projectId: number | undefined;
    const filters: QueryTerm[] = [];
    for (const term of parseQuery(query.q)) {
      if (term.key === 'Level' || term.key === 'level') {
        const value = exactTerm(term);
        if (value !== 'system' && value !== 'project') {
          throw new QuerySyntaxError('q', `Level is "system" or "project", not ${JSON.stringify(value)}`);
        }
        level = value;
      } else if (term.key === 'ProjectID' || term.key === 'project_id') {
        const value = exactTerm(term);
        if (!/^[0-9]{1,10}$/.test(value) || Number(value) > INT32_MAX) {
          throw new QuerySyntaxError('q', `ProjectID takes a project id, not ${JSON.stringify(value)}`);
        }
        projectId = Number(value);
      } else if (term.key === 'name' && (term.match === 'exact' || term.match === 'fuzzy')) {
        filters.push({ ...term, value: bareRobotName(term.value) });
      } else if (Object.hasOwn(ROBOT_LIST_FIELDS, term.key)) {
        filters.push(term);
      } else {
        throw new QuerySyntaxError(
          'q',
          `unknown key ${JSON.stringify(term.key)}; valid keys are ${LIST_KEYS.join(', ')}`,
        );
      }
    }
    level ??= projectId === undefined ? 'system' : 'project';
    if (level === 'system' && projectId !== undefined) {
      throw new QuerySyntaxError('q', 'ProjectID applies to Level=project only');
    }
    if (level === 'project') {
      if (projectId === undefined)
        throw new QuerySyntaxError('q', 'Level=project needs the project too: ProjectID=<id>');
      const project = await this.projects.findRefById(projectId);
      if (!project) throw ApiError.notFound(`project ${projectId} not found`);
      await this.requireProjectAccess(actor, project, 'list');
    } else {
      this.requireSystemAccess(actor, 'list');
    }
    const { items, total } = await this.robots.list({ projectId: projectId ?? null }, filters, sort, page);
    return new Paged(items.map(toDto), total, page.page, page.pageSize);
  }

  async get(principal: Principal, id: number): Promise<RobotDto> {
    const actor = authenticated(principal);
    const robot = await this.load(id);
    await this.requireRobotAccess(actor, robot, 'read');
    return toDto(robot);
  }

  /** Harbor's PUT: description, disable, duration and permissions are replaced; name and level stay. */
  async update(principal: Principal, id: number, body: RobotUpdateDto): Promise<void> {
    const actor = authenticated(principal);
    const robot = await this.load(id);
    const project = await this.requireRobotAccess(actor, robot, 'update');
    const name = robotLoginName(robot.name, project?.name);
    if (!robot.editable) throw new ApiError('DENIED', `robot account ${name} cannot be edited`);
    if (body.name !== undefined && body.name !== name && body.name !== robot.name) {
      throw ApiError.badRequest(`the name of robot account ${name} cannot be changed`);
    }
    if (body.level !== undefined && body.level !== robot.level) {
      throw ApiError.badRequest(`the level of robot account ${name} cannot be changed (it is ${robot.level})`);
    }
    this.requireValidPermissions(robot.level, body.permissions, project?.name);
    if (robot.level === 'system') await this.requireProjectsExist(body.permissions);
    const grants = flattenRobotPermissions(body.permissions);
    await this.refuseEscalation(actor, grants);

    let duration = robot.duration;
    let expiresAt = robot.expiresAt;
    if (body.duration !== undefined && body.duration !== null) {
      const requested = await this.resolveDuration(body.duration);
      if (requested !== robot.duration) {
        duration = requested;
        expiresAt = robotExpiry(Math.floor(robot.creationTime.getTime() / 1000), requested);
        await this.refuseOutliving(actor, expiresAt);
      }
    }
    await this.dataSource.transaction(async (manager) => {
      await this.robots.update(
        manager,
        robot.id,
        { description: body.description, duration, expiresAt, disabled: body.disable },
        grants,
      );
      await this.audit.record(manager, {
        projectId: robot.projectId,
        operation: 'update',
        resourceType: 'robot',
        resource: name,
        username: principalName(actor),
      });
    });
  }

  /** A new secret: the caller's (which must pass the policy) or a generated one, which is answered once. */
  async refreshSecret(principal: Principal, id: number, body: RobotSecretDto): Promise<RobotSecDto> {
    const actor = authenticated(principal);
    const robot = await this.load(id);
    const project = await this.requireRobotAccess(actor, robot, 'update');
    const name = robotLoginName(robot.name, project?.name);
    // Knowing a robot's secret is acting as it: only someone holding all it holds may learn or set one.
    const beyond = await this.uncovered(actor, robot.grants);
    if (beyond.length > 0) {
      throw ApiError.forbidden(
        `refreshing the secret of ${name} would hand you permissions you do not hold: ${describeGrants(beyond)}`,
      );
    }
    const chosen = body.secret || undefined;
    const secret = chosen ?? generateRobotSecret();
    const salt = newSalt();
    await this.dataSource.transaction(async (manager) => {
      await this.robots.updateSecret(manager, robot.id, hashRobotSecret(secret, salt), salt);
      await this.audit.record(manager, {
        projectId: robot.projectId,
        operation: 'update',
        resourceType: 'robot',
        resource: name,
        username: principalName(actor),
      });
    });
    return chosen === undefined ? { secret } : {};
  }

  async delete(principal: Principal, id: number): Promise<void> {
    const actor = authenticated(principal);
    const robot = await this.load(id);
    const project = await this.requireRobotAccess(actor, robot, 'delete');
    const name = robotLoginName(robot.name, project?.name);
    const deleted = await this.dataSource.transaction(async (manager) => {
      if (!(await this.robots.delete(manager, robot.id))) return false;
      await this.audit.record(manager, {
        projectId: robot.projectId,
        operation: 'delete',
        resourceType: 'robot',
        resource: name,
        username: principalName(actor),
      });
      return true;
    });
    if (!deleted) throw ApiError.notFound(`robot account ${id} not found`);
  }

  /**
   * What robots may be given (`GET /permissions`), for those who give it: system administrators see system and
   * project permissions, project administrators the project ones, as in Harbor; a robot sees what it could grant.
   */
  async permissionCatalog(principal: Principal): Promise<PermissionsDto> {
    const actor = authenticated(principal);
    const system = ROBOT_PERMISSION_CATALOG.system.map(({ resource, action }) => ({ resource, action }));
    const project = ROBOT_PERMISSION_CATALOG.project.map(({ resource, action }) => ({ resource, action }));
    if (this.access.canInSystem(actor, 'robot', 'create')) return { system, project };
    const administersProjects =
      actor.kind === 'user'
        ? await this.robots.userAdministersAnyProject(actor.userId)
        : actor.grants.some(
            (g) => g.kind === 'project' && g.resource === 'robot' && g.action === 'create' && g.effect !== 'deny',
          );
    if (administersProjects) return { project };
    throw ApiError.forbidden('only system and project administrators may read the permissions of robot accounts');
  }

  private async load(id: number): Promise<RobotRecord> {
    const robot = await this.robots.findById(id);
    if (!robot) throw ApiError.notFound(`robot account ${id} not found`);
    return robot;
  }

  private requireValidPermissions(level: RobotLevel, permissions: RobotPermission[], projectName?: string): void {
    const problems = validateRobotPermissions(level, permissions, projectName);
    if (problems.length > 0) throw ApiError.badRequest(problems.join('; '));
  }

  private requireSystemAccess(actor: AuthenticatedPrincipal, action: RobotAction): void {
    if (!this.access.canInSystem(actor, 'robot', action)) {
      throw ApiError.forbidden(`you may not ${action} system robot accounts`);
    }
  }

  private async requireProjectAccess(
    actor: AuthenticatedPrincipal,
    project: ProjectRef,
    action: RobotAction,
  ): Promise<void> {
    if (!(await this.access.canInProject(actor, project, 'robot', action))) {
      throw ApiError.forbidden(`you may not ${action} robot accounts of project ${project.name}`);
    }
  }

  /** Checks the permission on the robot's scope; answers the robot's project for a project robot. */
  private async requireRobotAccess(
    actor: AuthenticatedPrincipal,
    robot: RobotRecord,
    action: RobotAction,
  ): Promise<ProjectRef | undefined> {
    if (robot.level === 'system' || robot.projectId === null) {
      this.requireSystemAccess(actor, action);
      return undefined;
    }
    const project = await this.projects.findRefById(robot.projectId);
    // The project went between the two reads; its robots went with it.
    if (!project) throw ApiError.notFound(`robot account ${robot.id} not found`);
    await this.requireProjectAccess(actor, project, action);
    return project;
  }

  /** Harbor resolves a system robot's project permissions by name, so each named project must exist. */
  private async requireProjectsExist(permissions: readonly RobotPermission[]): Promise<void> {
    const named = permissions
      .filter((p) => p.kind === 'project' && p.namespace !== ALL_PROJECTS_NAMESPACE)
      .map((p) => p.namespace);
    const missing = await this.robots.missingProjects(named);
    if (missing.length === 1) throw ApiError.notFound(`project ${missing[0]} not found`);
    if (missing.length > 1) throw ApiError.notFound(`projects ${missing.join(', ')} not found`);
  }

  private async refuseEscalation(actor: AuthenticatedPrincipal, grants: readonly RobotGrant[]): Promise<void> {
    const beyond = await this.uncovered(actor, grants);
    if (beyond.length > 0) {
      throw ApiError.forbidden(`you cannot grant permissions you do not hold: ${describeGrants(beyond)}`);
    }
  }

  /**
   * The allow grants among `grants` that `actor` does not hold: a system administrator holds everything, a robot
   * its own grants, and any other user what their role allows in each named project (nothing system-wide, nothing
   * on every project).
   */
  private async uncovered(actor: AuthenticatedPrincipal, grants: readonly RobotGrant[]): Promise<RobotGrant[]> {
    if (actor.kind === 'robot') return grantsCover(actor.grants, grants);
    if (actor.sysadmin) return [];
    const roles = new Map<string, ProjectRole | undefined>();
    for (const grant of grants) {
      if (grant.kind !== 'project' || grant.namespace === ALL_PROJECTS_NAMESPACE || roles.has(grant.namespace)) {
        continue;
      }
      const project = await this.projects.findRefByName(grant.namespace);
      roles.set(grant.namespace, project ? await this.access.roleIn(actor, project) : undefined);
    }
    return grants.filter((grant) => {
      if (grant.effect === 'deny') return false;
      const role = grant.kind === 'project' ? roles.get(grant.namespace) : undefined;
      return role === undefined || !roleAllows(role, grant.resource, grant.action);
    });
  }

  /** A robot may not give a robot a longer life than its own, or expiry would be escaped by creating a successor. */
  private async refuseOutliving(actor: AuthenticatedPrincipal, expiresAt: number): Promise<void> {
    if (actor.kind !== 'robot') return;
    const self = await this.robots.findById(actor.robotId);
    if (!self) throw ApiError.unauthorized('this robot account no longer exists');
    if (self.expiresAt === -1) return;
    if (expiresAt === -1 || expiresAt > self.expiresAt) {
      throw ApiError.forbidden(
        `a robot account cannot make one that outlives it: ${actor.name} expires at ${describeTime(self.expiresAt)}; choose a shorter duration`,
      );
    }
  }

  private async resolveDuration(duration: number): Promise<number> {
    return duration === 0 ? (await this.settings.get()).robot_token_duration : duration;
  }
}
