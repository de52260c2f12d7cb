import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { usePageParams } from '../../api/paging.js';
import { Pagination } from '../../components/Pagination.js';
import { QueryState } from '../../components/QueryState.js';
import { type AuditLogPage, AuditLogTable, LogFilterForm, hasFilters, logQuery, useLogFilters } from './audit-log.js';

export interface LogListProps {
  /** Query key prefix naming the log: ['projects', 'shop', 'logs']. */
  queryKey: readonly unknown[];
  /** Fetches one page of the log, newest first, with `q` from the filters. */
  fetchPage: (params: { q?: string; page: number; pageSize: number }) => Promise<AuditLogPage>;
  /** "the project log", for captions and messages. */
  what: string;
}

/** A log with filters (kept in the address) and server-side pages. */
export function LogList({ queryKey, fetchPage, what }: LogListProps) {
  const { page, pageSize, setPage, setPageSize } = usePageParams();
  const [filters, setFilters] = useLogFilters();
  const q = logQuery(filters);
  const logs = useQuery({
    queryKey: [...queryKey, page, pageSize, q ?? ''],
    queryFn: () => fetchPage({ q, page, pageSize }),
    placeholderData: keepPreviousData,
  });

  return (
    <>
      <LogFilterForm value={filters} onApply={setFilters} />
      <QueryState
        query={logs}
        action={`load ${what}`}
        loadingLabel="Loading the log…"
        isEmpty={(data) => data.total === 0 && data.items.length === 0}
        empty={hasFilters(filters) ? <p>No record matches these filters.</p> : <p>Nothing has been recorded yet.</p>}
      >
        {(data) => (
          <>
            {data.items.length === 0 ? (
              <p className="hint">No records on this page.</p>
            ) : (
              <AuditLogTable logs={data.items} caption={what} />
            )}
            <Pagination
              page={page}
              pageSize={pageSize}
              total={data.total}
              onPageChange={setPage}
              onPageSizeChange={setPageSize}
              label="log records"
            />
          </>
        )}
      </QueryState>
    </>
  );
}
