import { randomBytes } from 'node:crypto';
import {
  ProjectRole,
  type RobotAccess,
  type RobotGrant,
  type RobotPermission,
  flattenRobotPermissions,
  publicProjectAllows,
  robotAllows,
  roleAllows,
} from '@wharf/auth';
import { DataSource } from 'typeorm';
import { type EndpointAccess } from '../openapi/endpoint.decorator.js';
import { type HttpMethod, type OpenApiOperation } from '../openapi/openapi.types.js';
import { RegistryClient } from '../registry/testing/registry-fixtures.js';
import { CredentialService } from '../services/credential.service.js';
import { type Credentials, type TestCore, type TestResponse } from './test-core.js';

/**
 * The whole-API authorization matrix: every route of the OpenAPI document, asked by every kind of caller, must
 * answer as Harbor's permission model says. Expectations are computed from the route's declared access and the
 * RBAC matrix of @wharf/auth, not typed by hand; a route row only says how to build a valid request and, where
 * the route leaves the decision to its service, how the service decides in the same terms.
 */

export const PRINCIPALS = [
  'sysadmin',
  'projectAdmin',
  'maintainer',
  'developer',
  'guest',
  'limitedGuest',
  'nonMember',
  'projectRobot',
  'systemRobot',
  'anonymous',
  'wrongPassword',
  'expiredRobot',
  'disabledRobot',
] as const;
export type PrincipalName = (typeof PRINCIPALS)[number];

/** Asked again on a public project: those whose answer the public-project rule can change. */
export const PUBLIC_PROJECT_PRINCIPALS: readonly PrincipalName[] = ['limitedGuest', 'nonMember', 'anonymous'];

/** The role each member principal holds in every fixture project. */
export const MEMBER_ROLES: Readonly<Partial<Record<PrincipalName, ProjectRole>>> = Object.freeze({
  projectAdmin: ProjectRole.ProjectAdmin,
  maintainer: ProjectRole.Maintainer,
  developer: ProjectRole.Developer,
  guest: ProjectRole.Guest,
  limitedGuest: ProjectRole.LimitedGuest,
});

/** What the project robot holds in the private fixture project, unless the matrix is given another set. */
export const DEFAULT_PROJECT_ROBOT_ACCESS: readonly RobotAccess[] = Object.freeze(
  [
    'project:read',
    'member:list',
    'member:read',
    'log:list',
    'robot:list',
    'robot:read',
    'repository:list',
    'repository:pull',
    'artifact:list',
    'artifact:read',
    'tag:list',
    'tag:create',
    'accessory:list',
    'artifact-addition:read',
    'quota:read',
  ].map(toAccess),
);

/** What the system robot holds: some system permissions, and some in every project (`*`). */
export const DEFAULT_SYSTEM_ROBOT_PERMISSIONS: readonly RobotPermission[] = Object.freeze([
  {
    kind: 'system',
    namespace: '/',
    access: [
      'user:list',
      'user:read',
      'user:create',
      'quota:list',
      'quota:read',
      'project:list',
      'project:create',
      'audit-log:list',
      'robot:list',
      'robot:read',
    ].map(toAccess),
  },
  {
    kind: 'project',
    namespace: '*',
    access: [
      'project:read',
      'member:list',
      'repository:list',
      'repository:pull',
      'artifact:list',
      'artifact:read',
      'tag:list',
      'robot:create',
      'robot:list',
      'robot:read',
    ].map(toAccess),
  },
]);

function toAccess(pair: string): RobotAccess {
  const [resource = '', action = ''] = pair.split(':');
  return { resource, action };
}

/** A project as the expectations need it. */
export interface MatrixProject {
  id: number;
  name: string;
  public: boolean;
  /** The role of each member principal. */
  roles: Partial<Record<PrincipalName, ProjectRole>>;
}

/** A fixture project with something in it for every kind of route. */
export interface FixtureProject extends MatrixProject {
  /** A member who is none of the principals. */
  extraMember: { mid: number; userId: number; username: string };
  /** A robot account of the project that is none of the principals, holding `repository:pull`. */
  robot: { id: number; name: string };
  /** An image in `<project>/app`, tagged `v1`. */
  image: { repository: string; tag: string; digest: string };
}

export type Outcome = 'allow' | 'deny' | { status: number };

/** A caller of the matrix and what @wharf/auth says it may do. */
export interface PrincipalModel {
  readonly name: PrincipalName;
  /** `invalid`: credentials the server must refuse (wrong password, expired or disabled robot). */
  readonly kind: 'sysadmin' | 'user' | 'robot' | 'anonymous' | 'invalid';
  readonly grants: readonly RobotGrant[];
  canInSystem(resource: string, action: string): boolean;
  canInProject(project: MatrixProject, resource: string, action: string): boolean;
}

function kindOf(name: PrincipalName): PrincipalModel['kind'] {
  switch (name) {
    case 'sysadmin':
      return 'sysadmin';
    case 'projectAdmin':
    case 'maintainer':
    case 'developer':
    case 'guest':
    case 'limitedGuest':
    case 'nonMember':
      return 'user';
    case 'projectRobot':
    case 'systemRobot':
      return 'robot';
    case 'anonymous':
      return 'anonymous';
    case 'wrongPassword':
    case 'expiredRobot':
    case 'disabledRobot':
      return 'invalid';
  }
}

/** Harbor's evaluation, from @wharf/auth's primitives: what `name` holding `grants` may do. */
export function principalModel(name: PrincipalName, grants: readonly RobotGrant[] = []): PrincipalModel {
  const kind = kindOf(name);
  return {
    name,
    kind,
    grants,
    canInSystem(resource, action) {
      if (kind === 'sysadmin') return true;
      return kind === 'robot' && robotAllows(grants, { kind: 'system', namespace: '/', resource, action });
    },
    canInProject(project, resource, action) {
      if (kind === 'invalid') return false;
      if (kind === 'sysadmin') return true;
      if (project.public && publicProjectAllows(resource, action)) return true;
      if (kind === 'robot') {
        return robotAllows(grants, { kind: 'project', namespace: project.name, resource, action });
      }
      const role = project.roles[name];
      return kind === 'user' && role !== undefined && roleAllows(role, resource, action);
    },
  };
}

/** Whether the route's declared access lets `who` past the guard, for a request in `project`. */
export function passesDeclaredAccess(access: EndpointAccess, who: PrincipalModel, project: MatrixProject): boolean {
  if (who.kind === 'invalid') return false;
  switch (access.kind) {
    case 'anyone':
      return true;
    case 'authenticated':
      return who.kind !== 'anonymous';
    case 'sysadmin':
      return who.kind === 'sysadmin';
    case 'system':
      return who.canInSystem(access.resource, access.action);
    case 'project':
      return who.canInProject(project, access.resource, access.action);
  }
}

/** What one request of a row carries besides the principal's credentials. */
export interface RouteRequest {
  /** Path parameters beyond the defaults (`project_name_or_id`: the project's id, `project_name`: its name). */
  params?: Record<string, string | number>;
  query?: Record<string, string | string[]>;
  body?: unknown;
  headers?: Record<string, string>;
  /** The project the request acts in, when not the context's: expectations are computed for it. */
  project?: MatrixProject;
}

export interface RouteRow {
  /**
   * A valid request as `who` would send it. It runs once per principal, so a route that consumes its target
   * (a delete) gets a fresh one each time. Absent: the path's defaults alone.
   */
  request?(ctx: MatrixContext, who: PrincipalName): RouteRequest | Promise<RouteRequest>;
  /**
   * How the service decides for callers the declared access lets in, when the route leaves the decision to it
   * (self-service, per-item checks, robots without a profile), in terms of the RBAC model. Absent: they are allowed.
   */
  decide?(who: PrincipalModel, project: MatrixProject, ctx: MatrixContext): Outcome;
}

export interface TestUser extends Credentials {
  userId: number;
  email: string;
}

/** What the rows build their requests from; the fixtures are shared by every row. */
export interface MatrixContext {
  readonly core: TestCore;
  /** The project the requests act in: the private fixture project, or the public one. */
  readonly project: FixtureProject;
  /** A user that no principal is, for routes that act on another user. */
  readonly victim: TestUser;
  /** A user whose name and password the login route is given. */
  readonly loginUser: TestUser;
  /** A name that no other fixture has: `<prefix>-<n>-<random>`. */
  unique(prefix: string): string;
  newUser(): Promise<TestUser>;
  /** A project of the context's visibility where each member principal holds its usual role. */
  newProject(): Promise<MatrixProject>;
  /** Adds a user to a project; answers the member id. */
  addMember(project: MatrixProject, username: string, role: ProjectRole): Promise<number>;
  /** A robot of the project holding `repository:pull`. */
  newRobot(project: MatrixProject): Promise<{ id: number; name: string }>;
  /** Pushes a small image of its own to `<project>/<repository>:<tag>`; answers its digest. */
  pushImage(project: MatrixProject, repository: string, tag: string): Promise<string>;
  /** A request as the system administrator that must succeed. */
  admin<T = unknown>(method: string, path: string, body?: unknown): Promise<TestResponse<T>>;
}

interface PrincipalCredentials {
  model: PrincipalModel;
  credentials?: Credentials;
}

export interface AuthzMatrixOptions {
  /** What the project robot holds in the private fixture project. */
  projectRobotAccess?: readonly RobotAccess[];
  /** The system robot's permissions. */
  systemRobotPermissions?: readonly RobotPermission[];
}

/** One operation of the document, as the matrix walks them. */
export interface MatrixRoute {
  method: HttpMethod;
  path: string;
  operation: OpenApiOperation;
}

export function routeKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path}`;
}

const CLIENT_ADDRESS = '127.0.0.1';

function idFromLocation(response: TestResponse): number {
  const location = response.headers.get('location') ?? '';
  const id = Number(location.split('/').pop());
  if (!Number.isSafeInteger(id))
    throw new Error(`expected a Location ending in an id, got ${JSON.stringify(location)}`);
  return id;
}

function excerpt(response: TestResponse): string {
  const text = response.text.replace(/\s+/g, ' ');
  return text.length > 240 ? `${text.slice(0, 240)}…` : text;
}

function describeOutcome(outcome: Outcome, who: PrincipalModel): string {
  if (typeof outcome === 'object') return String(outcome.status);
  if (outcome === 'allow') return '2xx';
  return who.kind === 'anonymous' || who.kind === 'invalid' ? '401' : '403';
}

function matches(outcome: Outcome, who: PrincipalModel, status: number): boolean {
  if (typeof outcome === 'object') return status === outcome.status;
  if (outcome === 'allow') return status >= 200 && status < 300;
  return status === (who.kind === 'anonymous' || who.kind === 'invalid' ? 401 : 403);
}

export function fillPath(template: string, params: Record<string, string | number>): string {
  return template.replace(/\{([^}]+)\}/g, (_match, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`no value for path parameter {${name}} of ${template}`);
    return encodeURIComponent(String(value));
  });
}

/** The fixtures, principals and request machinery of one matrix run against one test server. */
export class AuthzMatrix {
  private counter = 0;
  private readonly principals = new Map<PrincipalName, PrincipalCredentials>();
  private privateProject!: FixtureProject;
  private publicProject!: FixtureProject;
  private victim!: TestUser;
  private loginUser!: TestUser;

  private constructor(readonly core: TestCore) {}

  /** Creates the users, robots, projects, memberships and images every row needs. */
  static async create(core: TestCore, options: AuthzMatrixOptions = {}): Promise<AuthzMatrix> {
    const matrix = new AuthzMatrix(core);
    await matrix.setUp(options);
    return matrix;
  }

  model(name: PrincipalName): PrincipalModel {
    const principal = this.principals.get(name);
    if (!principal) throw new Error(`principal ${name} was not set up`);
    return principal.model;
  }

  /** The context of the private project, or of the public one. */
  context(visibility: 'private' | 'public' = 'private'): MatrixContext {
    const project = visibility === 'public' ? this.publicProject : this.privateProject;
    return {
      core: this.core,
      project,
      victim: this.victim,
      loginUser: this.loginUser,
      unique: (prefix) => this.unique(prefix),
      newUser: () => this.newUser(),
      newProject: async () => this.newProject(visibility === 'public'),
      addMember: (target, username, role) => this.addMember(target, username, role),
      newRobot: (target) => this.newRobot(target),
      pushImage: (target, repository, tag) => this.pushImage(target, repository, tag),
      admin: (method, path, body) => this.admin(method, path, body),
    };
  }

  /** The expected outcome for `who` of a request on `route` that acts in `project`. */
  expected(
    route: MatrixRoute,
    row: RouteRow,
    who: PrincipalModel,
    project: MatrixProject,
    ctx: MatrixContext,
  ): Outcome {
    if (!passesDeclaredAccess(route.operation['x-wharf-access'], who, project)) return 'deny';
    return row.decide ? row.decide(who, project, ctx) : 'allow';
  }

  /**
   * Asks the route as every principal (and, on project routes, as those the public-project rule concerns, on the
   * public project); answers one line per answer that is not the expected one.
   */
  async check(route: MatrixRoute, row: RouteRow): Promise<string[]> {
    const cells: { who: PrincipalName; visibility: 'private' | 'public' }[] = PRINCIPALS.map((who) => ({
      who,
      visibility: 'private',
    }));
    if (route.operation['x-wharf-access'].kind === 'project') {
      for (const who of PUBLIC_PROJECT_PRINCIPALS) cells.push({ who, visibility: 'public' });
    }
    const problems: string[] = [];
    for (const { who, visibility } of cells) {
      const ctx = this.context(visibility);
      const model = this.model(who);
      const request = row.request ? await row.request(ctx, who) : {};
      const project = request.project ?? ctx.project;
      const outcome = this.expected(route, row, model, project, ctx);
      const response = await this.send(who, route, request, project);
      if (!matches(outcome, model, response.status)) {
        const label = visibility === 'public' ? `${who} (public project)` : who;
        problems.push(
          `${label}: expected ${describeOutcome(outcome, model)}, got ${response.status} ${excerpt(response)}`.trim(),
        );
      }
    }
    return problems;
  }

  private async send(
    who: PrincipalName,
    route: MatrixRoute,
    request: RouteRequest,
    project: MatrixProject,
  ): Promise<TestResponse> {
    const params = { project_name_or_id: project.id, project_name: project.name, ...request.params };
    let path = fillPath(route.path, params);
    if (request.query) {
      const search = new URLSearchParams();
      for (const [key, value] of Object.entries(request.query)) {
        for (const item of Array.isArray(value) ? value : [value]) search.append(key, item);
      }
      path += `?${search.toString()}`;
    }
    const principal = this.principals.get(who);
    const response = await this.core.request(route.method.toUpperCase(), path, {
      auth: principal?.credentials,
      body: request.body,
      headers: request.headers,
    });
    if (principal?.model.kind === 'invalid' && principal.credentials) {
      // Refused logins slow down further ones; the matrix asks on purpose, so it wipes the count each time.
      await this.core.server.app.get(CredentialService).forget(principal.credentials.username, CLIENT_ADDRESS);
    }
    return response;
  }

  private unique(prefix: string): string {
    this.counter += 1;
    return `${prefix}-${this.counter}-${randomBytes(3).toString('hex')}`;
  }

  private async admin<T>(method: string, path: string, body?: unknown): Promise<TestResponse<T>> {
    const response = await this.core.request<T>(method, path, { auth: this.core.admin, body });
    if (response.status < 200 || response.status >= 300) {
      throw new Error(`fixture request ${method} ${path} answered ${response.status}: ${excerpt(response)}`);
    }
    return response;
  }

  private async newUser(): Promise<TestUser> {
    const username = this.unique('authz-user');
    const password = `Authz-${randomBytes(9).toString('base64url')}9a`;
    const email = `${username}@example.com`;
    const response = await this.admin('POST', '/api/v2.0/users', { username, email, realname: username, password });
    return { userId: idFromLocation(response), username, password, email };
  }

  private async addMember(project: MatrixProject, username: string, role: ProjectRole): Promise<number> {
    const response = await this.admin('POST', `/api/v2.0/projects/${project.id}/members`, {
      role_id: role,
      member_user: { username },
    });
    return idFromLocation(response);
  }

  private async newProject(isPublic: boolean): Promise<MatrixProject> {
    const name = this.unique('authz-project');
    const response = await this.admin('POST', '/api/v2.0/projects', {
      project_name: name,
      metadata: { public: String(isPublic) },
    });
    const project: MatrixProject = { id: idFromLocation(response), name, public: isPublic, roles: { ...MEMBER_ROLES } };
    for (const [who, role] of Object.entries(MEMBER_ROLES) as [PrincipalName, ProjectRole][]) {
      const credentials = this.principals.get(who)?.credentials;
      if (!credentials) throw new Error(`member principal ${who} has no account`);
      await this.addMember(project, credentials.username, role);
    }
    return project;
  }

  private async createRobot(body: Record<string, unknown>): Promise<{ id: number; name: string; secret: string }> {
    const response = await this.admin<{ id: number; name: string; secret: string }>('POST', '/api/v2.0/robots', {
      duration: -1,
      ...body,
    });
    return response.body;
  }

  private async newRobot(project: MatrixProject): Promise<{ id: number; name: string }> {
    const robot = await this.createRobot({
      name: this.unique('target'),
      level: 'project',
      permissions: [{ kind: 'project', namespace: project.name, access: [toAccess('repository:pull')] }],
    });
    return { id: robot.id, name: robot.name };
  }

  private async pushImage(project: MatrixProject, repository: string, tag: string): Promise<string> {
    const name = `${project.name}/${repository}`;
    const query = new URLSearchParams({ service: 'harbor-registry', scope: `repository:${name}:pull,push` });
    const token = await this.admin<{ token: string }>('GET', `/service/token?${query.toString()}`);
    const client = new RegistryClient(this.core.url, token.body.token);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } }));
    const image = await client.pushImage(name, tag, config, [randomBytes(64)]);
    return image.digest;
  }

  private async fixtureProject(isPublic: boolean): Promise<FixtureProject> {
    const project = await this.newProject(isPublic);
    const extra = await this.newUser();
    const mid = await this.addMember(project, extra.username, ProjectRole.Guest);
    const robot = await this.newRobot(project);
    const digest = await this.pushImage(project, 'app', 'v1');
    return {
      ...project,
      extraMember: { mid, userId: extra.userId, username: extra.username },
      robot,
      image: { repository: 'app', tag: 'v1', digest },
    };
  }

  private async setUp(options: AuthzMatrixOptions): Promise<void> {
    this.principals.set('sysadmin', { model: principalModel('sysadmin'), credentials: this.core.admin });
    this.principals.set('anonymous', { model: principalModel('anonymous') });
    for (const who of [...(Object.keys(MEMBER_ROLES) as PrincipalName[]), 'nonMember' as const]) {
      const user = await this.newUser();
      this.principals.set(who, { model: principalModel(who), credentials: user });
    }
    const wrong = await this.newUser();
    this.principals.set('wrongPassword', {
      model: principalModel('wrongPassword'),
      credentials: { username: wrong.username, password: `${wrong.password}-wrong` },
    });
    this.victim = await this.newUser();
    this.loginUser = await this.newUser();

    this.privateProject = await this.fixtureProject(false);
    this.publicProject = await this.fixtureProject(true);

    const projectRobotPermissions: RobotPermission[] = [
      {
        kind: 'project',
        namespace: this.privateProject.name,
        access: [...(options.projectRobotAccess ?? DEFAULT_PROJECT_ROBOT_ACCESS)],
      },
    ];
    const projectRobot = await this.createRobot({
      name: this.unique('principal'),
      level: 'project',
      permissions: projectRobotPermissions,
    });
    this.principals.set('projectRobot', {
      model: principalModel('projectRobot', flattenRobotPermissions(projectRobotPermissions)),
      credentials: { username: projectRobot.name, password: projectRobot.secret },
    });

    const systemRobotPermissions = [...(options.systemRobotPermissions ?? DEFAULT_SYSTEM_ROBOT_PERMISSIONS)];
    const systemRobot = await this.createRobot({
      name: this.unique('principal'),
      level: 'system',
      permissions: systemRobotPermissions,
    });
    this.principals.set('systemRobot', {
      model: principalModel('systemRobot', flattenRobotPermissions(systemRobotPermissions)),
      credentials: { username: systemRobot.name, password: systemRobot.secret },
    });

    // Both hold what the system robot holds, so only their state can be why they are refused.
    const disabled = await this.createRobot({
      name: this.unique('disabled'),
      level: 'system',
      disable: true,
      permissions: systemRobotPermissions,
    });
    this.principals.set('disabledRobot', {
      model: principalModel('disabledRobot'),
      credentials: { username: disabled.name, password: disabled.secret },
    });
    const expired = await this.createRobot({
      name: this.unique('expired'),
      level: 'system',
      permissions: systemRobotPermissions,
    });
    await this.core.server.app
      .get(DataSource)
      .query(`UPDATE robot SET expires_at = extract(epoch FROM now())::bigint - 3600 WHERE id = $1`, [expired.id]);
    this.principals.set('expiredRobot', {
      model: principalModel('expiredRobot'),
      credentials: { username: expired.name, password: expired.secret },
    });
  }
}

/** Routes of the document without a row, and rows for routes the document does not have. */
export function tableProblems(routes: readonly MatrixRoute[], rows: Readonly<Record<string, RouteRow>>): string[] {
  const keys = new Set(routes.map((route) => routeKey(route.method, route.path)));
  const problems: string[] = [];
  for (const key of keys) if (!Object.hasOwn(rows, key)) problems.push(`route ${key} has no expectation`);
  for (const key of Object.keys(rows)) if (!keys.has(key)) problems.push(`row ${key} names no route of the API`);
  return problems.sort();
}
