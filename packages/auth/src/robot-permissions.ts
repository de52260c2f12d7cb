import * as z from 'zod';
import {
  type Action,
  type Policy,
  type ProjectResource,
  type SystemResource,
  definePolicies,
  policyKey,
} from './rbac.js';

/**
 * Harbor's robot account permission model: a robot holds a list of permissions, each scoped to a kind and namespace
 * (`system` + `/`, or `project` + a project name, or `project` + `*` for every project), each listing the
 * resource/action pairs it grants.
 */

export type RobotLevel = 'system' | 'project';
export type RobotPermissionKind = 'system' | 'project';
export type RobotEffect = 'allow' | 'deny';

/** Namespace of every `system` permission. */
export const SYSTEM_NAMESPACE = '/';
/** Namespace of a `project` permission that covers every project, present and future. */
export const ALL_PROJECTS_NAMESPACE = '*';

/** Harbor's project name grammar (lower case, separators between alphanumerics). */
const PROJECT_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const PROJECT_NAME_MAX = 255;

export const robotAccessSchema = z.object({
  resource: z.string().min(1).max(64),
  action: z.string().min(1).max(64),
  effect: z.enum(['allow', 'deny']).optional(),
});
export type RobotAccess = z.infer<typeof robotAccessSchema>;

export const robotPermissionSchema = z.object({
  kind: z.enum(['project', 'system']),
  namespace: z.string().min(1).max(PROJECT_NAME_MAX),
  access: z.array(robotAccessSchema).max(512),
});
export type RobotPermission = z.infer<typeof robotPermissionSchema>;

export const robotPermissionsSchema = z.array(robotPermissionSchema).max(1024);

/** One permission, flattened: what a robot holds in one namespace on one resource. */
export interface RobotGrant {
  readonly kind: RobotPermissionKind;
  readonly namespace: string;
  readonly resource: string;
  readonly action: string;
  /** Absent means allow. A deny wins over any allow, as in Harbor's evaluator. */
  readonly effect?: RobotEffect;
}

export interface RobotAccessRequest {
  readonly kind: RobotPermissionKind;
  readonly namespace: string;
  readonly resource: string;
  readonly action: string;
}

export interface Permission {
  readonly resource: string;
  readonly action: string;
}

const CRUDL: readonly Action[] = ['create', 'read', 'update', 'delete', 'list'];

/**
 * What a robot may be given, per kind. Harbor's base catalog plus the additions of its default ("no limit") provider:
 * robots may manage robots, users, groups and members, but never the system configuration.
 */
const SYSTEM_ROBOT_POLICIES: readonly Policy[] = definePolicies<SystemResource>({
  'audit-log': ['list'],
  'preheat-instance': CRUDL,
  project: ['create', 'list'],
  'replication-policy': CRUDL,
  replication: ['create', 'read', 'list'],
  'replication-adapter': ['list'],
  registry: CRUDL,
  'scan-all': ['create', 'read', 'update', 'stop'],
  'system-volumes': ['read'],
  'garbage-collection': ['create', 'read', 'update', 'list', 'stop'],
  'purge-audit': ['create', 'read', 'update', 'list', 'stop'],
  'jobservice-monitor': ['list', 'stop'],
  scanner: CRUDL,
  label: ['create', 'read', 'update', 'delete'],
  'security-hub': ['read', 'list'],
  catalog: ['read'],
  quota: ['read', 'update', 'list'],
  robot: CRUDL,
  user: CRUDL,
  'user-group': CRUDL,
  'ldap-user': ['create', 'list'],
  'export-cve': ['create', 'read'],
});

const PROJECT_ROBOT_POLICIES: readonly Policy[] = definePolicies<ProjectResource>({
  log: ['list'],
  project: ['read', 'update', 'delete'],
  metadata: CRUDL,
  repository: ['read', 'update', 'delete', 'list', 'pull', 'push'],
  artifact: ['create', 'read', 'delete', 'list'],
  scan: ['create', 'read', 'stop'],
  sbom: ['create', 'read', 'stop'],
  tag: ['create', 'delete', 'list'],
  accessory: ['list'],
  'artifact-addition': ['read'],
  'artifact-label': ['create', 'delete'],
  scanner: ['create', 'read'],
  'preheat-policy': CRUDL,
  'immutable-tag': ['create', 'update', 'delete', 'list'],
  'notification-policy': CRUDL,
  'tag-retention': CRUDL,
  label: CRUDL,
  quota: ['read'],
  robot: CRUDL,
  member: CRUDL,
});

function toPermissions(list: readonly Policy[]): readonly Permission[] {
  return Object.freeze(list.map((p) => Object.freeze({ resource: p.resource, action: p.action })));
}

/** The body of `GET /api/v2.0/permissions` (swagger `Permissions`). */
export const ROBOT_PERMISSION_CATALOG: Readonly<{ system: readonly Permission[]; project: readonly Permission[] }> =
  Object.freeze({ system: toPermissions(SYSTEM_ROBOT_POLICIES), project: toPermissions(PROJECT_ROBOT_POLICIES) });

const GRANTABLE: Readonly<Record<RobotPermissionKind, ReadonlySet<string>>> = Object.freeze({
  system: new Set(SYSTEM_ROBOT_POLICIES.map((p) => policyKey(p.resource, p.action))),
  project: new Set(PROJECT_ROBOT_POLICIES.map((p) => policyKey(p.resource, p.action))),
});
const GRANTABLE_RESOURCES: Readonly<Record<RobotPermissionKind, ReadonlySet<string>>> = Object.freeze({
  system: new Set(SYSTEM_ROBOT_POLICIES.map((p) => p.resource)),
  project: new Set(PROJECT_ROBOT_POLICIES.map((p) => p.resource)),
});

/** Whether a robot of some level may be given `resource:action` in a permission of `kind`. */
export function isGrantableToRobot(kind: RobotPermissionKind, resource: string, action: string): boolean {
  return GRANTABLE[kind].has(policyKey(resource, action));
}

export function isValidProjectName(name: string): boolean {
  return name.length <= PROJECT_NAME_MAX && PROJECT_NAME.test(name);
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = 'permissions';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `.${String(part)}`;
  return out;
}

/**
 * Every problem with a robot's permission list, each naming the element it concerns
 * (`permissions[0].access[2]: action "fly" is not valid for resource "repository"`). Empty when the list is valid.
 *
 * A project-level robot holds exactly one `project` permission, on its own project. A system-level robot may hold one
 * `system` permission (namespace `/`) and `project` permissions on named projects or on `*`. Every resource/action
 * pair must be one a robot may hold for that kind, and nothing may be listed twice.
 */
export function validateRobotPermissions(level: RobotLevel, permissions: unknown, projectName?: string): string[] {
  if (level !== 'system' && level !== 'project') {
    return [`level "${String(level)}" is not valid: expected "system" or "project"`];
  }
  const parsed = robotPermissionsSchema.safeParse(permissions);
  if (!parsed.success) {
    return parsed.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  }
  const list = parsed.data;
  const problems: string[] = [];
  if (list.length === 0) return ['permissions: at least one permission is required'];

  if (level === 'project' && list.length > 1) {
    problems.push(`permissions: a project robot holds exactly one permission, got ${list.length}`);
  }

  const seenScopes = new Map<string, number>();
  list.forEach((permission, i) => {
    const at = `permissions[${i}]`;
    const { kind, namespace } = permission;

    if (level === 'project') {
      if (kind !== 'project') {
        problems.push(`${at}.kind: a project robot can only hold a permission of kind "project"`);
      } else if (projectName !== undefined && namespace !== projectName) {
        problems.push(`${at}.namespace: must be the robot's project "${projectName}", got "${namespace}"`);
      } else if (!isValidProjectName(namespace)) {
        problems.push(`${at}.namespace: "${namespace}" is not a project name`);
      }
    } else if (kind === 'system') {
      if (namespace !== SYSTEM_NAMESPACE) {
        problems.push(`${at}.namespace: a permission of kind "system" has namespace "/", got "${namespace}"`);
      }
    } else if (namespace !== ALL_PROJECTS_NAMESPACE && !isValidProjectName(namespace)) {
      problems.push(`${at}.namespace: "${namespace}" is neither a project name nor "*" (every project)`);
    }

    const scopeKey = `${kind}\u0000${namespace}`;
    const firstScope = seenScopes.get(scopeKey);
    if (firstScope !== undefined) {
      problems.push(
        `${at}: repeats permissions[${firstScope}] (kind "${kind}", namespace "${namespace}"); list its access there`,
      );
    } else {
      seenScopes.set(scopeKey, i);
    }

    if (permission.access.length === 0) {
      problems.push(`${at}.access: at least one access is required`);
    }
    const seenAccess = new Map<string, number>();
    permission.access.forEach((access, j) => {
      const accessAt = `${at}.access[${j}]`;
      const { resource, action } = access;
      if (!GRANTABLE_RESOURCES[kind].has(resource)) {
        problems.push(`${accessAt}: resource "${resource}" is not valid for a permission of kind "${kind}"`);
      } else if (!GRANTABLE[kind].has(policyKey(resource, action))) {
        problems.push(`${accessAt}: action "${action}" is not valid for resource "${resource}"`);
      }
      const key = policyKey(resource, action);
      const first = seenAccess.get(key);
      if (first !== undefined) {
        problems.push(`${accessAt}: repeats access[${first}] (${resource}:${action})`);
      } else {
        seenAccess.set(key, j);
      }
    });
  });
  return problems;
}

/** The flattened form of a permission list, one grant per resource/action, in order. */
export function flattenRobotPermissions(permissions: readonly RobotPermission[]): RobotGrant[] {
  const grants: RobotGrant[] = [];
  for (const { kind, namespace, access } of permissions) {
    for (const { resource, action, effect } of access) {
      grants.push(
        effect === 'deny' ? { kind, namespace, resource, action, effect } : { kind, namespace, resource, action },
      );
    }
  }
  return grants;
}

/** Grants back into Harbor's permission list shape, one permission per kind and namespace, in first-seen order. */
export function groupRobotGrants(grants: readonly RobotGrant[]): RobotPermission[] {
  const byScope = new Map<string, RobotPermission>();
  for (const { kind, namespace, resource, action, effect } of grants) {
    const key = `${kind}\u0000${namespace}`;
    let permission = byScope.get(key);
    if (!permission) {
      permission = { kind, namespace, access: [] };
      byScope.set(key, permission);
    }
    permission.access.push(effect === 'deny' ? { resource, action, effect } : { resource, action });
  }
  return [...byScope.values()];
}

function grantMatches(grant: RobotGrant, request: RobotAccessRequest): boolean {
  if (grant.kind !== request.kind || grant.resource !== request.resource || grant.action !== request.action) {
    return false;
  }
  if (grant.namespace === request.namespace) return true;
  return grant.kind === 'project' && grant.namespace === ALL_PROJECTS_NAMESPACE;
}

/**
 * Whether a robot holding `grants` may perform `request`. A `project` grant on `*` matches every project; a request
 * for `*` itself (acting on every project) is matched only by a `*` grant. Any matching deny refuses.
 */
export function robotAllows(grants: readonly RobotGrant[], request: RobotAccessRequest): boolean {
  let allowed = false;
  for (const grant of grants) {
    if (!grantMatches(grant, request)) continue;
    if (grant.effect === 'deny') return false;
    allowed = true;
  }
  return allowed;
}

/**
 * The requested grants that `held` does not cover; empty when a robot holding `held` may hand out all of `requested`.
 * A robot can never grant more than it holds. Deny grants only take permissions away, so they need no cover.
 */
export function grantsCover(held: readonly RobotGrant[], requested: readonly RobotGrant[]): RobotGrant[] {
  return requested.filter((grant) => grant.effect !== 'deny' && !robotAllows(held, grant));
}
