import { type ReactNode } from 'react';

export interface TableProps {
  /** Names the table for screen readers (the caption is visually hidden). */
  caption: ReactNode;
  /** The header cells, `<th scope="col">` each. */
  headers: ReactNode;
  /** The rows. */
  children: ReactNode;
}

/** A table of the portal's look, named by its hidden caption. */
export function Table({ caption, headers, children }: TableProps) {
  return (
    <div className="table-wrap">
      <table className="table">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>{headers}</tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
