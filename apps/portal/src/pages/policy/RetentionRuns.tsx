import { useState } from 'react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type components, unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { toPage } from '../../api/paging.js';
import { Badge } from '../../components/Badge.js';
import { ConfirmDialog } from '../../components/ConfirmDialog.js';
import { LogDialog } from '../../components/LogDialog.js';
import { PagedTable } from '../../components/PagedTable.js';
import { QueryState } from '../../components/QueryState.js';
import { RunsTable } from '../../components/RunsTable.js';
import { useToast } from '../../components/Toast.js';
import { errorText } from '../../lib/errors.js';
import { formatDate } from '../../lib/format.js';
import { POLL_MS, durationText, isUnfinished, pollWhileUnfinished, statusTone } from '../../lib/runs.js';

type Execution = components['schemas']['RetentionExecution'];
type Task = components['schemas']['RetentionExecutionTask'];

/**
 * The runs of a retention policy: "Dry run" and "Run now", each run with its status, dry-run flag, trigger, start and
 * duration, "Stop" while it runs, and its repositories (retained of total) with each one's log.
 */
export function RetentionRuns({
  policyId,
  mayRun,
  hasRules,
}: {
  policyId: string;
  mayRun: boolean;
  hasRules: boolean;
}) {
  const api = useApi();
  const queryClient = useQueryClient();
  const toast = useToast();
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(10);
  const [expanded, setExpanded] = useState<number | null>(null);
  const [confirmRun, setConfirmRun] = useState(false);
  const key = ['retentions', policyId, 'executions'];

  const executions = useQuery({
    queryKey: [...key, { page, pageSize }],
    queryFn: async () =>
      toPage(
        await api.GET('/api/v2.0/retentions/{id}/executions', {
          params: { path: { id: policyId }, query: { page, page_size: pageSize } },
        }),
        page,
        pageSize,
      ),
    placeholderData: keepPreviousData,
    refetchInterval: pollWhileUnfinished((execution: Execution) => execution.status),
  });

  async function run(dryRun: boolean): Promise<void> {
    unwrap(
      await api.POST('/api/v2.0/retentions/{id}/executions', {
        params: { path: { id: policyId } },
        body: { dry_run: dryRun },
      }),
    );
    toast.success(dryRun ? 'A dry run started: nothing will be deleted.' : 'The retention policy is running.');
    setPage(1);
    await queryClient.invalidateQueries({ queryKey: key });
  }

  const dry = useMutation({ mutationFn: () => run(true) });
  const stop = useMutation({
    mutationFn: async (execution: Execution) => {
      unwrap(
        await api.PATCH('/api/v2.0/retentions/{id}/executions/{eid}', {
          params: { path: { id: policyId, eid: String(execution.id) } },
          body: { action: 'stop' },
        }),
      );
      await queryClient.invalidateQueries({ queryKey: key });
    },
    onSuccess: () => toast.success('The run is stopping.'),
    onError: (error) => toast.error(errorText(error, 'stop the run')),
  });

  return (
    <div className="runs">
      <div className="toolbar">
        <h4 id="retention-runs-title">Runs</h4>
        {mayRun ? (
          <>
            <button type="button" className="button" disabled={!hasRules || dry.isPending} onClick={() => dry.mutate()}>
              {dry.isPending ? 'Starting…' : 'Dry run'}
            </button>
            <button
              type="button"
              className="button button-primary"
              disabled={!hasRules}
              onClick={() => setConfirmRun(true)}
            >
              Run now
            </button>
          </>
        ) : null}
      </div>
      {dry.isError ? (
        <p className="form-error" role="alert">
          {errorText(dry.error, 'start a dry run')}
        </p>
      ) : null}
      <QueryState query={executions} action="load the retention runs">
        {(data) => (
          <RunsTable
            caption="Runs of the retention policy"
            emptyText="The policy has not run yet."
            runs={data.items}
            cellsOf={(execution) => ({
              id: execution.id,
              status: execution.status,
              dryRun: execution.dry_run,
              trigger: execution.trigger,
              started: execution.start_time,
            })}
            last={{ header: 'Duration', cell: (execution) => durationText(execution.start_time, execution.end_time) }}
            idCell={(execution) => {
              const open = expanded === execution.id;
              return (
                <button
                  type="button"
                  className="button-link"
                  aria-expanded={open}
                  aria-label={`${open ? 'Hide' : 'Show'} the repositories of run ${execution.id}`}
                  onClick={() => setExpanded(open ? null : execution.id)}
                >
                  {open ? '▾' : '▸'} {execution.id}
                </button>
              );
            }}
            {...(mayRun ? { onStop: (execution: Execution) => stop.mutate(execution) } : {})}
            stopping={stop.isPending}
            below={(execution) =>
              expanded === execution.id ? <RunTasks policyId={policyId} execution={execution} /> : null
            }
            page={page}
            pageSize={pageSize}
            total={data.total}
            onPageChange={setPage}
            onPageSizeChange={setPageSize}
          />
        )}
      </QueryState>
      {confirmRun ? (
        <ConfirmDialog
          title="Run the retention policy"
          danger
          confirmLabel="Run now"
          action="run the retention policy"
          message={
            <p>
              Delete now every artifact the rules do not retain, in the repositories they select? A dry run shows first
              what would go.
            </p>
          }
          onConfirm={() => run(false)}
          onClose={() => setConfirmRun(false)}
        />
      ) : null}
    </div>
  );
}

/** The repositories of one run: status, retained of total, start, duration, and the log of each. */
function RunTasks({ policyId, execution }: { policyId: string; execution: Execution }) {
  const api = useApi();
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(10);
  const [log, setLog] = useState<Task | null>(null);
  const tasks = useQuery({
    queryKey: ['retentions', policyId, 'executions', execution.id, 'tasks', { page, pageSize }],
    queryFn: async () =>
      toPage(
        await api.GET('/api/v2.0/retentions/{id}/executions/{eid}/tasks', {
          params: { path: { id: policyId, eid: String(execution.id) }, query: { page, page_size: pageSize } },
        }),
        page,
        pageSize,
      ),
    placeholderData: keepPreviousData,
    refetchInterval: pollWhileUnfinished((task: Task) => task.status),
  });

  return (
    <>
      <QueryState query={tasks} action={`load the repositories of run ${execution.id}`}>
        {(data) => (
          <PagedTable
            caption={`Repositories of run ${execution.id}`}
            headers={
              <>
                <th scope="col">Repository</th>
                <th scope="col">Status</th>
                <th scope="col">Retained / total</th>
                <th scope="col">Started</th>
                <th scope="col">Duration</th>
                <th scope="col">
                  <span className="visually-hidden">Log</span>
                </th>
              </>
            }
            columns={6}
            itemCount={data.items.length}
            emptyText="No repository was in the policy's scope."
            label="repositories"
            page={page}
            pageSize={pageSize}
            total={data.total}
            onPageChange={setPage}
            onPageSizeChange={setPageSize}
          >
            {data.items.map((task) => (
              <tr key={task.id}>
                <td>{task.repository}</td>
                <td>
                  <Badge tone={statusTone(task.status)}>{task.status}</Badge>
                </td>
                <td className="nowrap">
                  {task.retained} / {task.total}
                </td>
                <td className="nowrap">{formatDate(task.start_time)}</td>
                <td className="nowrap">{durationText(task.start_time, task.end_time)}</td>
                <td className="actions">
                  <button
                    type="button"
                    className="button button-small"
                    aria-label={`Log of ${task.repository}`}
                    onClick={() => setLog(task)}
                  >
                    Log
                  </button>
                </td>
              </tr>
            ))}
          </PagedTable>
        )}
      </QueryState>
      {log ? <TaskLog policyId={policyId} task={log} onClose={() => setLog(null)} /> : null}
    </>
  );
}

function TaskLog({ policyId, task, onClose }: { policyId: string; task: Task; onClose: () => void }) {
  const api = useApi();
  const text = useQuery({
    queryKey: ['retentions', policyId, 'executions', task.execution_id, 'tasks', task.id, 'log'],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v2.0/retentions/{id}/executions/{eid}/tasks/{tid}', {
          params: { path: { id: policyId, eid: String(task.execution_id), tid: String(task.id) } },
          parseAs: 'text',
        }),
      ),
    refetchInterval: isUnfinished(task.status) ? POLL_MS : false,
  });
  return (
    <LogDialog
      title={`Log of ${task.repository}`}
      log={text}
      action={`load the log of ${task.repository}`}
      onClose={onClose}
    />
  );
}
