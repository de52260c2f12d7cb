import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { createFetchDouble } from '../../test/fetch-double.js';
import { DEVELOPER, renderWithApp } from '../../test/render.js';
import { AuditLogsPage } from './AuditLogsPage.js';
import { QuotasPage } from './QuotasPage.js';
import { SystemRobotsPage } from './SystemRobotsPage.js';
import { UsersPage } from './UsersPage.js';

describe('administration pages reached by a user who is not a system administrator', () => {
  for (const [name, page, path] of [
    ['UsersPage', <UsersPage key="u" />, '/admin/users'],
    ['SystemRobotsPage', <SystemRobotsPage key="r" />, '/admin/robots'],
    ['QuotasPage', <QuotasPage key="q" />, '/admin/quotas'],
    ['AuditLogsPage', <AuditLogsPage key="a" />, '/admin/audit-logs'],
  ] as const) {
    it(`${name} says "Not allowed" and asks the server nothing`, () => {
      const server = createFetchDouble();
      renderWithApp(page, { at: path, user: DEVELOPER, server });
      expect(screen.getByRole('heading', { name: 'Not allowed' })).toBeInTheDocument();
      expect(server.requests).toHaveLength(0);
    });
  }
});

describe('UsersPage (HTTP replaced by a fetch test double)', () => {
  it('lists users, searches by name, and refuses a password the policy forbids before sending', async () => {
    const user = {
      email: 'alice@example.com',
      realname: 'Alice',
      comment: '',
      user_id: 2,
      username: 'alice',
      sysadmin_flag: false,
      admin_role_in_auth: false,
      creation_time: '2026-03-01T00:00:00Z',
      update_time: '2026-03-01T00:00:00Z',
    };
    const server = createFetchDouble().on('GET', '/api/v2.0/users', {
      body: [user],
      headers: { 'X-Total-Count': '1' },
    });
    renderWithApp(<UsersPage />, { at: '/admin/users', server });

    const table = await screen.findByRole('table');
    expect(within(table).getByText('alice@example.com')).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText('Search users'), 'al,i{Enter}');
    await waitFor(() => expect(server.requests.at(-1)?.query.get('q')).toBe('username=~al%2Ci'));

    await userEvent.click(screen.getByRole('button', { name: 'New user' }));
    const dialog = screen.getByRole('dialog', { name: 'New user' });
    await userEvent.type(within(dialog).getByLabelText('Username'), 'dave');
    await userEvent.type(within(dialog).getByLabelText('Email'), 'dave@example.com');
    await userEvent.type(within(dialog).getByLabelText('Full name'), 'Dave');
    await userEvent.type(within(dialog).getByLabelText('Password'), 'alllowercase1');
    await userEvent.type(within(dialog).getByLabelText('Confirm password'), 'alllowercase1');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create' }));

    expect(within(dialog).getByText('The password must contain at least one upper-case letter.')).toBeInTheDocument();
    expect(server.requests.some((r) => r.method === 'POST')).toBe(false);
  });
});
