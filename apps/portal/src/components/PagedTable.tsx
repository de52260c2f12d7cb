import { type ReactNode } from 'react';
import { Pagination, type PaginationProps } from './Pagination.js';
import { Table } from './Table.js';

export interface PagedTableProps extends PaginationProps {
  /** Names the table for screen readers (the caption is visually hidden). */
  caption: ReactNode;
  /** The header cells, `<th scope="col">` each. */
  headers: ReactNode;
  /** How many columns the table has: the width of the row saying the page is empty. */
  columns: number;
  /** How many items the page shows; with none, a row says so in `emptyText`. */
  itemCount: number;
  emptyText: string;
  /** The rows of the page. */
  children: ReactNode;
}

/** A table of one page of a list paged on the server, with its Pagination below it. */
export function PagedTable({
  caption,
  headers,
  columns,
  itemCount,
  emptyText,
  children,
  ...pagination
}: PagedTableProps) {
  return (
    <>
      <Table caption={caption} headers={headers}>
        {itemCount === 0 ? (
          <tr>
            <td colSpan={columns}>{emptyText}</td>
          </tr>
        ) : null}
        {children}
      </Table>
      <Pagination {...pagination} />
    </>
  );
}
