/**
 * Harbor's robot permission model as the portal handles it: a robot holds permissions, each scoped to a kind and a
 * namespace (`system` + `/`, `project` + a project name, or `project` + `*` for every project), each listing the
 * resource/action pairs it grants.
 */

export interface Permission {
  readonly resource: string;
  readonly action: string;
}

export type PermissionKind = 'system' | 'project';

export interface RobotAccess {
  resource: string;
  action: string;
  effect?: 'allow' | 'deny';
}

export interface RobotPermission {
  kind: PermissionKind;
  namespace: string;
  access: RobotAccess[];
}

export const SYSTEM_NAMESPACE = '/';
export const ALL_PROJECTS_NAMESPACE = '*';

export function permissionKey(permission: Permission): string {
  return `${permission.resource}:${permission.action}`;
}

/** Harbor's relative permission answer names the project itself `.`; the robot catalog calls it `project`. */
function normalizeHeld(permission: Permission): Permission {
  return permission.resource === '.' ? { resource: 'project', action: permission.action } : permission;
}

/**
 * The entries of `catalog` (what robots may hold, from GET /permissions) that the caller may hand out: all of them
 * when `held` is undefined (a system administrator), else those the caller holds in the scope
 * (GET /users/current/permissions?relative=true). Duplicates are dropped; the catalog's order is kept.
 */
export function grantablePermissions(
  catalog: readonly Permission[],
  held?: readonly Permission[],
): readonly Permission[] {
  const heldKeys = held === undefined ? undefined : new Set(held.map((p) => permissionKey(normalizeHeld(p))));
  const seen = new Set<string>();
  const result: Permission[] = [];
  for (const permission of catalog) {
    const key = permissionKey(permission);
    if (seen.has(key) || (heldKeys !== undefined && !heldKeys.has(key))) continue;
    seen.add(key);
    result.push({ resource: permission.resource, action: permission.action });
  }
  return result;
}

/** The order Harbor's portal shows actions in; actions it does not know come after, alphabetically. */
const ACTION_ORDER = ['push', 'pull', 'read', 'create', 'update', 'delete', 'list', 'stop', 'operate'];

export function sortActions(actions: Iterable<string>): string[] {
  const rank = (action: string): number => {
    const index = ACTION_ORDER.indexOf(action);
    return index < 0 ? ACTION_ORDER.length : index;
  };
  return [...new Set(actions)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export interface ResourceRow {
  resource: string;
  actions: string[];
}

/** The permissions as table rows, one per resource in first-seen order, with that resource's actions. */
export function groupByResource(permissions: readonly Permission[]): ResourceRow[] {
  const rows = new Map<string, Set<string>>();
  for (const { resource, action } of permissions) {
    let actions = rows.get(resource);
    if (!actions) {
      actions = new Set();
      rows.set(resource, actions);
    }
    actions.add(action);
  }
  return [...rows].map(([resource, actions]) => ({ resource, actions: sortActions(actions) }));
}

/** Words that read as abbreviations. */
const ABBREVIATIONS: Record<string, string> = { cve: 'CVE', ldap: 'LDAP', sbom: 'SBOM' };

/** `artifact-label` -> `Artifact label`, `export-cve` -> `Export CVE`. */
export function humanize(name: string): string {
  const words = name
    .split(/[-_\s]+/)
    .filter((word) => word !== '')
    .map((word) => ABBREVIATIONS[word] ?? word)
    .join(' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Only the keys of `selected` that `available` offers: a selection never holds more than may be granted. */
export function restrictSelection(selected: Iterable<string>, available: readonly Permission[]): Set<string> {
  const offered = new Set(available.map(permissionKey));
  return new Set([...selected].filter((key) => offered.has(key)));
}

/** The selected keys as a robot's access list, in the order `available` lists them. */
export function toAccess(selected: ReadonlySet<string>, available: readonly Permission[]): RobotAccess[] {
  return available.filter((p) => selected.has(permissionKey(p))).map(({ resource, action }) => ({ resource, action }));
}

/** The allowed keys of a robot permission's access list (deny entries are not selections). */
export function selectionOf(access: readonly RobotAccess[]): Set<string> {
  return new Set(access.filter((a) => a.effect !== 'deny').map(permissionKey));
}

/** Whether every project permission of a system robot lists the same access, so one picker can edit them all. */
export function uniformProjectAccess(permissions: readonly RobotPermission[]): boolean {
  const sets = permissions
    .filter((p) => p.kind === 'project')
    .map((p) =>
      p.access
        .map((a) => `${permissionKey(a)}:${a.effect ?? 'allow'}`)
        .sort()
        .join(','),
    );
  return sets.every((s) => s === sets[0]);
}

export type ProjectCoverage = { kind: 'none' } | { kind: 'all' } | { kind: 'selected'; projects: string[] };

/** Where a system robot's project permissions apply, read back from its permission list. */
export function coverageOf(permissions: readonly RobotPermission[]): ProjectCoverage {
  const project = permissions.filter((p) => p.kind === 'project');
  if (project.length === 0) return { kind: 'none' };
  if (project.some((p) => p.namespace === ALL_PROJECTS_NAMESPACE)) return { kind: 'all' };
  return { kind: 'selected', projects: project.map((p) => p.namespace) };
}

/**
 * A system robot's permission list: the system permissions (when any are chosen), then the same project access for
 * every project the coverage names (when any access is chosen).
 */
export function systemRobotPermissions(
  systemAccess: readonly RobotAccess[],
  coverage: ProjectCoverage,
  projectAccess: readonly RobotAccess[],
): RobotPermission[] {
  const result: RobotPermission[] = [];
  if (systemAccess.length > 0) {
    result.push({ kind: 'system', namespace: SYSTEM_NAMESPACE, access: [...systemAccess] });
  }
  if (projectAccess.length > 0) {
    const namespaces =
      coverage.kind === 'all' ? [ALL_PROJECTS_NAMESPACE] : coverage.kind === 'selected' ? coverage.projects : [];
    for (const namespace of new Set(namespaces)) {
      result.push({ kind: 'project', namespace, access: projectAccess.map((a) => ({ ...a })) });
    }
  }
  return result;
}

/** Counts a robot's allowed grants, for the list ("12 permissions"). */
export function grantCount(permissions: readonly RobotPermission[]): number {
  return permissions.reduce((n, p) => n + p.access.filter((a) => a.effect !== 'deny').length, 0);
}
