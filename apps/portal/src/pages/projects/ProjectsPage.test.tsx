import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { type ProjectListItem } from '../../api/types.js';
import { createFetchDouble, errorReply, type FetchDouble } from '../../test/fetch-double.js';
import { DEVELOPER, renderWithApp } from '../../test/render.js';
import { ProjectsPage } from './ProjectsPage.js';
import { parseStorageLimit } from './CreateProjectDialog.js';

function project(id: number, name: string, isPublic: boolean, repos = 0): ProjectListItem {
  return {
    project_id: id,
    name,
    creation_time: '2026-02-01T10:00:00Z',
    update_time: '2026-02-01T10:00:00Z',
    repo_count: repos,
    current_user_role_id: 1,
    metadata: { public: isPublic ? 'true' : 'false' },
  };
}

const LIST = [project(1, 'library', true, 4), project(2, 'shop', false, 0)];

function serverWith(list: ProjectListItem[] = LIST, total = list.length): FetchDouble {
  return createFetchDouble()
    .on('GET', '/api/v2.0/systeminfo', { body: { current_time: '2026-03-01T00:00:00Z' } })
    .on('GET', '/api/v2.0/projects', { body: list, headers: { 'X-Total-Count': String(total) } });
}

function renderProjects(server: FetchDouble, at = '/projects', user = undefined as typeof DEVELOPER | undefined) {
  return renderWithApp(<ProjectsPage />, { at, path: '/projects', server, ...(user ? { user } : {}) });
}

describe('ProjectsPage', () => {
  it('lists a page of projects with access, repositories and the server total', async () => {
    const server = serverWith(LIST, 30);
    renderProjects(server);

    const table = await screen.findByRole('table');
    const rows = within(table).getAllByRole('row');
    expect(rows).toHaveLength(3);
    expect(within(rows[1]!).getByRole('link', { name: 'library' })).toHaveAttribute('href', '/projects/1/summary');
    expect(within(rows[1]!).getByText('Public')).toBeInTheDocument();
    expect(within(rows[1]!).getByText('4')).toBeInTheDocument();
    expect(within(rows[2]!).getByText('Private')).toBeInTheDocument();
    expect(screen.getByText('1–25 of 30')).toBeInTheDocument();

    const list = server.requests.find((r) => r.path === '/api/v2.0/projects');
    expect(list?.query.get('page')).toBe('1');
    expect(list?.query.get('page_size')).toBe('25');
  });

  it('asks the server for the next page', async () => {
    const server = serverWith(LIST, 30);
    renderProjects(server);
    await screen.findByRole('table');

    await userEvent.click(screen.getByRole('button', { name: 'Next' }));

    await waitFor(() =>
      expect(server.requests.some((r) => r.path === '/api/v2.0/projects' && r.query.get('page') === '2')).toBe(true),
    );
  });

  it('searches by name with Harbor’s fuzzy query', async () => {
    const server = serverWith();
    renderProjects(server);
    await screen.findByRole('table');

    await userEvent.type(screen.getByLabelText('Search projects'), 'sho{Enter}');

    await waitFor(() =>
      expect(server.requests.some((r) => r.path === '/api/v2.0/projects' && r.query.get('q') === 'name=~sho')).toBe(
        true,
      ),
    );
  });

  it('shows an empty state and an error state in words', async () => {
    renderProjects(serverWith([], 0));
    expect(await screen.findByText('There are no projects yet.')).toBeInTheDocument();
  });

  it('explains a server failure with the request id', async () => {
    const server = createFetchDouble()
      .on('GET', '/api/v2.0/systeminfo', { body: { current_time: '' } })
      .on('GET', '/api/v2.0/projects', errorReply(500, 'UNKNOWN', 'internal error', 'req-77'));
    renderProjects(server);

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Wharf had an internal problem while trying to load the projects');
    expect(alert).toHaveTextContent('req-77');
    expect(within(alert).getByRole('button', { name: 'Try again' })).toBeInTheDocument();
  });

  it('creates a project with its access level and storage limit', async () => {
    const server = serverWith();
    server.on('POST', '/api/v2.0/projects', { status: 201, headers: { Location: '/api/v2.0/projects/9' } });
    renderProjects(server);
    await screen.findByRole('table');

    await userEvent.click(screen.getByRole('button', { name: 'New project' }));
    const dialog = screen.getByRole('dialog', { name: 'New project' });
    await userEvent.type(within(dialog).getByLabelText('Project name'), 'web-app');
    await userEvent.click(within(dialog).getByLabelText('Public'));
    await userEvent.type(within(dialog).getByLabelText('Storage limit'), '10');
    await userEvent.selectOptions(within(dialog).getByLabelText('Unit'), 'GiB');
    await userEvent.click(within(dialog).getByRole('button', { name: 'OK' }));

    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    const created = server.requests.find((r) => r.method === 'POST' && r.path === '/api/v2.0/projects');
    expect(created?.body).toEqual({
      project_name: 'web-app',
      metadata: { public: 'true' },
      storage_limit: 10 * 1024 ** 3,
    });
    expect(await screen.findByText('Project web-app was created.')).toBeInTheDocument();
  });

  it('checks the project name as Harbor does before sending it', async () => {
    const server = serverWith();
    renderProjects(server);
    await screen.findByRole('table');

    await userEvent.click(screen.getByRole('button', { name: 'New project' }));
    const dialog = screen.getByRole('dialog', { name: 'New project' });
    await userEvent.type(within(dialog).getByLabelText('Project name'), 'Web App');
    await userEvent.click(within(dialog).getByRole('button', { name: 'OK' }));

    expect(within(dialog).getByText('The project name must be in lower case.')).toBeInTheDocument();
    expect(server.requests.some((r) => r.method === 'POST')).toBe(false);
  });

  it('says once that a project already exists on 409', async () => {
    const server = serverWith();
    server.on('POST', '/api/v2.0/projects', errorReply(409, 'CONFLICT', 'project shop already exists'));
    renderProjects(server);
    await screen.findByRole('table');

    await userEvent.click(screen.getByRole('button', { name: 'New project' }));
    const dialog = screen.getByRole('dialog', { name: 'New project' });
    await userEvent.type(within(dialog).getByLabelText('Project name'), 'shop');
    await userEvent.click(within(dialog).getByRole('button', { name: 'OK' }));

    const alert = await within(dialog).findByRole('alert');
    expect(alert.textContent).toBe('Could not create the project: project shop already exists.');
  });

  it('explains why a project with repositories cannot be deleted (412)', async () => {
    const server = serverWith();
    server
      .on('GET', '/api/v2.0/projects/1/_deletable', { body: { deletable: true } })
      .on(
        'DELETE',
        '/api/v2.0/projects/1',
        errorReply(412, 'PRECONDITION', 'the project still holds repositories; delete them first'),
      );
    renderProjects(server);
    await screen.findByRole('table');

    await userEvent.click(screen.getByRole('button', { name: 'Delete project library' }));
    const dialog = screen.getByRole('dialog', { name: 'Delete project' });
    await userEvent.click(within(dialog).getByRole('button', { name: 'Delete' }));

    expect(await within(dialog).findByRole('alert')).toHaveTextContent(
      'Could not delete the project: the project still holds repositories; delete them first.',
    );
    expect(server.requests.some((r) => r.method === 'DELETE')).toBe(true);
  });

  it('deletes a project after confirmation', async () => {
    const server = serverWith();
    server
      .on('GET', '/api/v2.0/projects/2/_deletable', { body: { deletable: true } })
      .on('DELETE', '/api/v2.0/projects/2', { status: 200 });
    renderProjects(server);
    await screen.findByRole('table');

    await userEvent.click(screen.getByRole('button', { name: 'Delete project shop' }));
    await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Delete' }));

    expect(await screen.findByText('Project shop was deleted.')).toBeInTheDocument();
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  });

  it('offers no New project button when only administrators may create projects', async () => {
    const server = serverWith([], 0);
    server.on('GET', '/api/v2.0/systeminfo', {
      body: { current_time: '', project_creation_restriction: 'adminonly' },
    });
    renderProjects(server, '/projects', DEVELOPER);
    await screen.findByText('There are no projects yet.');
    await waitFor(() => expect(screen.queryByRole('button', { name: 'New project' })).not.toBeInTheDocument());
  });
});

describe('parseStorageLimit', () => {
  it('reads blank and -1 as no limit, and numbers in the unit', () => {
    expect(parseStorageLimit('', 'GiB')).toEqual({ bytes: -1 });
    expect(parseStorageLimit(' -1 ', 'MiB')).toEqual({ bytes: -1 });
    expect(parseStorageLimit('1.5', 'GiB')).toEqual({ bytes: 1.5 * 1024 ** 3 });
    expect(parseStorageLimit('0', 'GiB')).toHaveProperty('problem');
    expect(parseStorageLimit('ten', 'GiB')).toHaveProperty('problem');
    expect(parseStorageLimit('-5', 'GiB')).toHaveProperty('problem');
  });
});
