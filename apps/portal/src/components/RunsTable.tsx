import { Fragment, type ReactNode } from 'react';
import { formatDate } from '../lib/format.js';
import { isUnfinished, statusTone, triggerText } from '../lib/runs.js';
import { Badge } from './Badge.js';
import { PagedTable } from './PagedTable.js';
import { type PaginationProps } from './Pagination.js';

/** What the table shows of every run, whatever its kind. */
export interface RunCells {
  id: number;
  status: string;
  dryRun: boolean;
  /** Harbor's trigger: MANUAL, SCHEDULE, EVENT. */
  trigger: string;
  started: string;
}

export interface RunsTableProps<T> extends Omit<PaginationProps, 'label'> {
  /** Names the table: "Garbage collection history". */
  caption: string;
  emptyText: string;
  runs: T[];
  cellsOf: (run: T) => RunCells;
  /** The column after "Started": its header and cell ("Updated", "Duration"). */
  last: { header: string; cell: (run: T) => ReactNode };
  /** The first cell, the run's id by default. */
  idCell?: (run: T) => ReactNode;
  /** With it, each run has "Log". */
  onLog?: (run: T) => void;
  /** With it, an unfinished run has "Stop". */
  onStop?: (run: T) => void;
  /** Disables "Stop" while a stop is being sent. */
  stopping?: boolean;
  /** A row under a run's, across the table: its tasks, once opened. */
  below?: (run: T) => ReactNode;
}

/**
 * One page of a job's runs, newest first: id, status, dry-run flag, trigger, start and one more column of the
 * caller's, with the run's log and, while it is unfinished, "Stop".
 */
export function RunsTable<T>({
  caption,
  emptyText,
  runs,
  cellsOf,
  last,
  idCell,
  onLog,
  onStop,
  stopping,
  below,
  ...pagination
}: RunsTableProps<T>) {
  return (
    <PagedTable
      caption={caption}
      headers={
        <>
          <th scope="col">Run</th>
          <th scope="col">Status</th>
          <th scope="col">Dry run</th>
          <th scope="col">Trigger</th>
          <th scope="col">Started</th>
          <th scope="col">{last.header}</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </>
      }
      columns={7}
      itemCount={runs.length}
      emptyText={emptyText}
      label="runs"
      {...pagination}
    >
      {runs.map((run) => {
        const cells = cellsOf(run);
        const under = below?.(run);
        return (
          <Fragment key={cells.id}>
            <tr>
              <td className={idCell ? 'nowrap' : undefined}>{idCell ? idCell(run) : cells.id}</td>
              <td>
                <Badge tone={statusTone(cells.status)}>{cells.status}</Badge>
              </td>
              <td>{cells.dryRun ? 'Yes' : 'No'}</td>
              <td>{triggerText(cells.trigger)}</td>
              <td className="nowrap">{formatDate(cells.started)}</td>
              <td className="nowrap">{last.cell(run)}</td>
              <td className="actions">
                {onLog ? (
                  <button
                    type="button"
                    className="button button-small"
                    aria-label={`Log of run ${cells.id}`}
                    onClick={() => onLog(run)}
                  >
                    Log
                  </button>
                ) : null}
                {onStop && isUnfinished(cells.status) ? (
                  <button
                    type="button"
                    className="button button-small"
                    aria-label={`Stop run ${cells.id}`}
                    disabled={stopping}
                    onClick={() => onStop(run)}
                  >
                    Stop
                  </button>
                ) : null}
              </td>
            </tr>
            {under ? (
              <tr>
                <td colSpan={7}>{under}</td>
              </tr>
            ) : null}
          </Fragment>
        );
      })}
    </PagedTable>
  );
}
