import { describe, expect, it } from 'vitest';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import openapi from '../../../../core/openapi.json';
import { createFetchDouble } from '../../test/fetch-double.js';
import { renderWithApp } from '../../test/render.js';
import { RobotFormDialog, type GrantableCatalog, type RobotScope } from './RobotFormDialog.js';
import { WHARF_PERMISSIONS, permissionKey, type Permission, type RobotAccess } from './permissions.js';
import { type Robot } from './robot-model.js';

function expand(byResource: Record<string, string[]>): Permission[] {
  return Object.entries(byResource).flatMap(([resource, actions]) => actions.map((action) => ({ resource, action })));
}

const CRUDL = ['create', 'read', 'update', 'delete', 'list'];

/** GET /api/v2.0/permissions as the API answers it: Harbor's whole catalog, most of it for features not built. */
const HARBOR_CATALOG: GrantableCatalog = {
  system: expand({
    'audit-log': ['list'],
    'preheat-instance': CRUDL,
    project: ['create', 'list'],
    'replication-policy': CRUDL,
    replication: ['create', 'read', 'list'],
    registry: CRUDL,
    'scan-all': ['create', 'read', 'update', 'stop'],
    'garbage-collection': ['create', 'read', 'update', 'list', 'stop'],
    'purge-audit': ['create', 'read', 'update', 'list', 'stop'],
    'jobservice-monitor': ['list', 'stop'],
    scanner: CRUDL,
    label: ['create', 'read', 'update', 'delete'],
    catalog: ['read'],
    quota: ['read', 'update', 'list'],
    robot: CRUDL,
    user: CRUDL,
    'user-group': CRUDL,
  }),
  project: expand({
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
  }),
};

/** Resources of Harbor's catalog that no route or rule of Wharf checks. */
const NOT_BUILT = ['metadata', 'sbom', 'artifact-label', 'preheat-policy', 'notification-policy', 'label'];

const PROJECT_SCOPE: RobotScope = { level: 'project', projectId: 3, projectName: 'shop' };

function renderDialog(scope: RobotScope = PROJECT_SCOPE, robot?: Robot) {
  const server = createFetchDouble()
    .on('POST', '/api/v2.0/robots', {
      status: 201,
      body: { id: 9, name: 'robot$shop+ci', secret: 'S3cret000000000000000000000000000', creation_time: '' },
    })
    .on('PUT', /^\/api\/v2\.0\/robots\/\d+$/, { status: 200 });
  renderWithApp(<RobotFormDialog scope={scope} catalog={HARBOR_CATALOG} robot={robot} onClose={() => {}} />, {
    server,
  });
  return server;
}

async function create(server: ReturnType<typeof renderDialog>): Promise<unknown> {
  const dialog = screen.getByRole('dialog');
  const name = within(dialog).queryByLabelText('Name');
  if (name) await userEvent.type(name, 'ci');
  await userEvent.click(within(dialog).getByRole('button', { name: /^(Create|Save)$/ }));
  const sent = server.requests.find((r) => r.method === 'POST' || r.method === 'PUT');
  expect(sent).toBeDefined();
  return (sent!.body as { permissions: unknown }).permissions;
}

function accessKeys(access: RobotAccess[]): string[] {
  return access.map(permissionKey).sort();
}

describe('RobotFormDialog permission presets', () => {
  it('gives a new robot only Pull unless the user chooses more', async () => {
    const server = renderDialog();
    expect(screen.getByRole('radio', { name: 'Pull' })).toBeChecked();

    expect(await create(server)).toEqual([
      { kind: 'project', namespace: 'shop', access: [{ resource: 'repository', action: 'pull' }] },
    ]);
  });

  it('gives push and pull with "Push and pull"', async () => {
    const server = renderDialog();
    await userEvent.click(screen.getByRole('radio', { name: 'Push and pull' }));

    const [permission] = (await create(server)) as { access: RobotAccess[] }[];
    expect(accessKeys(permission!.access)).toEqual(['repository:pull', 'repository:push']);
  });

  it('gives every permission Wharf checks, and none for features not built, with "Everything"', async () => {
    const server = renderDialog();
    await userEvent.click(screen.getByRole('radio', { name: 'Everything a project robot may have' }));

    const [permission] = (await create(server)) as { access: RobotAccess[] }[];
    const keys = accessKeys(permission!.access);
    expect(keys).toEqual(
      expect.arrayContaining([
        'repository:delete',
        'artifact:create',
        'artifact:delete',
        'tag:create',
        'member:create',
        'robot:create',
        'immutable-tag:create',
        'tag-retention:update',
      ]),
    );
    expect(keys.filter((key) => NOT_BUILT.includes(key.split(':')[0]!))).toEqual([]);
    expect(keys).not.toContain('repository:read');
  });

  it('offers custom checkboxes only for resources that exist', async () => {
    renderDialog();
    await userEvent.click(screen.getByRole('radio', { name: 'Custom' }));

    const picker = screen.getByRole('group', { name: 'Custom permissions' });
    const rows = within(picker)
      .getAllByRole('rowheader')
      .map((cell) => cell.textContent);
    expect(rows).toEqual([
      'Log',
      'Project',
      'Repository',
      'Artifact',
      'Scan',
      'Tag',
      'Accessory',
      'Artifact addition',
      'Scanner',
      'Immutable tag',
      'Tag retention',
      'Quota',
      'Robot',
      'Member',
    ]);
    expect(within(picker).getAllByRole('checkbox')).toHaveLength(43);
    expect(within(picker).getByRole('checkbox', { name: 'Repository: Pull' })).toBeChecked();
  });

  it('offers a system robot only system permissions that exist, with the presets for its projects', async () => {
    const server = renderDialog({ level: 'system' });
    const system = screen.getByRole('group', { name: 'System permissions' });
    const resources = new Set(
      within(system)
        .getAllByRole('rowheader')
        .map((cell) => cell.textContent),
    );
    expect([...resources].sort()).toEqual([
      'Audit log',
      'Garbage collection',
      'Jobservice monitor',
      'Project',
      'Purge audit',
      'Quota',
      'Robot',
      'Scanner',
      'User',
    ]);
    await userEvent.click(screen.getByRole('radio', { name: 'Push and pull' }));

    const permissions = (await create(server)) as { kind: string; namespace: string; access: RobotAccess[] }[];
    expect(permissions.map((p) => [p.kind, p.namespace, accessKeys(p.access)])).toEqual([
      ['project', '*', ['repository:pull', 'repository:push']],
    ]);
  });

  it('keeps what a robot holds of features the portal does not offer when it is saved', async () => {
    const robot: Robot = {
      id: 5,
      name: 'robot$shop+scanner',
      description: '',
      level: 'project',
      duration: -1,
      editable: true,
      disable: false,
      expires_at: -1,
      permissions: [
        {
          kind: 'project',
          namespace: 'shop',
          access: [
            { resource: 'repository', action: 'pull' },
            { resource: 'sbom', action: 'create' },
          ],
        },
      ],
      creator_type: 'local',
      creator_ref: 1,
      creation_time: '',
      update_time: '',
    };
    const server = renderDialog(PROJECT_SCOPE, robot);
    expect(screen.getByRole('note')).toHaveTextContent('SBOM: Create');
    await userEvent.click(screen.getByRole('radio', { name: 'Push and pull' }));

    const [permission] = (await create(server)) as { access: RobotAccess[] }[];
    expect(accessKeys(permission!.access)).toEqual(['repository:pull', 'repository:push', 'sbom:create']);
  });
});

describe('WHARF_PERMISSIONS', () => {
  it("covers every permission a route of core's OpenAPI document requires", () => {
    const required: string[] = [];
    for (const operations of Object.values(openapi.paths as Record<string, Record<string, unknown>>)) {
      for (const operation of Object.values(operations)) {
        const access = (operation as { 'x-wharf-access'?: { kind: string; resource?: string; action?: string } })[
          'x-wharf-access'
        ];
        if (access?.kind === 'system' || access?.kind === 'project') {
          required.push(`${access.kind} ${access.resource}:${access.action}`);
        }
      }
    }
    expect(required.length).toBeGreaterThan(20);
    const missing = required.filter((entry) => {
      const [kind, key] = entry.split(' ') as ['system' | 'project', string];
      return !WHARF_PERMISSIONS[kind].has(key);
    });
    expect(missing).toEqual([]);
  });
});
