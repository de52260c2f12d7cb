import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { createFetchDouble, errorReply, type FetchDouble } from '../../test/fetch-double.js';
import { DEVELOPER, PROJECT, renderWithApp } from '../../test/render.js';
import { ProjectRobotsPage } from './ProjectRobotsPage.js';
import { type Robot } from './robot-model.js';

const DAY = 86_400;
const nowSeconds = Math.floor(Date.now() / 1000);

function robot(id: number, name: string, changes: Partial<Robot> = {}): Robot {
  return {
    id,
    name: `robot$shop+${name}`,
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
          { resource: 'repository', action: 'push' },
        ],
      },
    ],
    creator_type: 'local',
    creator_ref: 1,
    creation_time: '2026-03-01T10:00:00Z',
    update_time: '2026-03-01T10:00:00Z',
    ...changes,
  };
}

const CATALOG = {
  project: [
    { resource: 'repository', action: 'pull' },
    { resource: 'repository', action: 'push' },
    { resource: 'repository', action: 'delete' },
    { resource: 'artifact', action: 'read' },
    { resource: 'robot', action: 'create' },
  ],
};

/** A project administrator who is not a system administrator: everything of the catalog but repository:delete. */
const HELD = [
  { resource: 'repository', action: 'pull' },
  { resource: 'repository', action: 'push' },
  { resource: 'artifact', action: 'read' },
  { resource: 'robot', action: 'create' },
  { resource: 'robot', action: 'update' },
  { resource: 'robot', action: 'delete' },
  { resource: 'robot', action: 'list' },
];

function server(robots: Robot[], total = robots.length): FetchDouble {
  return createFetchDouble()
    .on('GET', '/api/v2.0/robots', { body: robots, headers: { 'X-Total-Count': String(total) } })
    .on('GET', '/api/v2.0/permissions', { body: CATALOG })
    .on('GET', '/api/v2.0/users/current/permissions', { body: HELD });
}

function renderPage(double: FetchDouble) {
  return renderWithApp(<ProjectRobotsPage />, {
    at: '/projects/3/robots',
    path: '/projects/:projectId/robots',
    project: PROJECT,
    user: DEVELOPER,
    server: double,
  });
}

describe('ProjectRobotsPage (HTTP replaced by a fetch test double)', () => {
  it("lists the project's robots from the server, with expiry, status and the server's total", async () => {
    const double = server(
      [
        robot(1, 'ci'),
        robot(2, 'old', { disable: true, duration: 1, expires_at: nowSeconds - DAY, description: 'Old job' }),
      ],
      27,
    );
    renderPage(double);

    const table = await screen.findByRole('table');
    const rows = within(table).getAllByRole('row');
    expect(rows).toHaveLength(3);
    expect(within(rows[1]!).getByText('robot$shop+ci')).toBeInTheDocument();
    expect(within(rows[1]!).getByText('Never')).toBeInTheDocument();
    expect(within(rows[1]!).getByText('Enabled')).toBeInTheDocument();
    expect(within(rows[1]!).getByText('2 permissions')).toBeInTheDocument();
    expect(within(rows[1]!).queryByText('Expired')).not.toBeInTheDocument();
    expect(within(rows[2]!).getByText('Expired')).toBeInTheDocument();
    expect(within(rows[2]!).getByText('Disabled')).toBeInTheDocument();
    expect(within(rows[2]!).getByRole('button', { name: 'Enable robot$shop+old' })).toBeInTheDocument();
    expect(screen.getByText('1–25 of 27')).toBeInTheDocument();

    const list = double.requests.find((r) => r.path === '/api/v2.0/robots');
    expect(list?.query.get('q')).toBe('Level=project,ProjectID=3');
    expect(list?.query.get('page')).toBe('1');
    expect(list?.query.get('page_size')).toBe('25');
  });

  it('creates a robot with only the permissions the user may grant, then shows its secret once', async () => {
    const double = server([]).on('POST', '/api/v2.0/robots', {
      status: 201,
      body: {
        id: 9,
        name: 'robot$shop+deploy',
        secret: 'S3cretFromServer0000000000000000',
        creation_time: '2026-03-02T00:00:00Z',
        expires_at: nowSeconds + 30 * DAY,
      },
    });
    renderPage(double);
    await screen.findByText(/There are no robot accounts yet/);

    await userEvent.click(screen.getByRole('button', { name: 'New robot account' }));
    const dialog = screen.getByRole('dialog', { name: 'New robot account' });
    await userEvent.type(within(dialog).getByLabelText('Name'), 'deploy');
    await userEvent.click(within(dialog).getByRole('radio', { name: 'Custom' }));
    expect(within(dialog).queryByRole('checkbox', { name: 'Repository: Delete' })).not.toBeInTheDocument();
    await userEvent.click(within(dialog).getByRole('button', { name: 'Select all' }));
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create' }));

    const secretDialog = await screen.findByRole('dialog', { name: 'Robot account robot$shop+deploy created' });
    expect(within(secretDialog).getByLabelText('Secret')).toHaveValue('S3cretFromServer0000000000000000');
    const post = double.requests.find((r) => r.method === 'POST' && r.path === '/api/v2.0/robots');
    expect(post?.body).toEqual({
      name: 'deploy',
      description: '',
      level: 'project',
      disable: false,
      duration: 30,
      permissions: [
        {
          kind: 'project',
          namespace: 'shop',
          access: [
            { resource: 'repository', action: 'pull' },
            { resource: 'repository', action: 'push' },
            { resource: 'artifact', action: 'read' },
            { resource: 'robot', action: 'create' },
          ],
        },
      ],
    });
  });

  it('refuses to send a robot without permissions or with a bad name', async () => {
    const double = server([]);
    renderPage(double);
    await screen.findByText(/There are no robot accounts yet/);

    await userEvent.click(screen.getByRole('button', { name: 'New robot account' }));
    const dialog = screen.getByRole('dialog', { name: 'New robot account' });
    await userEvent.type(within(dialog).getByLabelText('Name'), 'Bad+Name');
    await userEvent.click(within(dialog).getByRole('radio', { name: 'Custom' }));
    await userEvent.click(within(dialog).getByRole('button', { name: 'Unselect all' }));
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create' }));

    expect(within(dialog).getByText(/Use lower-case letters and digits/)).toBeInTheDocument();
    expect(within(dialog).getByText('Choose at least one permission.')).toBeInTheDocument();
    expect(double.requests.some((r) => r.method === 'POST')).toBe(false);
  });

  it('says in words when the user may not see the robots', async () => {
    const double = server([]).on(
      'GET',
      '/api/v2.0/robots',
      errorReply(403, 'FORBIDDEN', 'you may not list robot accounts of project shop'),
    );
    renderPage(double);

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent(
      'Could not load the robot accounts: you may not list robot accounts of project shop.',
    );
    expect(alert).not.toHaveTextContent('not allowed');
  });

  it('disables a robot after confirmation, sending the robot back with disable set', async () => {
    const double = server([robot(1, 'ci')]).on('PUT', '/api/v2.0/robots/1', { status: 200 });
    renderPage(double);

    await userEvent.click(await screen.findByRole('button', { name: 'Disable robot$shop+ci' }));
    const dialog = screen.getByRole('dialog', { name: 'Disable robot account' });
    await userEvent.click(within(dialog).getByRole('button', { name: 'Disable' }));

    await waitFor(() => expect(double.requests.some((r) => r.method === 'PUT')).toBe(true));
    const put = double.requests.find((r) => r.method === 'PUT');
    expect(put?.body).toMatchObject({ name: 'robot$shop+ci', level: 'project', disable: true });
    expect(put?.headers.get('Content-Type')).toContain('application/json');
  });
});
