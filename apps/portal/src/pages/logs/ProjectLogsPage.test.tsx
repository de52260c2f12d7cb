import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { createFetchDouble, errorReply } from '../../test/fetch-double.js';
import { PROJECT, renderWithApp } from '../../test/render.js';
import { ProjectLogsPage } from './ProjectLogsPage.js';
import { logQuery } from './audit-log.js';

const LOGS = [
  {
    id: 12,
    username: 'alice',
    resource: 'shop/api:1.2',
    resource_type: 'artifact',
    operation: 'delete',
    op_time: '2026-03-02T09:00:00Z',
  },
  {
    id: 11,
    username: 'admin',
    resource: 'alice',
    resource_type: 'member',
    operation: 'create',
    op_time: '2026-03-01T09:00:00Z',
  },
];

describe('logQuery', () => {
  it('is empty without filters', () => {
    expect(logQuery({ username: '', resource: '', operation: '', from: '', to: '' })).toBeUndefined();
  });

  it('filters fuzzily by user and resource, exactly by operation, and keeps a typed "," inside its term', () => {
    expect(logQuery({ username: 'al,ice', resource: 'shop/api', operation: 'delete', from: '', to: '' })).toBe(
      'username=~al%2Cice,resource=~shop%2Fapi,operation=delete',
    );
  });

  it('turns a day range into a time range that includes the whole last day', () => {
    const q = logQuery({ username: '', resource: '', operation: '', from: '2026-03-01', to: '2026-03-02' });
    const from = new Date(2026, 2, 1).toISOString();
    const to = new Date(2026, 2, 3).toISOString();
    expect(q).toBe(`op_time=[${from}~${to}]`);
  });

  it('ignores a malformed day', () => {
    expect(logQuery({ username: '', resource: '', operation: '', from: '01/03/2026', to: '' })).toBeUndefined();
  });
});

describe('ProjectLogsPage (HTTP replaced by a fetch test double)', () => {
  it("lists the project's log newest first, and filters through q", async () => {
    const server = createFetchDouble().on('GET', '/api/v2.0/projects/shop/logs', {
      body: LOGS,
      headers: { 'X-Total-Count': '2' },
    });
    renderWithApp(<ProjectLogsPage />, {
      at: '/projects/3/logs',
      path: '/projects/:projectId/logs',
      project: PROJECT,
      server,
    });

    const table = await screen.findByRole('table');
    const rows = within(table).getAllByRole('row');
    expect(rows).toHaveLength(3);
    expect(within(rows[1]!).getByText('shop/api:1.2')).toBeInTheDocument();
    expect(within(rows[1]!).getByText('delete')).toBeInTheDocument();
    const first = server.requests[0]!;
    expect(first.query.get('sort')).toBe('-op_time');
    expect(first.query.get('q')).toBeNull();

    await userEvent.type(screen.getByLabelText('User name'), 'alice');
    await userEvent.selectOptions(screen.getByLabelText('Operation'), 'delete');
    await userEvent.click(screen.getByRole('button', { name: 'Filter' }));

    await waitFor(() => expect(server.requests.at(-1)?.query.get('q')).toBe('username=~alice,operation=delete'));
    expect(server.requests.at(-1)?.query.get('page')).toBe('1');
  });

  it('says so when nothing matches the filters', async () => {
    const server = createFetchDouble().on('GET', '/api/v2.0/projects/shop/logs', {
      body: [],
      headers: { 'X-Total-Count': '0' },
    });
    renderWithApp(<ProjectLogsPage />, {
      at: '/projects/3/logs?operation=pull',
      path: '/projects/:projectId/logs',
      project: PROJECT,
      server,
    });
    expect(await screen.findByText('No record matches these filters.')).toBeInTheDocument();
    expect(server.requests[0]?.query.get('q')).toBe('operation=pull');
  });

  it('explains a project that no longer exists', async () => {
    const server = createFetchDouble().on(
      'GET',
      '/api/v2.0/projects/shop/logs',
      errorReply(404, 'NOT_FOUND', 'project shop not found'),
    );
    renderWithApp(<ProjectLogsPage />, {
      at: '/projects/3/logs',
      path: '/projects/:projectId/logs',
      project: PROJECT,
      server,
    });
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('project shop not found.');
    expect(alert).not.toHaveTextContent('no longer exists');
  });
});
