import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { createFetchDouble, errorReply, type FetchDouble } from '../../test/fetch-double.js';
import { ADMIN, PROJECT, renderWithApp } from '../../test/render.js';
import { MembersPage, type Member } from './MembersPage.js';

function member(id: number, name: string, roleId: number, userId = id + 100): Member {
  const roleNames = ['projectAdmin', 'developer', 'guest', 'maintainer', 'limitedGuest'] as const;
  return {
    id,
    project_id: PROJECT.project_id,
    entity_name: name,
    role_name: roleNames[roleId - 1]!,
    role_id: roleId,
    entity_id: userId,
    entity_type: 'u',
  };
}

const MEMBERS = [member(1, 'admin', 1, ADMIN.user_id), member(2, 'alice', 4), member(3, 'bob', 2)];
const PATH = '/api/v2.0/projects/3/members';

function server(members = MEMBERS): FetchDouble {
  return createFetchDouble()
    .on('GET', PATH, { body: members, headers: { 'X-Total-Count': String(members.length) } })
    .on('GET', '/api/v2.0/users/current/permissions', { body: [] })
    .on('GET', '/api/v2.0/users/search', { body: [{ user_id: 9, username: 'carol' }] });
}

function renderPage(double: FetchDouble) {
  return renderWithApp(<MembersPage />, {
    at: '/projects/3/members',
    path: '/projects/:projectId/members',
    project: PROJECT,
    server: double,
  });
}

describe('MembersPage (HTTP replaced by a fetch test double)', () => {
  it('lists members with their roles, and offers no changes of the signed-in user', async () => {
    renderPage(server());
    const table = await screen.findByRole('table');
    const rows = within(table).getAllByRole('row');
    expect(within(rows[1]!).getByText('Project Admin')).toBeInTheDocument();
    expect(within(rows[1]!).queryByRole('button')).not.toBeInTheDocument();
    expect(within(rows[2]!).getByText('Maintainer')).toBeInTheDocument();
    expect(within(rows[3]!).getByRole('button', { name: 'Remove bob' })).toBeInTheDocument();
  });

  it('adds a member by user name with the chosen role', async () => {
    const double = server().on('POST', PATH, { status: 201 });
    renderPage(double);
    await screen.findByRole('table');

    await userEvent.click(screen.getByRole('button', { name: 'Add member' }));
    const dialog = screen.getByRole('dialog', { name: 'Add member' });
    await userEvent.type(within(dialog).getByLabelText('Username'), 'carol');
    await userEvent.selectOptions(within(dialog).getByLabelText('Role'), 'Guest');
    await userEvent.click(within(dialog).getByRole('button', { name: 'OK' }));

    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    const post = double.requests.find((r) => r.method === 'POST');
    expect(post?.body).toEqual({ role_id: 3, member_user: { username: 'carol' } });
    expect(await screen.findByText('carol added to project shop.')).toBeInTheDocument();
  });

  it('says plainly when the user does not exist', async () => {
    const double = server().on(
      'POST',
      PATH,
      errorReply(400, 'BAD_REQUEST', 'member_user.username: user nobody not found'),
    );
    renderPage(double);
    await screen.findByRole('table');

    await userEvent.click(screen.getByRole('button', { name: 'Add member' }));
    const dialog = screen.getByRole('dialog', { name: 'Add member' });
    await userEvent.type(within(dialog).getByLabelText('Username'), 'nobody');
    await userEvent.click(within(dialog).getByRole('button', { name: 'OK' }));

    expect(await within(dialog).findByRole('alert')).toHaveTextContent('There is no user named “nobody”.');
  });

  it('changes a role', async () => {
    const double = server().on('PUT', `${PATH}/3`, { status: 200 });
    renderPage(double);
    await userEvent.click(await screen.findByRole('button', { name: 'Change role of bob' }));
    const dialog = screen.getByRole('dialog', { name: 'Change role of bob' });
    await userEvent.selectOptions(within(dialog).getByLabelText('Role'), 'Maintainer');
    await userEvent.click(within(dialog).getByRole('button', { name: 'OK' }));
    await waitFor(() => expect(double.requests.some((r) => r.method === 'PUT')).toBe(true));
    expect(double.requests.find((r) => r.method === 'PUT')?.body).toEqual({ role_id: 4 });
  });
});
