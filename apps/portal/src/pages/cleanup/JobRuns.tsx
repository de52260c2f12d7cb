import { useState } from 'react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Badge } from '../../components/Badge.js';
import { LogDialog } from '../../components/LogDialog.js';
import { QueryState } from '../../components/QueryState.js';
import { RunsTable } from '../../components/RunsTable.js';
import { useToast } from '../../components/Toast.js';
import { errorText } from '../../lib/errors.js';
import { formatBytes, formatDate } from '../../lib/format.js';
import { POLL_MS, isUnfinished, pollWhileUnfinished, statusTone } from '../../lib/runs.js';
import { type SystemJobRun, freedSpace, isDryRun } from './cleanup.js';
import { type SystemJob, jobKey } from './jobs.js';

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
    refetchInterval: pollWhileUnfinished((run: SystemJobRun) => run.job_status),
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
          <RunsTable
            caption={title}
            emptyText="It has not run yet."
            runs={data.items}
            cellsOf={(run) => ({
              id: run.id,
              status: run.job_status,
              dryRun: isDryRun(run),
              trigger: run.job_kind,
              started: run.creation_time,
            })}
            last={{ header: 'Updated', cell: (run) => formatDate(run.update_time) }}
            onLog={setLog}
            onStop={(run) => stop.mutate(run)}
            stopping={stop.isPending}
            page={page}
            pageSize={pageSize}
            total={data.total}
            onPageChange={setPage}
            onPageSizeChange={setPageSize}
          />
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
  return (
    <LogDialog
      title={`Log of run ${run.id}`}
      log={text}
      action={`load the log of run ${run.id}`}
      intro={
        <p>
          <Badge tone={statusTone(run.job_status)}>{run.job_status}</Badge>
          {running ? ' The log follows the run.' : null}
        </p>
      }
      summary={(log) => {
        const freed = job.kind === 'gc' ? freedSpace(log) : undefined;
        return freed ? (
          <p>
            <strong>{freed.dryRun ? 'Would free:' : 'Freed:'}</strong> {formatBytes(freed.bytes)}
          </p>
        ) : null;
      }}
      onClose={onClose}
    />
  );
}
