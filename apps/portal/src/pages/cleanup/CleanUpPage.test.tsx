import type { ReactElement } from 'react';
import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Route, Routes } from 'react-router';
import { createFetchDouble, errorReply } from '../../test/fetch-double.js';
import { DEVELOPER, renderWithApp } from '../../test/render.js';
import { CleanUpPage, GcTab, PurgeTab } from './CleanUpPage.js';

const GC = '/api/v2.0/system/gc';
const PURGE = '/api/v2.0/system/purgeaudit';

function run(id: number, status: string, parameters: object, kind = 'MANUAL') {
  return {
    id,
    job_name: 'GARBAGE_COLLECTION',
    job_kind: kind,
    job_parameters: JSON.stringify(parameters),
    job_status: status,
    deleted: false,
    creation_time: '2026-12-01T10:00:00Z',
    update_time: '2026-12-01T10:01:00Z',
  };
}

/** The tab inside the page, as the routes nest them. */
function page(element: ReactElement) {
  return (
    <Routes>
      <Route element={<CleanUpPage />}>
        <Route path="gc" element={element} />
        <Route path="purge-audit" element={element} />
      </Route>
    </Routes>
  );
}

function gcServer(runs = [run(7, 'Success', { dry_run: true, workers: 1 }), run(6, 'Success', { dry_run: false })]) {
  return createFetchDouble()
    .on('GET', `${GC}/schedule`, { body: { schedule: { type: 'None' } } })
    .on('GET', GC, { body: runs, headers: { 'X-Total-Count': String(runs.length) } })
    .on('POST', `${GC}/schedule`, { status: 201 });
}

const posts = (server: ReturnType<typeof createFetchDouble>, path: string) =>
  server.requests.filter((r) => r.method === 'POST' && r.path === path);

describe('CleanUpPage (HTTP replaced by a fetch test double)', () => {
  it('says "Not allowed" to a user who is not a system administrator and asks the server nothing', () => {
    const server = createFetchDouble();
    renderWithApp(page(<GcTab />), { at: '/admin/cleanup/gc', path: '/admin/cleanup/*', user: DEVELOPER, server });
    expect(screen.getByRole('heading', { name: 'Not allowed' })).toBeInTheDocument();
    expect(server.requests).toHaveLength(0);
  });

  it('lists the garbage collections with their dry-run flag and trigger, and shows a log with the space freed', async () => {
    const server = gcServer([run(7, 'Success', { dry_run: true }, 'SCHEDULE'), run(6, 'Error', { dry_run: false })]).on(
      'GET',
      `${GC}/7/log`,
      {
        text:
          '2026-12-01T10:00:00Z 3 blobs and 1 manifests eligible for deletion\n' +
          '2026-12-01T10:00:01Z dry run finished, nothing was deleted; it would delete 1 manifests, 3 blobs ' +
          '(1.50 MB), 1 orphan blob files (0.50 MB) and 0 abandoned uploads (0.00 MB)\n',
      },
    );
    renderWithApp(page(<GcTab />), { at: '/admin/cleanup/gc', path: '/admin/cleanup/*', server });

    const table = await screen.findByRole('table', { name: 'Garbage collection history' });
    const rows = within(table).getAllByRole('row');
    expect(rows[1]).toHaveTextContent(/7\s*Success\s*Yes\s*Schedule/);
    expect(rows[2]).toHaveTextContent(/6\s*Error\s*No\s*Manual/);
    expect(within(table).queryByRole('button', { name: /^Stop/ })).not.toBeInTheDocument();

    await userEvent.click(within(table).getByRole('button', { name: 'Log of run 7' }));
    const dialog = await screen.findByRole('dialog', { name: 'Log of run 7' });
    expect(await within(dialog).findByText(/eligible for deletion/)).toBeInTheDocument();
    expect(within(dialog).getByText('Would free:').parentElement).toHaveTextContent('Would free: 2 MiB');
  });

  it('checks the options before sending, then runs a dry run with them', async () => {
    const server = gcServer();
    renderWithApp(page(<GcTab />), { at: '/admin/cleanup/gc', path: '/admin/cleanup/*', server });
    const workers = await screen.findByLabelText('Workers');
    await userEvent.clear(workers);
    await userEvent.type(workers, '11');
    await userEvent.click(screen.getByRole('button', { name: 'Dry Run' }));
    expect(screen.getByText('Enter a whole number of workers from 1 to 10.')).toBeInTheDocument();
    expect(posts(server, `${GC}/schedule`)).toHaveLength(0);

    await userEvent.clear(workers);
    await userEvent.type(workers, '4');
    await userEvent.click(screen.getByLabelText('Delete untagged artifacts'));
    await userEvent.clear(screen.getByLabelText('Time window (hours)'));
    await userEvent.type(screen.getByLabelText('Time window (hours)'), '5');
    await userEvent.click(screen.getByRole('button', { name: 'Dry Run' }));
    await waitFor(() => expect(posts(server, `${GC}/schedule`)).toHaveLength(1));
    expect(posts(server, `${GC}/schedule`)[0]!.body).toEqual({
      schedule: { type: 'Manual' },
      parameters: { delete_untagged: true, workers: 4, time_window: 5, dry_run: true },
    });
  });

  it('shows a 409 as a notice that a run is under way, and offers Stop for an unfinished run', async () => {
    const server = gcServer([run(9, 'Running', { dry_run: false })])
      .on('POST', `${GC}/schedule`, errorReply(409, 'CONFLICT', 'a garbage collection is already running (9)'))
      .on('PUT', `${GC}/9`, { status: 200 });
    renderWithApp(page(<GcTab />), { at: '/admin/cleanup/gc', path: '/admin/cleanup/*', server });
    await userEvent.click(await screen.findByRole('button', { name: 'GC Now' }));
    const notice = await screen.findByRole('status');
    expect(notice).toHaveClass('notice');
    expect(notice).toHaveTextContent('a garbage collection is already running (9)');
    expect(posts(server, `${GC}/schedule`)[0]!.body).toMatchObject({ parameters: { dry_run: false } });

    await userEvent.click(screen.getByRole('button', { name: 'Stop run 9' }));
    await waitFor(() => expect(server.requests.some((r) => r.method === 'PUT' && r.path === `${GC}/9`)).toBe(true));
  });

  it('asks for the history again every 2 s while a run is unfinished, and stops asking once it has ended', async () => {
    let status = 'Running';
    const server = gcServer().on('GET', GC, () => ({
      body: [run(3, status, { dry_run: false })],
      headers: { 'X-Total-Count': '1' },
    }));
    const history = () => server.requests.filter((r) => r.method === 'GET' && r.path === GC).length;
    renderWithApp(page(<GcTab />), { at: '/admin/cleanup/gc', path: '/admin/cleanup/*', server });
    await screen.findByRole('button', { name: 'Stop run 3' });
    status = 'Success';
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Stop run 3' })).not.toBeInTheDocument(), {
      timeout: 3000,
    });
    const asked = history();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(history()).toBe(asked);
  });

  it('refuses a custom cron without six fields, then sets the schedule with the options (POST)', async () => {
    const server = gcServer();
    renderWithApp(page(<GcTab />), { at: '/admin/cleanup/gc', path: '/admin/cleanup/*', server });
    await userEvent.selectOptions(await screen.findByLabelText('Schedule'), 'custom');
    await userEvent.type(screen.getByLabelText('Cron'), '0 3 * * *');
    await userEvent.click(screen.getByRole('button', { name: 'Save schedule' }));
    expect(screen.getByText(/Enter a cron with 6 fields/)).toBeInTheDocument();
    expect(posts(server, `${GC}/schedule`)).toHaveLength(0);

    await userEvent.clear(screen.getByLabelText('Cron'));
    await userEvent.type(screen.getByLabelText('Cron'), '0  0 3 * * *');
    await userEvent.click(screen.getByRole('button', { name: 'Save schedule' }));
    await waitFor(() => expect(posts(server, `${GC}/schedule`)).toHaveLength(1));
    expect(posts(server, `${GC}/schedule`)[0]!.body).toEqual({
      schedule: { type: 'Custom', cron: '0 0 3 * * *' },
      parameters: { delete_untagged: false, workers: 1, time_window: 2, dry_run: false },
    });
  });

  it('shows the next run of a stored schedule in UTC too, starts from its options, and clears it with PUT', async () => {
    const server = gcServer()
      .on('GET', `${GC}/schedule`, {
        body: {
          id: 1,
          schedule: { type: 'Daily', cron: '0 0 0 * * *', next_scheduled_time: '2026-12-08T00:00:00Z' },
          parameters: { delete_untagged: true, workers: 3, time_window: 2 },
          update_time: '2026-12-07T10:00:00Z',
        },
      })
      .on('PUT', `${GC}/schedule`, { status: 200 });
    renderWithApp(page(<GcTab />), { at: '/admin/cleanup/gc', path: '/admin/cleanup/*', server });
    expect(await screen.findByText(/2026-12-08 00:00 UTC/)).toBeInTheDocument();
    expect(screen.getByLabelText('Schedule')).toHaveValue('daily');
    expect(screen.getByLabelText('Workers')).toHaveValue(3);
    expect(screen.getByLabelText('Delete untagged artifacts')).toBeChecked();
    await userEvent.selectOptions(screen.getByLabelText('Schedule'), 'none');
    await userEvent.click(screen.getByRole('button', { name: 'Save schedule' }));
    await waitFor(() =>
      expect(server.requests.find((r) => r.method === 'PUT' && r.path === `${GC}/schedule`)?.body).toEqual({
        schedule: { type: 'None' },
        parameters: {},
      }),
    );
  });

  it('purges with the retention in hours and the event types chosen, and refuses none chosen', async () => {
    const server = createFetchDouble()
      .on('GET', `${PURGE}/schedule`, {
        body: {
          id: 2,
          schedule: { type: 'Weekly', cron: '0 0 0 * * 0', next_scheduled_time: '2026-12-13T00:00:00Z' },
          parameters: { audit_retention_hour: 48, include_event_types: 'pull,delete_tag' },
        },
      })
      .on('GET', PURGE, { body: [], headers: { 'X-Total-Count': '0' } })
      .on('POST', `${PURGE}/schedule`, { status: 201 });
    renderWithApp(page(<PurgeTab />), { at: '/admin/cleanup/purge-audit', path: '/admin/cleanup/*', server });

    // The stored parameters fill the form: 48 hours as 2 days, the operation "pull" as pull_artifact.
    expect(await screen.findByLabelText('Keep records for')).toHaveValue(2);
    expect(screen.getByLabelText('Unit')).toHaveValue('days');
    expect(screen.getByLabelText('pull_artifact')).toBeChecked();
    expect(screen.getByLabelText('delete_tag')).toBeChecked();
    expect(screen.getByLabelText('create_artifact')).not.toBeChecked();

    await userEvent.click(screen.getByRole('button', { name: 'Clear' }));
    await userEvent.click(screen.getByRole('button', { name: 'Dry Run' }));
    expect(screen.getByText('Choose at least one event type to purge.')).toBeInTheDocument();
    expect(posts(server, `${PURGE}/schedule`)).toHaveLength(0);

    await userEvent.click(screen.getByLabelText('create_project'));
    await userEvent.click(screen.getByLabelText('pull_artifact'));
    await userEvent.clear(screen.getByLabelText('Keep records for'));
    await userEvent.type(screen.getByLabelText('Keep records for'), '36');
    await userEvent.selectOptions(screen.getByLabelText('Unit'), 'hours');
    await userEvent.click(screen.getByRole('button', { name: 'Dry Run' }));
    await waitFor(() => expect(posts(server, `${PURGE}/schedule`)).toHaveLength(1));
    expect(posts(server, `${PURGE}/schedule`)[0]!.body).toEqual({
      schedule: { type: 'Manual' },
      parameters: { audit_retention_hour: 36, include_event_types: 'pull_artifact,create_project', dry_run: true },
    });
    expect(screen.getByText(/It has not run yet/)).toBeInTheDocument();
  });
});
