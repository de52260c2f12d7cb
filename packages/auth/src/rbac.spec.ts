import { describe, expect, it } from '@jest/globals';
import {
  ALL_PROJECT_POLICIES,
  PROJECT_RESOURCES,
  PROJECT_ROLES,
  ProjectRole,
  isAction,
  isResource,
  parseProjectRole,
  policyKey,
  projectAllows,
  projectRoleFromName,
  projectRoleName,
  projectRolePolicies,
  publicProjectAllows,
  publicProjectPolicies,
  roleAllows,
} from './rbac.js';

const { ProjectAdmin, Maintainer, Developer, Guest, LimitedGuest } = ProjectRole;

function keys(role: ProjectRole): Set<string> {
  return new Set(projectRolePolicies(role).map((p) => policyKey(p.resource, p.action)));
}

describe('project roles', () => {
  it.each([
    [ProjectAdmin, 1, 'projectAdmin'],
    [Developer, 2, 'developer'],
    [Guest, 3, 'guest'],
    [Maintainer, 4, 'maintainer'],
    [LimitedGuest, 5, 'limitedGuest'],
  ])('role %s has Harbor id %i and role_name %s', (role, id, name) => {
    expect(role).toBe(id);
    expect(projectRoleName(role)).toBe(name);
    expect(projectRoleFromName(name)).toBe(role);
    expect(parseProjectRole(id)).toBe(role);
    expect(parseProjectRole(String(id))).toBe(role);
  });

  it.each([0, 6, -1, 1.5, Number.NaN, '0', '01', ' 1', '1 ', '1.0', 'projectAdmin', true, null, undefined, {}, [1]])(
    'parseProjectRole refuses %p',
    (value) => {
      expect(parseProjectRole(value)).toBeUndefined();
    },
  );

  it('role names are matched exactly', () => {
    expect(projectRoleFromName('ProjectAdmin')).toBeUndefined();
    expect(projectRoleFromName('admin')).toBeUndefined();
  });
});

describe('permission matrix', () => {
  const rows: [ProjectRole, string, string, boolean][] = [
    // Guest can pull but not push.
    [Guest, 'repository', 'pull', true],
    [Guest, 'repository', 'push', false],
    [Guest, 'member', 'list', true],
    [Guest, 'artifact', 'delete', false],
    // Developer can push but not delete artifacts or repositories.
    [Developer, 'repository', 'push', true],
    [Developer, 'artifact', 'create', true],
    [Developer, 'artifact', 'delete', false],
    [Developer, 'repository', 'delete', false],
    [Developer, 'tag', 'create', true],
    [Developer, 'tag', 'delete', false],
    [Developer, 'scan', 'create', false],
    // Maintainer can delete artifacts and scan, but not manage members, robots or the project.
    [Maintainer, 'artifact', 'delete', true],
    [Maintainer, 'repository', 'delete', true],
    [Maintainer, 'scan', 'create', true],
    [Maintainer, 'immutable-tag', 'create', true],
    [Maintainer, 'member', 'create', false],
    [Maintainer, 'member', 'delete', false],
    [Maintainer, 'robot', 'create', false],
    [Maintainer, 'project', 'delete', false],
    [Maintainer, 'metadata', 'update', false],
    // Limited guest can pull but cannot see members or logs.
    [LimitedGuest, 'repository', 'pull', true],
    [LimitedGuest, 'member', 'list', false],
    [LimitedGuest, 'member', 'read', false],
    [LimitedGuest, 'log', 'list', false],
    [LimitedGuest, 'label', 'list', false],
    // Project admin manages members, robots and the project itself.
    [ProjectAdmin, 'member', 'create', true],
    [ProjectAdmin, 'member', 'update', true],
    [ProjectAdmin, 'member', 'delete', true],
    [ProjectAdmin, 'robot', 'create', true],
    [ProjectAdmin, 'project', 'delete', true],
    [ProjectAdmin, 'log', 'list', true],
    [ProjectAdmin, 'configuration', 'update', true],
    [ProjectAdmin, 'repository', 'operate', false],
  ];
  it.each(rows.map((row) => [projectRoleName(row[0]), ...row] as const))(
    '%s (role %i) on %s:%s → %s',
    (_name, role, resource, action, expected) => {
      expect(roleAllows(role, resource, action)).toBe(expected);
    },
  );

  it('answers false for unknown roles, resources and actions', () => {
    expect(roleAllows(99 as ProjectRole, 'repository', 'pull')).toBe(false);
    expect(projectRolePolicies(99 as ProjectRole)).toEqual([]);
    expect(roleAllows(ProjectAdmin, 'repository', 'fly')).toBe(false);
    expect(roleAllows(ProjectAdmin, 'spaceship', 'read')).toBe(false);
  });

  it('roles nest: each role holds everything the role below it holds', () => {
    const chain = [LimitedGuest, Guest, Developer, Maintainer, ProjectAdmin];
    for (let i = 1; i < chain.length; i++) {
      const higher = keys(chain[i]);
      const missing = [...keys(chain[i - 1])].filter((key) => !higher.has(key));
      expect({ role: projectRoleName(chain[i]), missing }).toEqual({ role: projectRoleName(chain[i]), missing: [] });
      expect(higher.size).toBeGreaterThan(keys(chain[i - 1]).size);
    }
  });

  it('uses only known vocabulary, lists no pair twice and cannot be modified', () => {
    for (const role of PROJECT_ROLES) {
      const list = projectRolePolicies(role);
      expect(Object.isFrozen(list)).toBe(true);
      expect(keys(role).size).toBe(list.length);
      for (const p of list) {
        expect(isResource(p.resource) && (PROJECT_RESOURCES as readonly string[]).includes(p.resource)).toBe(true);
        expect(isAction(p.action)).toBe(true);
      }
    }
  });

  it('a system administrator holds in every project what the project admin holds', () => {
    expect(new Set(ALL_PROJECT_POLICIES.map((p) => policyKey(p.resource, p.action)))).toEqual(keys(ProjectAdmin));
  });
});

describe('public projects', () => {
  it.each([
    ['repository', 'pull', true],
    ['repository', 'list', true],
    ['artifact', 'read', true],
    ['tag', 'list', true],
    ['scan', 'read', true],
    ['project', 'read', true],
    ['repository', 'push', false],
    ['artifact', 'delete', false],
    ['member', 'list', false],
    ['log', 'list', false],
    ['robot', 'list', false],
    ['quota', 'read', false],
  ])('a visitor on %s:%s → %s', (resource, action, expected) => {
    expect(publicProjectAllows(resource, action)).toBe(expected);
  });

  it('grants only read-only actions', () => {
    for (const p of publicProjectPolicies) expect(['read', 'list', 'pull']).toContain(p.action);
  });
});

describe('projectAllows', () => {
  it('grants nothing to a non-member of a private project', () => {
    expect(projectAllows({ roles: [], publicProject: false }, 'repository', 'pull')).toBe(false);
  });

  it('lets a non-member pull from a public project, but not push', () => {
    const visitor = { roles: [], publicProject: true };
    expect(projectAllows(visitor, 'repository', 'pull')).toBe(true);
    expect(projectAllows(visitor, 'repository', 'push')).toBe(false);
  });

  it('adds up every role a user holds, directly and through groups', () => {
    const user = { roles: [LimitedGuest, Developer], publicProject: false };
    expect(projectAllows(user, 'repository', 'push')).toBe(true);
    expect(projectAllows(user, 'member', 'list')).toBe(true);
    expect(projectAllows(user, 'artifact', 'delete')).toBe(false);
  });

  it('a limited guest of a public project keeps what visitors may do', () => {
    const user = { roles: [LimitedGuest], publicProject: true };
    expect(projectAllows(user, 'label', 'list')).toBe(true);
    expect(projectAllows(user, 'member', 'list')).toBe(false);
  });
});
