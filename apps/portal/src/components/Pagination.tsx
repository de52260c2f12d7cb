import { useId } from 'react';
import { PAGE_SIZES } from '../api/paging.js';

export interface PaginationProps {
  page: number;
  pageSize: number;
  /** The size of the whole list (X-Total-Count). */
  total: number;
  onPageChange: (page: number) => void;
  onPageSizeChange?: (pageSize: number) => void;
  /** What the list holds, for screen readers: "projects". */
  label?: string;
}

/** The range a page shows: "26–50 of 120" ("0 of 0" for an empty list). */
export function pageRange(page: number, pageSize: number, total: number): string {
  if (total <= 0) return '0 of 0';
  const first = Math.min((page - 1) * pageSize + 1, total);
  const last = Math.min(page * pageSize, total);
  return `${first}–${last} of ${total}`;
}

export function pageCount(pageSize: number, total: number): number {
  return Math.max(1, Math.ceil(total / pageSize));
}

/** Controls of a list paged on the server. */
export function Pagination({ page, pageSize, total, onPageChange, onPageSizeChange, label }: PaginationProps) {
  const sizeId = useId();
  const pages = pageCount(pageSize, total);
  const sizes: number[] = PAGE_SIZES.includes(pageSize as (typeof PAGE_SIZES)[number])
    ? [...PAGE_SIZES]
    : [...PAGE_SIZES, pageSize].sort((a, b) => a - b);
  return (
    <nav className="pagination" aria-label={label ? `Pages of ${label}` : 'Pages'}>
      <span className="pagination-range">{pageRange(page, pageSize, total)}</span>
      {onPageSizeChange ? (
        <span className="pagination-size">
          <label htmlFor={sizeId}>Page size</label>
          <select id={sizeId} value={pageSize} onChange={(e) => onPageSizeChange(Number(e.target.value))}>
            {sizes.map((size) => (
              <option key={size} value={size}>
                {size}
              </option>
            ))}
          </select>
        </span>
      ) : null}
      <span className="pagination-buttons">
        <button type="button" className="button button-small" onClick={() => onPageChange(1)} disabled={page <= 1}>
          First
        </button>
        <button
          type="button"
          className="button button-small"
          onClick={() => onPageChange(page - 1)}
          disabled={page <= 1}
        >
          Previous
        </button>
        <span className="pagination-page">
          Page {Math.min(page, pages)} of {pages}
        </span>
        <button
          type="button"
          className="button button-small"
          onClick={() => onPageChange(page + 1)}
          disabled={page >= pages}
        >
          Next
        </button>
        <button
          type="button"
          className="button button-small"
          onClick={() => onPageChange(pages)}
          disabled={page >= pages}
        >
          Last
        </button>
      </span>
    </nav>
  );
}
