import { describe, expect, it } from 'vitest';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Route } from 'react-router';
import { createFetchDouble } from '../test/fetch-double.js';
import { type CurrentUser } from '../api/types.js';
import { ADMIN, DEVELOPER, renderWithApp } from '../test/render.js';
import { RequireAdmin, RequireAuth } from './Guards.js';
import { Layout } from './Layout.js';

function renderShell(at: string, user: CurrentUser | null = DEVELOPER) {
  const server = createFetchDouble().on('GET', '/c/logout', { status: 200 });
  return renderWithApp(<p>Elsewhere</p>, {
    at,
    path: '/elsewhere',
    server,
    user,
    routes: (
      <>
        <Route
          element={
            <RequireAuth>
              <Layout />
            </RequireAuth>
          }
        >
          <Route path="/projects" element={<p>Projects content</p>} />
          <Route path="/admin" element={<RequireAdmin />}>
            <Route path="users" element={<p>Users content</p>} />
          </Route>
        </Route>
        <Route path="/login" element={<p>Login page</p>} />
      </>
    ),
  });
}

describe('Layout and guards', () => {
  it('shows the Administration menu to system administrators only', () => {
    const { unmount } = renderShell('/projects', ADMIN);
    const nav = screen.getByRole('navigation', { name: 'Main' });
    expect(within(nav).getByRole('link', { name: 'Users' })).toHaveAttribute('href', '/admin/users');
    expect(within(nav).getByRole('link', { name: 'Audit log' })).toBeInTheDocument();
    expect(within(nav).getByRole('link', { name: 'Job Service Dashboard' })).toHaveAttribute(
      'href',
      '/admin/job-service-dashboard',
    );
    expect(within(nav).getByRole('link', { name: 'Interrogation Services' })).toHaveAttribute(
      'href',
      '/admin/interrogation-services/scanners',
    );
    unmount();

    renderShell('/projects');
    const plain = screen.getByRole('navigation', { name: 'Main' });
    expect(within(plain).getByRole('link', { name: 'Projects' })).toBeInTheDocument();
    expect(within(plain).queryByText('Administration')).not.toBeInTheDocument();
    expect(within(plain).queryByRole('link', { name: 'Users' })).not.toBeInTheDocument();
    expect(within(plain).queryByRole('link', { name: 'Job Service Dashboard' })).not.toBeInTheDocument();
  });

  it('shows a clear Not allowed page when a non-administrator reaches an admin page', () => {
    renderShell('/admin/users');
    expect(screen.getByRole('heading', { name: 'Not allowed' })).toBeInTheDocument();
    expect(screen.queryByText('Users content')).not.toBeInTheDocument();
  });

  it('sends visitors without a session to the login page', () => {
    renderShell('/projects', null);
    expect(screen.getByText('Login page')).toBeInTheDocument();
  });

  it('logs out from the user menu', async () => {
    const { server, queryClient } = renderShell('/projects');
    await userEvent.click(screen.getByRole('button', { name: /dev/ }));
    await userEvent.click(screen.getByRole('button', { name: 'Log out' }));
    expect(await screen.findByText('Login page')).toBeInTheDocument();
    expect(server.requests.map((r) => r.path)).toContain('/c/logout');
    expect(queryClient.getQueryData(['users', 'current'])).toBeNull();
  });
});
