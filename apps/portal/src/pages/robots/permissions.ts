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

const CRUDL = ['create', 'read', 'update', 'delete', 'list'] as const;

function keySet(byResource: Record<string, readonly string[]>): ReadonlySet<string> {
  return new Set(Object.entries(byResource).flatMap(([resource, actions]) => actions.map((a) => `${resource}:${a}`)));
}

/**
 * The permissions that something in Wharf checks today: a route's declared access, or a rule of core's services
 * (project creation and listing, robots, users, the token service's pull, push and delete, the summary's quota).
 * The API accepts Harbor's whole catalog, so scripts written for Harbor keep working; the portal offers only these,
 * because a box for a feature that does not exist grants nothing now and something unforeseen later.
 */
export const WHARF_PERMISSIONS: Readonly<Record<PermissionKind, ReadonlySet<string>>> = {
  system: keySet({
    'audit-log': ['list'],
    'garbage-collection': ['create', 'read', 'update', 'list', 'stop'],
    'jobservice-monitor': ['list', 'stop'],
    'purge-audit': ['create', 'read', 'update', 'list', 'stop'],
    project: ['create', 'list'],
    quota: ['read', 'update', 'list'],
    robot: CRUDL,
    scanner: CRUDL,
    user: CRUDL,
  }),
  project: keySet({
    project: ['read', 'update', 'delete'],
    repository: ['list', 'pull', 'push', 'update', 'delete'],
    artifact: ['create', 'read', 'list', 'delete'],
    scan: ['create', 'read', 'stop'],
    tag: ['create', 'delete', 'list'],
    'immutable-tag': ['create', 'update', 'delete', 'list'],
    'tag-retention': CRUDL,
    accessory: ['list'],
    'artifact-addition': ['read'],
    member: CRUDL,
    log: ['list'],
    quota: ['read'],
    robot: CRUDL,
    scanner: ['create', 'read'],
    configuration: ['read', 'update'],
  }),
};

/** Of what the user may grant, what the portal offers: the permissions Wharf checks (see WHARF_PERMISSIONS). */
export function offeredPermissions(kind: PermissionKind, grantable: readonly Permission[]): readonly Permission[] {
  return grantable.filter((p) => WHARF_PERMISSIONS[kind].has(permissionKey(p)));
}

export type PresetId = 'pull' | 'push-pull' | 'all';

export interface PermissionPreset {
  id: PresetId;
  label: string;
  description: string;
  /** The preset's `resource:action` keys among `offered`. */
  keys: (offered: readonly Permission[]) => Set<string>;
}

const PULL = 'repository:pull';
const PUSH = 'repository:push';

/** Project permission sets for the common cases, smallest first: the first is the default of a new robot. */
export const PROJECT_PRESETS: readonly PermissionPreset[] = [
  {
    id: 'pull',
    label: 'Pull',
    description: 'Pull images (docker pull, skopeo copy from Wharf).',
    keys: () => new Set([PULL]),
  },
  {
    id: 'push-pull',
    label: 'Push and pull',
    description: 'Pull images, and push new images and tags.',
    keys: () => new Set([PULL, PUSH]),
  },
  {
    id: 'all',
    label: 'Everything a project robot may have',
    description: 'Every permission offered below, including deleting and managing members and robot accounts.',
    keys: (offered) => new Set(offered.map(permissionKey)),
  },
];

/** Whether the user may grant every permission of the preset. */
export function presetAvailable(preset: PermissionPreset, offered: readonly Permission[]): boolean {
  const keys = preset.keys(offered);
  const offeredKeys = new Set(offered.map(permissionKey));
  return keys.size > 0 && [...keys].every((key) => offeredKeys.has(key));
}

/** The preset whose permissions are exactly `selected`, if any. */
export function presetOf(selected: ReadonlySet<string>, offered: readonly Permission[]): PresetId | undefined {
  return PROJECT_PRESETS.find((preset) => {
    const keys = preset.keys(offered);
    return keys.size === selected.size && [...keys].every((key) => selected.has(key));
  })?.id;
}

/**
 * The access of `held` (a robot's allowed entries) that the user may grant but the portal does not offer: given by
 * the API, for Harbor's features. Saving keeps them as they are.
 */
export function keptAccess(
  held: readonly RobotAccess[],
  grantable: readonly Permission[],
  offered: readonly Permission[],
): RobotAccess[] {
  const grantableKeys = new Set(grantable.map(permissionKey));
  const offeredKeys = new Set(offered.map(permissionKey));
  return held.filter(
    (a) => a.effect !== 'deny' && grantableKeys.has(permissionKey(a)) && !offeredKeys.has(permissionKey(a)),
  );
}
