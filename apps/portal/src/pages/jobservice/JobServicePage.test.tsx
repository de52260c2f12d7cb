import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { type FetchDouble, createFetchDouble } from '../../test/fetch-double.js';
import { DEVELOPER, renderWithApp } from '../../test/render.js';
import { JobServicePage } from './JobServicePage.js';
import { REFRESH_MS } from './jobservice.js';

const API = '/api/v2.0';
const AT = '/admin/job-service-dashboard';
const POOL = 'node-1:4242';

function queue(job_type: string, count = 0, latency = 0, paused = false) {
  return { job_type, count, latency, paused };
}

/** A server with three job types, one pool of three workers (one busy) and two schedules, schedules not paused. */
function dashboardServer(): FetchDouble & { paused: Set<string> } {
  const paused = new Set<string>();
  const server = createFetchDouble()
    .on('GET', `${API}/jobservice/queues`, () => ({
      body: [
        queue('GARBAGE_COLLECTION', 2, 125, paused.has('GARBAGE_COLLECTION')),
        queue('RETENTION', 0, 0, paused.has('RETENTION')),
        queue('SCHEDULED_RUN', 0, 0, paused.has('SCHEDULED_RUN')),
      ],
    }))
    .on('PUT', /^\/api\/v2\.0\/jobservice\/queues\/[^/]+$/, (request) => {
      const type = request.path.split('/').at(-1)!;
      const types = type === 'all' ? ['GARBAGE_COLLECTION', 'RETENTION', 'SCHEDULED_RUN'] : [type];
      const { action } = request.body as { action: string };
      for (const t of types) {
        if (action === 'pause') paused.add(t);
        if (action === 'resume') paused.delete(t);
      }
      return { status: 200 };
    })
    .on('GET', `${API}/jobservice/pools`, {
      body: [
        {
          worker_pool_id: POOL,
          pid: 4242,
          host: 'node-1',
          start_at: '2026-12-07T09:00:00Z',
          heartbeat_at: new Date().toISOString(),
          concurrency: 3,
        },
      ],
    })
    .on('GET', `${API}/jobservice/pools/all/workers`, {
      body: [
        {
          id: `${POOL}:system:1`,
          pool_id: POOL,
          job_name: 'GARBAGE_COLLECTION',
          job_id: '17',
          start_at: '2026-12-07T10:00:00Z',
        },
        { id: `${POOL}:system:2`, pool_id: POOL, job_name: '', job_id: '' },
        { id: `${POOL}:retention:1`, pool_id: POOL, job_name: '', job_id: '' },
      ],
    })
    .on('GET', `${API}/jobservice/jobs/17/log`, { text: '2026-12-07T10:00:01Z 3 blobs eligible for deletion\n' })
    .on('GET', `${API}/schedules/all/paused`, () => ({ body: { paused: paused.has('SCHEDULED_RUN') } }))
    .on('GET', `${API}/schedules`, {
      body: [
        {
          id: 1,
          vendor_type: 'GARBAGE_COLLECTION',
          vendor_id: -1,
          cron: '0 0 0 * * *',
          update_time: '2026-12-01T08:00:00Z',
        },
        { id: 2, vendor_type: 'RETENTION', vendor_id: 5, cron: '0 0 3 * * *', update_time: '2026-12-02T08:00:00Z' },
      ],
      headers: { 'X-Total-Count': '2' },
    });
  return Object.assign(server, { paused });
}

const puts = (server: FetchDouble) =>
  server.requests.filter((r) => r.method === 'PUT').map((r) => ({ path: r.path.slice(API.length), body: r.body }));
const asked = (server: FetchDouble, path: string) =>
  server.requests.filter((r) => r.method === 'GET' && r.path === `${API}${path}`).length;

// Each test clicks through a dialog or two; on a loaded machine that takes longer than the default 5 s.
describe('JobServicePage (HTTP replaced by a fetch test double)', { timeout: 15_000 }, () => {
  it('says "Not allowed" to a user who is not a system administrator and asks the server nothing', () => {
    const server = createFetchDouble();
    renderWithApp(<JobServicePage />, { at: AT, user: DEVELOPER, server });
    expect(screen.getByRole('heading', { name: 'Not allowed' })).toBeInTheDocument();
    expect(server.requests).toHaveLength(0);
  });

  it('lists the jobs pending per job type, and pauses the chosen one after a confirmation', async () => {
    const server = dashboardServer();
    renderWithApp(<JobServicePage />, { at: AT, server });
    const table = await screen.findByRole('table', { name: 'Pending jobs per job type' });
    const gc = within(table).getByRole('row', { name: /GARBAGE_COLLECTION/ });
    expect(gc).toHaveTextContent(/GARBAGE_COLLECTION\s*2\s*2 min 5 s\s*Running/);
    expect(within(table).getByRole('row', { name: /RETENTION/ })).toHaveTextContent(/RETENTION\s*0\s*—\s*Running/);
    expect(screen.getByRole('button', { name: 'Pause' })).toBeDisabled();

    await userEvent.click(within(table).getByLabelText('Choose GARBAGE_COLLECTION'));
    await userEvent.click(screen.getByRole('button', { name: 'Pause' }));
    const dialog = await screen.findByRole('dialog', { name: 'Pause jobs' });
    expect(dialog).toHaveTextContent('Pause the jobs of GARBAGE_COLLECTION?');
    expect(puts(server)).toHaveLength(0);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Pause' }));

    await waitFor(() => expect(within(gc).getByText('Paused')).toBeInTheDocument());
    expect(puts(server)).toEqual([{ path: '/jobservice/queues/GARBAGE_COLLECTION', body: { action: 'pause' } }]);
    expect(screen.getByText('GARBAGE_COLLECTION is paused.')).toBeInTheDocument();
    expect(within(table).getByLabelText('Choose GARBAGE_COLLECTION')).not.toBeChecked();
  });

  it('stops every job type with one request for all, and nothing when the confirmation is cancelled', async () => {
    const server = dashboardServer();
    renderWithApp(<JobServicePage />, { at: AT, server });
    await userEvent.click(await screen.findByLabelText('Choose every job type'));
    await userEvent.click(screen.getByRole('button', { name: 'Stop' }));
    let dialog = await screen.findByRole('dialog', { name: 'Stop jobs' });
    expect(dialog).toHaveTextContent('Stop the jobs of every job type?');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(puts(server)).toHaveLength(0);

    await userEvent.click(screen.getByRole('button', { name: 'Stop' }));
    dialog = await screen.findByRole('dialog', { name: 'Stop jobs' });
    await userEvent.click(within(dialog).getByRole('button', { name: 'Stop' }));
    await waitFor(() => expect(puts(server)).toEqual([{ path: '/jobservice/queues/all', body: { action: 'stop' } }]));
  });

  it('shows each pool with its workers, what they run and since when, and the log of a running job', async () => {
    const server = dashboardServer();
    renderWithApp(<JobServicePage />, { at: AT, server });
    const workers = await screen.findByRole('table', { name: `Workers of ${POOL}` });
    expect(screen.getByRole('heading', { name: `Pool ${POOL}` })).toBeInTheDocument();
    expect(screen.getByText('Busy workers').nextElementSibling).toHaveTextContent('1 of 3');
    const rows = within(workers).getAllByRole('row');
    expect(rows).toHaveLength(4);
    expect(rows[1]).toHaveTextContent(/system:1\s*GARBAGE_COLLECTION\s*17/);
    expect(rows[2]).toHaveTextContent(/system:2\s*Idle/);
    expect(within(rows[2]!).queryByRole('button')).not.toBeInTheDocument();

    await userEvent.click(within(rows[1]!).getByRole('button', { name: 'Log of job 17' }));
    const dialog = await screen.findByRole('dialog', { name: 'Log of job 17' });
    expect(await within(dialog).findByText(/3 blobs eligible for deletion/)).toBeInTheDocument();
  });

  it('says so when no job service is running', async () => {
    const server = dashboardServer().on('GET', `${API}/jobservice/pools`, { body: [] });
    renderWithApp(<JobServicePage />, { at: AT, server });
    expect(await screen.findByText(/No job service is running/)).toBeInTheDocument();
  });

  it('lists the schedules and pauses them all, then resumes them, each after a confirmation', async () => {
    const server = dashboardServer();
    renderWithApp(<JobServicePage />, { at: AT, server });
    const table = await screen.findByRole('table', { name: 'Schedules' });
    expect(within(table).getAllByRole('row')[2]).toHaveTextContent(/2\s*RETENTION\s*5\s*0 0 3 \* \* \*/);

    await userEvent.click(await screen.findByRole('button', { name: 'Pause all' }));
    const dialog = await screen.findByRole('dialog', { name: 'Pause all schedules' });
    await userEvent.click(within(dialog).getByRole('button', { name: 'Pause all' }));
    expect(await screen.findByText('All paused')).toBeInTheDocument();
    expect(puts(server)).toEqual([{ path: '/jobservice/queues/SCHEDULED_RUN', body: { action: 'pause' } }]);

    await userEvent.click(screen.getByRole('button', { name: 'Resume all' }));
    const resume = await screen.findByRole('dialog', { name: 'Resume all schedules' });
    await userEvent.click(within(resume).getByRole('button', { name: 'Resume all' }));
    await waitFor(() => expect(screen.queryByText('All paused')).not.toBeInTheDocument());
    expect(puts(server).at(-1)).toEqual({ path: '/jobservice/queues/SCHEDULED_RUN', body: { action: 'resume' } });
  });

  it('asks again for the queues, workers and schedules every few seconds', async () => {
    const server = dashboardServer();
    renderWithApp(<JobServicePage />, { at: AT, server });
    await screen.findByRole('table', { name: 'Pending jobs per job type' });
    const first = ['/jobservice/queues', '/jobservice/pools/all/workers', '/schedules'].map((p) => asked(server, p));
    expect(first).toEqual([1, 1, 1]);
    await waitFor(
      () =>
        expect(
          ['/jobservice/queues', '/jobservice/pools/all/workers', '/schedules'].map((p) => asked(server, p)),
        ).toEqual([2, 2, 2]),
      { timeout: REFRESH_MS + 2000 },
    );
  });
});
