import { describe, expect, it, vi } from 'vitest';
import { useState } from 'react';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { PermissionPicker } from './PermissionPicker.js';
import { grantablePermissions, permissionKey, type Permission } from './permissions.js';

const CATALOG: Permission[] = [
  { resource: 'repository', action: 'pull' },
  { resource: 'repository', action: 'push' },
  { resource: 'repository', action: 'delete' },
  { resource: 'artifact', action: 'read' },
  { resource: 'artifact', action: 'delete' },
  { resource: 'tag', action: 'list' },
  { resource: 'project', action: 'read' },
];

/** What a developer holds in a project, as GET /users/current/permissions?relative=true answers it. */
const DEVELOPER_HELD: Permission[] = [
  { resource: '.', action: 'read' },
  { resource: 'repository', action: 'pull' },
  { resource: 'repository', action: 'push' },
  { resource: 'artifact', action: 'read' },
  { resource: 'tag', action: 'list' },
  { resource: 'member', action: 'list' },
];

function Harness({ available, initial = [] }: { available: readonly Permission[]; initial?: string[] }) {
  const [selected, setSelected] = useState<Set<string>>(new Set(initial));
  return (
    <>
      <PermissionPicker legend="Permissions" available={available} selected={selected} onChange={setSelected} />
      <output data-testid="selection">{[...selected].sort().join(' ')}</output>
    </>
  );
}

describe('grantablePermissions', () => {
  it('keeps only the catalog entries the caller holds, reading "." as the project itself', () => {
    const grantable = grantablePermissions(CATALOG, DEVELOPER_HELD).map(permissionKey);
    expect(grantable).toEqual(['repository:pull', 'repository:push', 'artifact:read', 'tag:list', 'project:read']);
  });

  it('never adds what the catalog does not offer, even when the caller holds it', () => {
    const grantable = grantablePermissions(CATALOG, DEVELOPER_HELD).map(permissionKey);
    expect(grantable).not.toContain('member:list');
  });

  it('offers the whole catalog to a system administrator', () => {
    expect(grantablePermissions(CATALOG)).toHaveLength(CATALOG.length);
  });
});

describe('PermissionPicker', () => {
  it('offers a checkbox for each permission that may be granted, and none for the others', () => {
    const available = grantablePermissions(CATALOG, DEVELOPER_HELD);
    render(<Harness available={available} />);

    const group = screen.getByRole('group', { name: 'Permissions' });
    expect(within(group).getAllByRole('checkbox')).toHaveLength(available.length);
    expect(within(group).getByRole('checkbox', { name: 'Repository: Pull' })).toBeInTheDocument();
    expect(within(group).queryByRole('checkbox', { name: 'Repository: Delete' })).not.toBeInTheDocument();
    expect(within(group).queryByRole('checkbox', { name: 'Artifact: Delete' })).not.toBeInTheDocument();
  });

  it('selects everything offered with "Select all", and nothing beyond it', async () => {
    const available = grantablePermissions(CATALOG, DEVELOPER_HELD);
    render(<Harness available={available} />);

    await userEvent.click(screen.getByRole('button', { name: 'Select all' }));

    expect(screen.getByTestId('selection')).toHaveTextContent(
      'artifact:read project:read repository:pull repository:push tag:list',
    );
    for (const box of screen.getAllByRole('checkbox')) expect(box).toBeChecked();
    expect(screen.getByText('5 of 5 selected')).toBeInTheDocument();

    await userEvent.click(screen.getByRole('button', { name: 'Unselect all' }));
    expect(screen.getByTestId('selection')).toBeEmptyDOMElement();
  });

  it('drops a selection that is not offered as soon as the user changes anything', async () => {
    const available = grantablePermissions(CATALOG, DEVELOPER_HELD);
    render(<Harness available={available} initial={['repository:delete']} />);
    expect(screen.getByText('0 of 5 selected')).toBeInTheDocument();

    await userEvent.click(screen.getByRole('checkbox', { name: 'Tag: List' }));

    expect(screen.getByTestId('selection')).toHaveTextContent(/^tag:list$/);
  });

  it('toggles one permission on and off', async () => {
    const onChange = vi.fn();
    render(<PermissionPicker legend="Permissions" available={CATALOG} selected={new Set()} onChange={onChange} />);
    await userEvent.click(screen.getByRole('checkbox', { name: 'Artifact: Delete' }));
    expect(onChange).toHaveBeenCalledWith(new Set(['artifact:delete']));
  });

  it('says so when there is nothing the user may grant', () => {
    render(<PermissionPicker legend="Permissions" available={[]} selected={new Set()} onChange={() => {}} />);
    expect(screen.getByText('There are no permissions you may grant here.')).toBeInTheDocument();
    expect(screen.queryByRole('checkbox')).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Select all' })).not.toBeInTheDocument();
  });
});
