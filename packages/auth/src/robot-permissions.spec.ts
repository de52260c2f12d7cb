import { describe, expect, it } from '@jest/globals';
import { PROJECT_RESOURCES, SYSTEM_RESOURCES } from './rbac.js';
import {
  ROBOT_PERMISSION_CATALOG,
  type RobotGrant,
  type RobotPermission,
  flattenRobotPermissions,
  grantsCover,
  groupRobotGrants,
  isGrantableToRobot,
  robotAllows,
  robotPermissionSchema,
  validateRobotPermissions,
} from './robot-permissions.js';

const pullPush: RobotPermission = {
  kind: 'project',
  namespace: 'library',
  access: [
    { resource: 'repository', action: 'pull' },
    { resource: 'repository', action: 'push' },
  ],
};

describe('ROBOT_PERMISSION_CATALOG', () => {
  it('offers the registry operations CI robots need at project level', () => {
    const project = ROBOT_PERMISSION_CATALOG.project;
    for (const action of ['pull', 'push', 'delete', 'list', 'read', 'update']) {
      expect(project).toContainEqual({ resource: 'repository', action });
    }
    expect(project).toContainEqual({ resource: 'artifact', action: 'delete' });
    expect(project).toContainEqual({ resource: 'member', action: 'create' });
    expect(project).toContainEqual({ resource: 'sbom', action: 'create' });
  });

  it('offers system operations but never the system configuration', () => {
    const system = ROBOT_PERMISSION_CATALOG.system;
    expect(system).toContainEqual({ resource: 'project', action: 'create' });
    expect(system).toContainEqual({ resource: 'audit-log', action: 'list' });
    expect(system).toContainEqual({ resource: 'scan-all', action: 'stop' });
    expect(system).toContainEqual({ resource: 'user', action: 'create' });
    expect(system.some((p) => p.resource === 'configuration')).toBe(false);
    expect(ROBOT_PERMISSION_CATALOG.project.some((p) => p.resource === 'configuration')).toBe(false);
  });

  it('uses only the resources of its kind, lists nothing twice and cannot be modified', () => {
    for (const [kind, resources] of [
      ['system', SYSTEM_RESOURCES],
      ['project', PROJECT_RESOURCES],
    ] as const) {
      const list = ROBOT_PERMISSION_CATALOG[kind];
      expect(Object.isFrozen(list)).toBe(true);
      expect(new Set(list.map((p) => `${p.resource}:${p.action}`)).size).toBe(list.length);
      for (const p of list) {
        expect((resources as readonly string[]).includes(p.resource)).toBe(true);
        expect(isGrantableToRobot(kind, p.resource, p.action)).toBe(true);
      }
    }
    expect(isGrantableToRobot('project', 'audit-log', 'list')).toBe(false);
    expect(isGrantableToRobot('system', 'repository', 'pull')).toBe(false);
  });

  it('serialises as the swagger Permissions body', () => {
    const body = JSON.parse(JSON.stringify(ROBOT_PERMISSION_CATALOG)) as Record<string, unknown[]>;
    expect(Object.keys(body).sort()).toEqual(['project', 'system']);
    expect(body.project[0]).toEqual({ resource: expect.any(String), action: expect.any(String) });
  });
});

describe('validateRobotPermissions', () => {
  it('accepts a project robot with pull and push on its own project', () => {
    expect(validateRobotPermissions('project', [pullPush], 'library')).toEqual([]);
    expect(robotPermissionSchema.parse(pullPush)).toEqual(pullPush);
  });

  it('accepts a system robot with system access, one project and every project', () => {
    const permissions = [
      { kind: 'system', namespace: '/', access: [{ resource: 'project', action: 'create' }] },
      { kind: 'project', namespace: '*', access: [{ resource: 'repository', action: 'pull' }] },
      { kind: 'project', namespace: 'team-a', access: [{ resource: 'repository', action: 'push', effect: 'allow' }] },
    ];
    expect(validateRobotPermissions('system', permissions)).toEqual([]);
  });

  it('names the element with an action that is not valid for its resource', () => {
    const permissions = [
      {
        kind: 'project',
        namespace: 'library',
        access: [
          { resource: 'repository', action: 'pull' },
          { resource: 'repository', action: 'push' },
          { resource: 'repository', action: 'fly' },
        ],
      },
    ];
    expect(validateRobotPermissions('project', permissions, 'library')).toEqual([
      'permissions[0].access[2]: action "fly" is not valid for resource "repository"',
    ]);
  });

  it('refuses resources of the other kind and resources that do not exist', () => {
    const permissions = [
      {
        kind: 'project',
        namespace: 'library',
        access: [
          { resource: 'audit-log', action: 'list' },
          { resource: 'configuration', action: 'update' },
          { resource: 'spaceship', action: 'read' },
        ],
      },
    ];
    expect(validateRobotPermissions('project', permissions, 'library')).toEqual([
      'permissions[0].access[0]: resource "audit-log" is not valid for a permission of kind "project"',
      'permissions[0].access[1]: resource "configuration" is not valid for a permission of kind "project"',
      'permissions[0].access[2]: resource "spaceship" is not valid for a permission of kind "project"',
    ]);
  });

  it('refuses a project robot reaching beyond its own project', () => {
    expect(validateRobotPermissions('project', [{ ...pullPush, namespace: 'other' }], 'library')).toEqual([
      'permissions[0].namespace: must be the robot\'s project "library", got "other"',
    ]);
    expect(validateRobotPermissions('project', [{ ...pullPush, namespace: '*' }])).toEqual([
      'permissions[0].namespace: "*" is not a project name',
    ]);
    expect(
      validateRobotPermissions(
        'project',
        [{ kind: 'system', namespace: '/', access: [{ resource: 'project', action: 'create' }] }],
        'library',
      ),
    ).toEqual(['permissions[0].kind: a project robot can only hold a permission of kind "project"']);
  });

  it('refuses a project robot with more than one permission', () => {
    const problems = validateRobotPermissions('project', [pullPush, { ...pullPush, namespace: 'other' }], 'library');
    expect(problems).toContain('permissions: a project robot holds exactly one permission, got 2');
  });

  it('refuses system permissions outside namespace "/" and malformed project namespaces', () => {
    const permissions = [
      { kind: 'system', namespace: 'library', access: [{ resource: 'project', action: 'create' }] },
      { kind: 'project', namespace: 'Library', access: [{ resource: 'repository', action: 'pull' }] },
    ];
    expect(validateRobotPermissions('system', permissions)).toEqual([
      'permissions[0].namespace: a permission of kind "system" has namespace "/", got "library"',
      'permissions[1].namespace: "Library" is neither a project name nor "*" (every project)',
    ]);
  });

  it('refuses duplicates of a permission scope and of an access', () => {
    const permissions = [
      pullPush,
      { kind: 'project', namespace: 'library', access: [{ resource: 'artifact', action: 'delete' }] },
      {
        kind: 'project',
        namespace: 'team',
        access: [
          { resource: 'repository', action: 'pull' },
          { resource: 'repository', action: 'pull', effect: 'deny' },
        ],
      },
    ];
    expect(validateRobotPermissions('system', permissions)).toEqual([
      'permissions[1]: repeats permissions[0] (kind "project", namespace "library"); list its access there',
      'permissions[2].access[1]: repeats access[0] (repository:pull)',
    ]);
  });

  it('requires at least one permission and at least one access in each', () => {
    expect(validateRobotPermissions('system', [])).toEqual(['permissions: at least one permission is required']);
    expect(validateRobotPermissions('project', [{ kind: 'project', namespace: 'library', access: [] }])).toEqual([
      'permissions[0].access: at least one access is required',
    ]);
  });

  it('reports malformed input by path instead of throwing', () => {
    expect(validateRobotPermissions('system', 'everything')).toHaveLength(1);
    expect(validateRobotPermissions('system', 'everything')[0]).toMatch(/^permissions: /);
    const problems = validateRobotPermissions('project', [
      { kind: 'galaxy', namespace: 'library', access: [{ resource: 'repository', action: 'pull', effect: 'maybe' }] },
    ]);
    expect(problems.some((p) => p.startsWith('permissions[0].kind: '))).toBe(true);
    expect(problems.some((p) => p.startsWith('permissions[0].access[0].effect: '))).toBe(true);
    expect(validateRobotPermissions('galaxy' as 'system', [pullPush])).toEqual([
      'level "galaxy" is not valid: expected "system" or "project"',
    ]);
  });
});

describe('robotAllows', () => {
  const grants: RobotGrant[] = [
    { kind: 'project', namespace: 'library', resource: 'repository', action: 'push' },
    { kind: 'project', namespace: '*', resource: 'repository', action: 'pull' },
    { kind: 'system', namespace: '/', resource: 'project', action: 'create' },
  ];

  it('matches a grant on the same kind, namespace, resource and action', () => {
    expect(robotAllows(grants, { kind: 'project', namespace: 'library', resource: 'repository', action: 'push' })).toBe(
      true,
    );
    expect(robotAllows(grants, { kind: 'system', namespace: '/', resource: 'project', action: 'create' })).toBe(true);
  });

  it('lets a grant on "*" match every project', () => {
    expect(robotAllows(grants, { kind: 'project', namespace: 'any', resource: 'repository', action: 'pull' })).toBe(
      true,
    );
  });

  it('refuses other projects, other actions and other kinds', () => {
    expect(robotAllows(grants, { kind: 'project', namespace: 'other', resource: 'repository', action: 'push' })).toBe(
      false,
    );
    expect(
      robotAllows(grants, { kind: 'project', namespace: 'library', resource: 'repository', action: 'delete' }),
    ).toBe(false);
    expect(robotAllows(grants, { kind: 'project', namespace: '/', resource: 'project', action: 'create' })).toBe(false);
    expect(robotAllows([], { kind: 'project', namespace: 'library', resource: 'repository', action: 'pull' })).toBe(
      false,
    );
  });

  it('matches a request on every project only with a grant on every project', () => {
    expect(robotAllows(grants, { kind: 'project', namespace: '*', resource: 'repository', action: 'push' })).toBe(
      false,
    );
    expect(robotAllows(grants, { kind: 'project', namespace: '*', resource: 'repository', action: 'pull' })).toBe(true);
  });

  it('lets a deny win over any allow', () => {
    const withDeny: RobotGrant[] = [
      ...grants,
      { kind: 'project', namespace: 'secret', resource: 'repository', action: 'pull', effect: 'deny' },
    ];
    expect(
      robotAllows(withDeny, { kind: 'project', namespace: 'secret', resource: 'repository', action: 'pull' }),
    ).toBe(false);
    expect(
      robotAllows(withDeny, { kind: 'project', namespace: 'public', resource: 'repository', action: 'pull' }),
    ).toBe(true);
  });
});

describe('grantsCover', () => {
  const held = flattenRobotPermissions([
    pullPush,
    { kind: 'project', namespace: '*', access: [{ resource: 'artifact', action: 'read' }] },
  ]);

  it('accepts handing out a subset of what is held', () => {
    const requested = flattenRobotPermissions([
      { kind: 'project', namespace: 'library', access: [{ resource: 'repository', action: 'pull' }] },
      { kind: 'project', namespace: 'team', access: [{ resource: 'artifact', action: 'read' }] },
    ]);
    expect(grantsCover(held, requested)).toEqual([]);
  });

  it('returns exactly the grants that exceed what is held', () => {
    const requested = flattenRobotPermissions([
      {
        kind: 'project',
        namespace: 'library',
        access: [
          { resource: 'repository', action: 'pull' },
          { resource: 'repository', action: 'delete' },
        ],
      },
      { kind: 'project', namespace: 'team', access: [{ resource: 'repository', action: 'pull' }] },
      { kind: 'system', namespace: '/', access: [{ resource: 'user', action: 'create' }] },
    ]);
    expect(grantsCover(held, requested)).toEqual([
      { kind: 'project', namespace: 'library', resource: 'repository', action: 'delete' },
      { kind: 'project', namespace: 'team', resource: 'repository', action: 'pull' },
      { kind: 'system', namespace: '/', resource: 'user', action: 'create' },
    ]);
  });

  it('does not let a grant on one project stand in for a grant on every project', () => {
    const requested: RobotGrant[] = [{ kind: 'project', namespace: '*', resource: 'repository', action: 'pull' }];
    expect(grantsCover(held, requested)).toEqual(requested);
  });

  it('needs no cover for deny grants, and a held deny cannot be handed out as an allow', () => {
    const deny: RobotGrant = { kind: 'project', namespace: 'x', resource: 'robot', action: 'create', effect: 'deny' };
    expect(grantsCover([], [deny])).toEqual([]);
    const heldWithDeny: RobotGrant[] = [
      ...held,
      { kind: 'project', namespace: 'library', resource: 'repository', action: 'push', effect: 'deny' },
    ];
    const push: RobotGrant = { kind: 'project', namespace: 'library', resource: 'repository', action: 'push' };
    expect(grantsCover(heldWithDeny, [push])).toEqual([push]);
  });
});

describe('flattenRobotPermissions and groupRobotGrants', () => {
  it('round-trip a permission list', () => {
    const permissions: RobotPermission[] = [
      pullPush,
      {
        kind: 'system',
        namespace: '/',
        access: [
          { resource: 'project', action: 'list' },
          { resource: 'user', action: 'delete', effect: 'deny' },
        ],
      },
    ];
    const grants = flattenRobotPermissions(permissions);
    expect(grants).toHaveLength(4);
    expect(grants[3]).toEqual({ kind: 'system', namespace: '/', resource: 'user', action: 'delete', effect: 'deny' });
    expect(groupRobotGrants(grants)).toEqual(permissions);
  });

  it('drops an explicit allow effect, which is the default', () => {
    const grants = flattenRobotPermissions([
      { kind: 'project', namespace: 'a', access: [{ resource: 'repository', action: 'pull', effect: 'allow' }] },
    ]);
    expect(grants).toEqual([{ kind: 'project', namespace: 'a', resource: 'repository', action: 'pull' }]);
  });
});
