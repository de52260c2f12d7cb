import { type ReactNode, useState } from 'react';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { toPage } from '../../api/paging.js';
import { useIsAdmin } from '../../api/session.js';
import { Badge } from '../../components/Badge.js';
import { ConfirmDialog } from '../../components/ConfirmDialog.js';
import { NotAllowed } from '../../components/Guards.js';
import { LogDialog } from '../../components/LogDialog.js';
import { PagedTable } from '../../components/PagedTable.js';
import { PageHeader } from '../../components/PageHeader.js';
import { Table } from '../../components/Table.js';
import { QueryState } from '../../components/QueryState.js';
import { useToast } from '../../components/Toast.js';
import { formatDate, formatRelative } from '../../lib/format.js';
import { POLL_MS } from '../../lib/runs.js';
import {
  type JobQueue,
  type QueueAction,
  REFRESH_MS,
  SCHEDULED_RUN,
  type Worker,
  type WorkerPool,
  actionDone,
  actionLabel,
  actionTargets,
  dashboardKey,
  waitText,
  workersByPool,
} from './jobservice.js';

/** Sends Harbor's action on job types (`all` for every one) and refreshes what the dashboard shows. */
function useQueueAction() {
  const api = useApi();
  const queryClient = useQueryClient();
  return async (action: QueueAction, jobTypes: readonly string[]): Promise<void> => {
    try {
      for (const jobType of jobTypes) {
        unwrap(
          await api.PUT('/api/v2.0/jobservice/queues/{job_type}', {
            params: { path: { job_type: jobType } },
            body: { action },
          }),
        );
      }
    } finally {
      await queryClient.invalidateQueries({ queryKey: dashboardKey() });
    }
  };
}

/**
 * Administration → Job Service Dashboard (/admin/job-service-dashboard): the jobs waiting per job type, paused,
 * resumed or stopped; the worker pools of the running jobservice processes and what each worker runs; and the
 * schedules, all paused or resumed at once. Asked again every 5 s and after every action.
 */
export function JobServicePage() {
  const admin = useIsAdmin();
  const queryClient = useQueryClient();
  if (!admin) return <NotAllowed what="the job service dashboard" />;
  return (
    <section>
      <PageHeader
        title="Job Service Dashboard"
        description="What the job service runs, what waits to run, and the schedules that start background work."
        actions={
          <button
            type="button"
            className="button"
            onClick={() => void queryClient.invalidateQueries({ queryKey: dashboardKey() })}
          >
            Refresh
          </button>
        }
      />
      <PendingJobs />
      <WorkerPools />
      <Schedules />
    </section>
  );
}

/** The jobs waiting per job type, with the chosen types (or all) paused, resumed or stopped after a confirmation. */
function PendingJobs() {
  const api = useApi();
  const toast = useToast();
  const act = useQueueAction();
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set());
  const [confirm, setConfirm] = useState<QueueAction | null>(null);
  const queues = useQuery({
    queryKey: dashboardKey('queues'),
    queryFn: async () => unwrap(await api.GET('/api/v2.0/jobservice/queues')),
    refetchInterval: REFRESH_MS,
  });
  const listed = queues.data?.map((queue) => queue.job_type) ?? [];
  const targets = actionTargets(listed, chosen);

  function choose(jobType: string, on: boolean) {
    const next = new Set(chosen);
    if (on) next.add(jobType);
    else next.delete(jobType);
    setChosen(next);
  }

  return (
    <div className="section">
      <div className="toolbar">
        <h3>Pending jobs</h3>
        {(['pause', 'resume', 'stop'] as const).map((action) => (
          <button
            key={action}
            type="button"
            className={action === 'stop' ? 'button button-danger' : 'button'}
            disabled={targets.length === 0}
            onClick={() => setConfirm(action)}
          >
            {actionLabel(action)}
          </button>
        ))}
      </div>
      <p className="hint">
        Jobs wait here until a worker is free. A paused job type keeps its jobs waiting, the running ones go on, until
        it is resumed; stopping removes its waiting jobs and stops its running ones.
      </p>
      <QueryState query={queues} action="load the pending jobs">
        {(data) => (
          <QueueTable
            queues={data}
            chosen={chosen}
            onChoose={choose}
            onChooseAll={(on) => setChosen(new Set(on ? data.map((q) => q.job_type) : []))}
          />
        )}
      </QueryState>
      {confirm ? (
        <ConfirmDialog
          title={`${actionLabel(confirm)} jobs`}
          danger={confirm === 'stop'}
          confirmLabel={actionLabel(confirm)}
          action={`${confirm} the jobs`}
          message={<QueueActionMessage action={confirm} targets={targets} />}
          onConfirm={async () => {
            await act(confirm, targets);
            toast.success(actionDone(confirm, targets));
            setChosen(new Set());
          }}
          onClose={() => setConfirm(null)}
        />
      ) : null}
    </div>
  );
}

function QueueActionMessage({ action, targets }: { action: QueueAction; targets: readonly string[] }) {
  const what = targets.length === 1 && targets[0] === 'all' ? 'every job type' : targets.join(', ');
  const effect: Record<QueueAction, ReactNode> = {
    pause: 'Their waiting jobs stay waiting until they are resumed; running jobs go on.',
    resume: 'Their waiting jobs run again as workers are free.',
    stop: 'Their waiting jobs are removed and their running jobs stopped; the runs they belong to end Stopped.',
  };
  return (
    <p>
      {actionLabel(action)} the jobs of {what}? {effect[action]}
    </p>
  );
}

function QueueTable({
  queues,
  chosen,
  onChoose,
  onChooseAll,
}: {
  queues: JobQueue[];
  chosen: ReadonlySet<string>;
  onChoose: (jobType: string, on: boolean) => void;
  onChooseAll: (on: boolean) => void;
}) {
  const everyOne = queues.length > 0 && queues.every((queue) => chosen.has(queue.job_type));
  return (
    <Table
      caption="Pending jobs per job type"
      headers={
        <>
          <th scope="col">
            <input
              type="checkbox"
              aria-label="Choose every job type"
              checked={everyOne}
              onChange={(e) => onChooseAll(e.target.checked)}
            />
          </th>
          <th scope="col">Job type</th>
          <th scope="col">Pending</th>
          <th scope="col">Waiting for</th>
          <th scope="col">Status</th>
        </>
      }
    >
      {queues.map((queue) => (
        <tr key={queue.job_type}>
          <td>
            <input
              type="checkbox"
              aria-label={`Choose ${queue.job_type}`}
              checked={chosen.has(queue.job_type)}
              onChange={(e) => onChoose(queue.job_type, e.target.checked)}
            />
          </td>
          <td>{queue.job_type}</td>
          <td>{queue.count}</td>
          <td className="nowrap">{queue.count > 0 ? waitText(queue.latency) : '—'}</td>
          <td>{queue.paused ? <Badge tone="warning">Paused</Badge> : <Badge tone="success">Running</Badge>}</td>
        </tr>
      ))}
    </Table>
  );
}

/** One pool per running jobservice process, each with its workers and the job each one runs. */
function WorkerPools() {
  const api = useApi();
  const [log, setLog] = useState<Worker | null>(null);
  const pools = useQuery({
    queryKey: dashboardKey('pools'),
    queryFn: async () => unwrap(await api.GET('/api/v2.0/jobservice/pools')),
    refetchInterval: REFRESH_MS,
  });
  const workers = useQuery({
    queryKey: dashboardKey('workers'),
    queryFn: async () =>
      unwrap(await api.GET('/api/v2.0/jobservice/pools/{pool_id}/workers', { params: { path: { pool_id: 'all' } } })),
    refetchInterval: REFRESH_MS,
  });
  return (
    <div className="section">
      <h3>Worker pools</h3>
      <QueryState
        query={pools}
        action="load the worker pools"
        isEmpty={(data) => data.length === 0}
        empty="No job service is running: background work waits until one starts."
      >
        {(poolList) => (
          <QueryState query={workers} action="load the workers">
            {(workerList) => {
              const byPool = workersByPool(poolList, workerList);
              return poolList.map((pool) => (
                <PoolWorkers
                  key={pool.worker_pool_id}
                  pool={pool}
                  workers={byPool.get(pool.worker_pool_id) ?? []}
                  onLog={setLog}
                />
              ));
            }}
          </QueryState>
        )}
      </QueryState>
      {log ? <JobLog worker={log} onClose={() => setLog(null)} /> : null}
    </div>
  );
}

function PoolWorkers({
  pool,
  workers,
  onLog,
}: {
  pool: WorkerPool;
  workers: Worker[];
  onLog: (worker: Worker) => void;
}) {
  const busy = workers.filter((worker) => worker.job_id).length;
  return (
    <div className="pool">
      <h4>Pool {pool.worker_pool_id}</h4>
      <dl className="details">
        <dt>Host</dt>
        <dd>{pool.host}</dd>
        <dt>Process</dt>
        <dd>{pool.pid}</dd>
        <dt>Started</dt>
        <dd>{formatDate(pool.start_at)}</dd>
        <dt>Last heartbeat</dt>
        <dd>{formatRelative(pool.heartbeat_at)}</dd>
        <dt>Busy workers</dt>
        <dd>
          {busy} of {pool.concurrency}
        </dd>
      </dl>
      <Table
        caption={`Workers of ${pool.worker_pool_id}`}
        headers={
          <>
            <th scope="col">Worker</th>
            <th scope="col">Job</th>
            <th scope="col">Job id</th>
            <th scope="col">Since</th>
            <th scope="col">
              <span className="visually-hidden">Log</span>
            </th>
          </>
        }
      >
        {workers.map((worker) => (
          <tr key={worker.id}>
            <td className="nowrap">{worker.id.slice(pool.worker_pool_id.length + 1)}</td>
            <td>{worker.job_name || <span className="hint">Idle</span>}</td>
            <td>{worker.job_id}</td>
            <td className="nowrap">{worker.start_at ? formatDate(worker.start_at) : ''}</td>
            <td className="actions">
              {worker.job_id ? (
                <button
                  type="button"
                  className="button button-small"
                  aria-label={`Log of job ${worker.job_id}`}
                  onClick={() => onLog(worker)}
                >
                  Log
                </button>
              ) : null}
            </td>
          </tr>
        ))}
      </Table>
    </div>
  );
}

/** The log of the task a running job works for, followed while it is open. */
function JobLog({ worker, onClose }: { worker: Worker; onClose: () => void }) {
  const api = useApi();
  const text = useQuery({
    queryKey: dashboardKey('jobs', worker.job_id, 'log'),
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v2.0/jobservice/jobs/{job_id}/log', {
          params: { path: { job_id: worker.job_id } },
          parseAs: 'text',
        }),
      ),
    refetchInterval: POLL_MS,
  });
  return (
    <LogDialog
      title={`Log of job ${worker.job_id}`}
      log={text}
      action={`load the log of job ${worker.job_id}`}
      intro={<p>{worker.job_name}</p>}
      onClose={onClose}
    />
  );
}

/** Every schedule of background work, and whether scheduled runs are paused, paused or resumed all at once. */
function Schedules() {
  const api = useApi();
  const toast = useToast();
  const act = useQueueAction();
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(10);
  const [confirm, setConfirm] = useState(false);
  const paused = useQuery({
    queryKey: dashboardKey('schedules', 'paused'),
    queryFn: async () =>
      unwrap(await api.GET('/api/v2.0/schedules/{job_type}/paused', { params: { path: { job_type: 'all' } } })),
    refetchInterval: REFRESH_MS,
  });
  const schedules = useQuery({
    queryKey: dashboardKey('schedules', { page, pageSize }),
    queryFn: async () =>
      toPage(
        await api.GET('/api/v2.0/schedules', { params: { query: { page, page_size: pageSize } } }),
        page,
        pageSize,
      ),
    placeholderData: keepPreviousData,
    refetchInterval: REFRESH_MS,
  });
  const isPaused = paused.data?.paused === true;
  const action: QueueAction = isPaused ? 'resume' : 'pause';

  return (
    <div className="section">
      <div className="toolbar">
        <h3>Schedules</h3>
        {paused.isSuccess ? (
          <>
            <span role="status">
              {isPaused ? <Badge tone="warning">All paused</Badge> : <Badge tone="success">Running</Badge>}
            </span>
            <button type="button" className="button" onClick={() => setConfirm(true)}>
              {isPaused ? 'Resume all' : 'Pause all'}
            </button>
          </>
        ) : null}
      </div>
      <p className="hint">While the schedules are paused, no scheduled run starts until they are resumed.</p>
      <QueryState query={schedules} action="load the schedules">
        {(data) => (
          <PagedTable
            caption="Schedules"
            headers={
              <>
                <th scope="col">ID</th>
                <th scope="col">Vendor type</th>
                <th scope="col">Vendor ID</th>
                <th scope="col">Cron</th>
                <th scope="col">Last change</th>
              </>
            }
            columns={5}
            itemCount={data.items.length}
            emptyText="Nothing is scheduled."
            label="schedules"
            page={page}
            pageSize={pageSize}
            total={data.total}
            onPageChange={setPage}
            onPageSizeChange={setPageSize}
          >
            {data.items.map((schedule) => (
              <tr key={schedule.id}>
                <td>{schedule.id}</td>
                <td>{schedule.vendor_type}</td>
                <td>{schedule.vendor_id}</td>
                <td>
                  <code>{schedule.cron}</code>
                </td>
                <td className="nowrap">{formatDate(schedule.update_time)}</td>
              </tr>
            ))}
          </PagedTable>
        )}
      </QueryState>
      {confirm ? (
        <ConfirmDialog
          title={isPaused ? 'Resume all schedules' : 'Pause all schedules'}
          confirmLabel={isPaused ? 'Resume all' : 'Pause all'}
          action={`${action} the schedules`}
          message={
            <p>
              {isPaused
                ? 'Resume every schedule? The runs held while they were paused start now.'
                : 'Pause every schedule? No scheduled run starts until they are resumed.'}
            </p>
          }
          onConfirm={async () => {
            await act(action, [SCHEDULED_RUN]);
            toast.success(isPaused ? 'The schedules are resumed.' : 'The schedules are paused.');
          }}
          onClose={() => setConfirm(false)}
        />
      ) : null}
    </div>
  );
}
