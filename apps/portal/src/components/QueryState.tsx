import { type ReactNode } from 'react';
import { Link, useLocation } from 'react-router';
import { type UseQueryResult } from '@tanstack/react-query';
import { WharfApiError } from '@wharf/api-client';
import { errorText } from '../lib/errors.js';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state state-loading" role="status">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export interface ErrorStateProps {
  error: unknown;
  /** What was being done: "load the projects". */
  action?: string;
  onRetry?: () => void;
}

/** A failure in words, with "Try again" (or "Log in again" when the session has ended). */
export function ErrorState({ error, action, onRetry }: ErrorStateProps) {
  const location = useLocation();
  const sessionEnded = error instanceof WharfApiError && error.status === 401;
  // Asking again will not change a refusal (403, 404, …); it may help after a failure, a timeout or a rate limit.
  const retryable =
    !(error instanceof WharfApiError) || error.status >= 500 || error.status === 408 || error.status === 429;
  const next = encodeURIComponent(location.pathname + location.search);
  return (
    <div className="state state-error" role="alert">
      <p>{errorText(error, action)}</p>
      {sessionEnded ? (
        <Link className="button" to={`/login?next=${next}`}>
          Log in again
        </Link>
      ) : onRetry && retryable ? (
        <button type="button" className="button" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function EmptyState({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

export interface QueryStateProps<T> {
  query: UseQueryResult<T>;
  /** What the query does, for error messages: "load the projects". */
  action?: string;
  /** Whether the data counts as empty (then `empty` is shown instead of `children`). */
  isEmpty?: (data: T) => boolean;
  /** What to show for an empty result: "No projects yet." */
  empty?: ReactNode;
  loadingLabel?: string;
  children: (data: T) => ReactNode;
}

/**
 * Renders a query's loading, error and empty states, and `children(data)` once there is data. While a new page
 * loads the previous data stays shown (with placeholderData: keepPreviousData), marked as busy.
 */
export function QueryState<T>({ query, action, isEmpty, empty, loadingLabel, children }: QueryStateProps<T>) {
  if (query.isPending) return <Loading label={loadingLabel} />;
  if (query.isError) return <ErrorState error={query.error} action={action} onRetry={() => void query.refetch()} />;
  const { data } = query;
  if (isEmpty?.(data)) return <EmptyState>{empty ?? 'Nothing here yet.'}</EmptyState>;
  return (
    <div className="query-content" aria-busy={query.isFetching && query.isPlaceholderData ? true : undefined}>
      {children(data)}
    </div>
  );
}
