import { useCallback, useMemo } from 'react';
import { useSearchParams } from 'react-router';
import { unwrap } from '@wharf/api-client';

export const PAGE_SIZES = [10, 25, 50, 100] as const;
export const DEFAULT_PAGE_SIZE = 25;

/** One page of a list the server pages, with the size of the whole list from X-Total-Count. */
export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
}

/**
 * Turns an openapi-fetch answer of a paged list into a Page (throws WharfApiError when it failed). Without
 * X-Total-Count the total is what the page shows, so the list still renders.
 */
export function toPage<T>(
  result: { data?: T[]; error?: unknown; response: Response },
  page: number,
  pageSize: number,
): Page<T> {
  const items = unwrap(result) ?? [];
  const header = result.response.headers.get('X-Total-Count');
  const counted = header === null ? NaN : Number(header);
  const total = Number.isSafeInteger(counted) && counted >= 0 ? counted : (page - 1) * pageSize + items.length;
  return { items, total, page, pageSize };
}

function positiveInt(value: string | null, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === null || !/^\d{1,9}$/.test(value)) return fallback;
  const n = Number(value);
  return n >= 1 && n <= max ? n : fallback;
}

export interface PageParams {
  page: number;
  pageSize: number;
  /** The search text (`?q=`), '' when none. */
  query: string;
  setPage: (page: number) => void;
  setPageSize: (pageSize: number) => void;
  /** Sets the search text and goes back to the first page. */
  setQuery: (query: string) => void;
}

/**
 * Page, page size and search text of a list, kept in the address (`?page=2&page_size=50&q=web`) so that a list
 * survives a reload and can be linked to.
 */
export function usePageParams(defaultPageSize: number = DEFAULT_PAGE_SIZE): PageParams {
  const [params, setParams] = useSearchParams();
  const page = positiveInt(params.get('page'), 1);
  const pageSize = positiveInt(params.get('page_size'), defaultPageSize, 100);
  const query = params.get('q') ?? '';

  const update = useCallback(
    (changes: Record<string, string | null>) =>
      setParams(
        (previous) => {
          const next = new URLSearchParams(previous);
          for (const [key, value] of Object.entries(changes)) {
            if (value === null || value === '') next.delete(key);
            else next.set(key, value);
          }
          return next;
        },
        { replace: true },
      ),
    [setParams],
  );

  return useMemo(
    () => ({
      page,
      pageSize,
      query,
      setPage: (p: number) => update({ page: p <= 1 ? null : String(p) }),
      setPageSize: (size: number) => update({ page_size: size === defaultPageSize ? null : String(size), page: null }),
      setQuery: (q: string) => update({ q: q.trim() || null, page: null }),
    }),
    [page, pageSize, query, update, defaultPageSize],
  );
}
