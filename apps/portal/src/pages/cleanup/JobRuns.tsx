import { useState } from 'react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Badge } from '../../components/Badge.js';
import { Modal } from '../../components/Modal.js';
import { PagedTable } from '../../components/PagedTable.js';
import { QueryState } from '../../components/QueryState.js';
import { useToast } from '../../components/Toast.js';
import { errorText } from '../../lib/errors.js';
import { formatBytes, formatDate } from '../../lib/format.js';
import { isUnfinished, statusTone, triggerText } from '../policy/rules.js';
import { type SystemJobRun, freedSpace, isDryRun } from './cleanup.js';
import { type SystemJob, jobKey } from './jobs.js';

/** How often the history and an open log are asked again while a run is unfinished. */
export const POLL_MS = 2000;

/**
 * The history of a system job, newest first: each run's id, status, whether it was dry, its trigger, start and last
 * update, its log and, while it is unfinished, "Stop". Asked again every 2 s while a run is unfinished.
 */
export function JobRuns({ job, title }: { job: SystemJob; title: string }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(10);
  const [log, setLog] = useState<SystemJobRun | null>(null);

  const runs = useQuery({
    queryKey: jobKey(job.kind, 'runs', { page, pageSize }),
    queryFn: () => job.history(page, pageSize),
    placeholderData: keepPreviousData,
    refetchInterval: (query) => (query.state.data?.items.some((r) => isUnfinished(r.job_status)) ? POLL_MS : false),
  });
  const stop = useMutation({
    mutationFn: async (run: SystemJobRun) => {
      await job.stop(run.id);
      await queryClient.invalidateQueries({ queryKey: jobKey(job.kind, 'runs') });
    },
    onSuccess: () => toast.success(`The ${job.label} is stopping.`),
    onError: (error) => toast.error(errorText(error, `stop the ${job.label}`)),
  });
  // The run whose log is open, as the history now has it: the log follows it while it runs.
  const shown = log ? (runs.data?.items.find((r) => r.id === log.id) ?? log) : null;

  return (
    <div className="section">
      <h3>History</h3>
      <QueryState query={runs} action={`load the history of ${job.label}`}>
        {(data) => (
          <PagedTable
            caption={title}
            headers={
              <>
                <th scope="col">Run</th>
                <th scope="col">Status</th>
                <th scope="col">Dry run</th>
                <th scope="col">Trigger</th>
                <th scope="col">Started</th>
                <th scope="col">Updated</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </>
            }
            columns={7}
            itemCount={data.items.length}
            emptyText="It has not run yet."
            label="runs"
            page={page}
            pageSize={pageSize}
            total={data.total}
            onPageChange={setPage}
            onPageSizeChange={setPageSize}
          >
            {data.items.map((run) => (
              <tr key={run.id}>
                <td>{run.id}</td>
                <td>
                  <Badge tone={statusTone(run.job_status)}>{run.job_status}</Badge>
                </td>
                <td>{isDryRun(run) ? 'Yes' : 'No'}</td>
                <td>{triggerText(run.job_kind)}</td>
                <td className="nowrap">{formatDate(run.creation_time)}</td>
                <td className="nowrap">{formatDate(run.update_time)}</td>
                <td className="actions">
                  <button
                    type="button"
                    className="button button-small"
                    aria-label={`Log of run ${run.id}`}
                    onClick={() => setLog(run)}
                  >
                    Log
                  </button>
                  {isUnfinished(run.job_status) ? (
                    <button
                      type="button"
                      className="button button-small"
                      aria-label={`Stop run ${run.id}`}
                      disabled={stop.isPending}
                      onClick={() => stop.mutate(run)}
                    >
                      Stop
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </PagedTable>
        )}
      </QueryState>
      {shown ? <RunLog job={job} run={shown} onClose={() => setLog(null)} /> : null}
    </div>
  );
}

/** A run's log, pre-formatted, asked again while the run is unfinished; for a garbage collection, the space freed. */
function RunLog({ job, run, onClose }: { job: SystemJob; run: SystemJobRun; onClose: () => void }) {
  const running = isUnfinished(run.job_status);
  const text = useQuery({
    queryKey: jobKey(job.kind, 'runs', run.id, 'log'),
    queryFn: () => job.log(run.id),
    refetchInterval: running ? POLL_MS : false,
  });
  const title = `Log of run ${run.id}`;
  return (
    <Modal
      title={title}
      wide
      onClose={onClose}
      footer={
        <button type="button" className="button" onClick={onClose}>
          Close
        </button>
      }
    >
      <p>
        <Badge tone={statusTone(run.job_status)}>{run.job_status}</Badge>
        {running ? ' The log follows the run.' : null}
      </p>
      <QueryState query={text} action={`load the log of run ${run.id}`}>
        {(log) => {
          const freed = job.kind === 'gc' ? freedSpace(log) : undefined;
          return (
            <>
              {freed ? (
                <p>
                  <strong>{freed.dryRun ? 'Would free:' : 'Freed:'}</strong> {formatBytes(freed.bytes)}
                </p>
              ) : null}
              <pre className="log-view">{log || 'The log is empty.'}</pre>
            </>
          );
        }}
      </QueryState>
    </Modal>
  );
}
