/**
 * Harbor's RBAC vocabulary and its per-role permission matrix, as Harbor ships it (v2.16): the same resource and
 * action names, so the `/api/v2.0/permissions` catalog, robot permission lists and `GET /users/current/permissions`
 * answers read exactly like Harbor's.
 *
 * One deliberate spelling difference: Harbor names "the project itself" with an empty resource string. Wharf calls it
 * `project`, the name Harbor's robot permission catalog already uses for the same thing (read/update/delete the
 * project a permission is scoped to).
 */

/** Numeric ids are Harbor's `role_id` values, which the API exposes (`role_id` on members). */
export enum ProjectRole {
  ProjectAdmin = 1,
  Developer = 2,
  Guest = 3,
  Maintainer = 4,
  LimitedGuest = 5,
}

export type ProjectRoleName = 'projectAdmin' | 'developer' | 'guest' | 'maintainer' | 'limitedGuest';

/** Ordered from most to least privileged, the order Harbor's portal lists them in. */
export const PROJECT_ROLES: readonly ProjectRole[] = Object.freeze([
  ProjectRole.ProjectAdmin,
  ProjectRole.Maintainer,
  ProjectRole.Developer,
  ProjectRole.Guest,
  ProjectRole.LimitedGuest,
]);

const ROLE_NAMES: Readonly<Record<ProjectRole, ProjectRoleName>> = Object.freeze({
  [ProjectRole.ProjectAdmin]: 'projectAdmin',
  [ProjectRole.Developer]: 'developer',
  [ProjectRole.Guest]: 'guest',
  [ProjectRole.Maintainer]: 'maintainer',
  [ProjectRole.LimitedGuest]: 'limitedGuest',
});

const ROLES_BY_NAME: ReadonlyMap<string, ProjectRole> = new Map(PROJECT_ROLES.map((role) => [ROLE_NAMES[role], role]));

/** Harbor's `role_name` for a role id. */
export function projectRoleName(role: ProjectRole): ProjectRoleName {
  return ROLE_NAMES[role];
}

/**
 * A role id from outside (JSON body or query string): an integer 1–5, or its decimal string. Anything else, including
 * `1.0`-style strings, `true` or `" 1"`, is not a role.
 */
export function parseProjectRole(id: unknown): ProjectRole | undefined {
  let value: number;
  if (typeof id === 'number') value = id;
  else if (typeof id === 'string' && /^[1-9]$/.test(id)) value = Number(id);
  else return undefined;
  return Number.isInteger(value) && value in ROLE_NAMES ? value : undefined;
}

/** The role whose `role_name` is `name` (`projectAdmin`, `maintainer`, …), case-sensitive as in Harbor. */
export function projectRoleFromName(name: string): ProjectRole | undefined {
  return ROLES_BY_NAME.get(name);
}

export const ACTIONS = Object.freeze([
  'pull',
  'push',
  'create',
  'read',
  'update',
  'delete',
  'list',
  'operate',
  'stop',
  'scanner-pull',
  '*',
] as const);
export type Action = (typeof ACTIONS)[number];

/** Resources that live inside one project (namespace `/project/<id>` in Harbor). */
export const PROJECT_RESOURCES = Object.freeze([
  'project',
  'member',
  'metadata',
  'log',
  'label',
  'quota',
  'repository',
  'tag-retention',
  'immutable-tag',
  'configuration',
  'robot',
  'notification-policy',
  'scan',
  'sbom',
  'scanner',
  'artifact',
  'artifact-addition',
  'artifact-label',
  'tag',
  'accessory',
  'preheat-policy',
  'export-cve',
] as const);
export type ProjectResource = (typeof PROJECT_RESOURCES)[number];

/** Resources of the whole installation (namespace `/system` in Harbor). */
export const SYSTEM_RESOURCES = Object.freeze([
  'audit-log',
  'catalog',
  'configuration',
  'distribution',
  'export-cve',
  'garbage-collection',
  'jobservice-monitor',
  'label',
  'ldap-user',
  'preheat-instance',
  'project',
  'purge-audit',
  'quota',
  'registry',
  'replication',
  'replication-adapter',
  'replication-policy',
  'robot',
  'scan-all',
  'scanner',
  'security-hub',
  'system-volumes',
  'user',
  'user-group',
] as const);
export type SystemResource = (typeof SYSTEM_RESOURCES)[number];

export type Resource = ProjectResource | SystemResource;

const ACTION_SET: ReadonlySet<string> = new Set(ACTIONS);
const RESOURCE_SET: ReadonlySet<string> = new Set<string>([...PROJECT_RESOURCES, ...SYSTEM_RESOURCES]);

export function isAction(value: unknown): value is Action {
  return typeof value === 'string' && ACTION_SET.has(value);
}

export function isResource(value: unknown): value is Resource {
  return typeof value === 'string' && RESOURCE_SET.has(value);
}

export interface Policy {
  readonly resource: Resource;
  readonly action: Action;
}

/** Stable key of a resource/action pair, used for the set lookups below. */
export function policyKey(resource: string, action: string): string {
  return `${resource}\u0000${action}`;
}

/** Expands `{ repository: ['pull', 'push'] }` into policies, frozen, in the order written. */
export function definePolicies<R extends Resource>(spec: { readonly [K in R]?: readonly Action[] }): readonly Policy[] {
  const out: Policy[] = [];
  for (const [resource, actions] of Object.entries(spec) as [R, readonly Action[]][]) {
    for (const action of actions) out.push(Object.freeze({ resource, action }));
  }
  return Object.freeze(out);
}

const CRUDL: readonly Action[] = ['create', 'read', 'update', 'delete', 'list'];

const ROLE_POLICIES: Readonly<Record<ProjectRole, readonly Policy[]>> = Object.freeze({
  [ProjectRole.ProjectAdmin]: definePolicies<ProjectResource>({
    project: ['read', 'update', 'delete'],
    member: CRUDL,
    metadata: CRUDL,
    log: ['list'],
    label: CRUDL,
    quota: ['read'],
    repository: [...CRUDL, 'pull', 'push'],
    'tag-retention': [...CRUDL, 'operate'],
    'immutable-tag': ['create', 'update', 'delete', 'list'],
    configuration: ['read', 'update'],
    robot: CRUDL,
    'notification-policy': CRUDL,
    scan: ['create', 'read', 'stop'],
    sbom: ['create', 'read', 'stop'],
    scanner: ['create', 'read'],
    artifact: ['create', 'read', 'delete', 'list'],
    'artifact-addition': ['read'],
    tag: ['create', 'delete', 'list'],
    accessory: ['list'],
    'artifact-label': ['create', 'delete'],
    'preheat-policy': CRUDL,
    'export-cve': ['create', 'read', 'list'],
  }),
  [ProjectRole.Maintainer]: definePolicies<ProjectResource>({
    project: ['read'],
    member: ['read', 'list'],
    metadata: ['read'],
    label: CRUDL,
    quota: ['read'],
    repository: [...CRUDL, 'pull', 'push'],
    'tag-retention': [...CRUDL, 'operate'],
    'immutable-tag': ['create', 'update', 'delete', 'list'],
    configuration: ['read'],
    robot: ['read', 'list'],
    'notification-policy': ['read', 'list'],
    scan: ['create', 'read', 'stop'],
    sbom: ['create', 'read', 'stop'],
    scanner: ['read'],
    artifact: ['create', 'read', 'delete', 'list'],
    'artifact-addition': ['read'],
    tag: ['create', 'delete', 'list'],
    accessory: ['list'],
    'artifact-label': ['create', 'delete'],
    'export-cve': ['create', 'read', 'list'],
  }),
  [ProjectRole.Developer]: definePolicies<ProjectResource>({
    project: ['read'],
    member: ['read', 'list'],
    label: ['read', 'list'],
    quota: ['read'],
    repository: ['create', 'read', 'update', 'list', 'pull', 'push'],
    'tag-retention': [...CRUDL, 'operate'],
    configuration: ['read'],
    robot: ['read', 'list'],
    scan: ['read'],
    sbom: ['read'],
    scanner: ['read'],
    artifact: ['create', 'read', 'list'],
    'artifact-addition': ['read'],
    tag: ['create', 'list'],
    accessory: ['list'],
    'artifact-label': ['create', 'delete'],
    'export-cve': ['create', 'read', 'list'],
  }),
  [ProjectRole.Guest]: definePolicies<ProjectResource>({
    project: ['read'],
    member: ['read', 'list'],
    label: ['read', 'list'],
    quota: ['read'],
    repository: ['read', 'list', 'pull'],
    configuration: ['read'],
    robot: ['read', 'list'],
    scan: ['read'],
    sbom: ['read'],
    scanner: ['read'],
    artifact: ['read', 'list'],
    'artifact-addition': ['read'],
    tag: ['list'],
    accessory: ['list'],
  }),
  [ProjectRole.LimitedGuest]: definePolicies<ProjectResource>({
    project: ['read'],
    quota: ['read'],
    repository: ['read', 'list', 'pull'],
    configuration: ['read'],
    scan: ['read'],
    sbom: ['read'],
    scanner: ['read'],
    artifact: ['read', 'list'],
    'artifact-addition': ['read'],
    tag: ['list'],
    accessory: ['list'],
  }),
});

function keySet(list: readonly Policy[]): ReadonlySet<string> {
  return new Set(list.map((p) => policyKey(p.resource, p.action)));
}

const ROLE_KEYS: ReadonlyMap<ProjectRole, ReadonlySet<string>> = new Map(
  PROJECT_ROLES.map((role) => [role, keySet(ROLE_POLICIES[role])]),
);

/** What a member holding `role` may do inside the project. Unknown roles hold nothing. */
export function projectRolePolicies(role: ProjectRole): readonly Policy[] {
  return ROLE_POLICIES[role] ?? [];
}

export function roleAllows(role: ProjectRole, resource: string, action: string): boolean {
  return ROLE_KEYS.get(role)?.has(policyKey(resource, action)) ?? false;
}

/**
 * Every permission any project role can hold (Harbor's `GetPoliciesOfProject`): what a system administrator is
 * granted in every project.
 */
export const ALL_PROJECT_POLICIES: readonly Policy[] = (() => {
  const seen = new Set<string>();
  const out: Policy[] = [];
  for (const role of PROJECT_ROLES) {
    for (const p of ROLE_POLICIES[role]) {
      const key = policyKey(p.resource, p.action);
      if (!seen.has(key)) {
        seen.add(key);
        out.push(p);
      }
    }
  }
  return Object.freeze(out);
})();

/**
 * What anyone may do in a PUBLIC project without being a member of it: anonymous visitors and logged-in users
 * alike. Read-only: browse, pull, see scan results and labels.
 */
export const publicProjectPolicies: readonly Policy[] = definePolicies<ProjectResource>({
  project: ['read'],
  label: ['read', 'list'],
  repository: ['list', 'pull'],
  scan: ['read'],
  sbom: ['read'],
  scanner: ['read'],
  tag: ['list'],
  accessory: ['list'],
  artifact: ['read', 'list'],
  'artifact-addition': ['read'],
});

const PUBLIC_KEYS = keySet(publicProjectPolicies);

export function publicProjectAllows(resource: string, action: string): boolean {
  return PUBLIC_KEYS.has(policyKey(resource, action));
}

export interface ProjectAccessContext {
  /** Every role the user holds in the project: directly and through each of their groups. */
  readonly roles: readonly ProjectRole[];
  /** Whether the project is public. */
  readonly publicProject: boolean;
}

/**
 * Harbor's evaluation for a user in one project: the union of every role they hold there, plus the public-project
 * policies when the project is public. Roles only ever add permissions.
 */
export function projectAllows(context: ProjectAccessContext, resource: string, action: string): boolean {
  if (context.publicProject && publicProjectAllows(resource, action)) return true;
  return context.roles.some((role) => roleAllows(role, resource, action));
}
