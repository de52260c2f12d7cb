import { type ReactNode } from 'react';
import { Link, Navigate, Outlet, useLocation } from 'react-router';
import { useCurrentUser } from '../api/session.js';
import { ErrorState, Loading } from './QueryState.js';
import { PageHeader } from './PageHeader.js';

/** Shows its routes only to a signed-in user; sends anyone else to the login page, and back here afterwards. */
export function RequireAuth({ children }: { children?: ReactNode }) {
  const current = useCurrentUser();
  const location = useLocation();
  if (current.isPending) return <Loading label="Loading Wharf…" />;
  if (current.isError) {
    return (
      <main className="standalone">
        <ErrorState error={current.error} action="load your account" onRetry={() => void current.refetch()} />
      </main>
    );
  }
  if (current.data === null) {
    const next = location.pathname + location.search;
    const target = next === '/' || next.startsWith('/login') ? '/login' : `/login?next=${encodeURIComponent(next)}`;
    return <Navigate to={target} replace />;
  }
  return children ?? <Outlet />;
}

/** The page a user reaches without the rights for it. */
export function NotAllowed({ what = 'this page' }: { what?: string }) {
  return (
    <section className="not-allowed">
      <PageHeader title="Not allowed" />
      <div className="state state-error" role="alert">
        <p>You are not allowed to see {what}. Only system administrators can.</p>
        <Link to="/projects" className="button">
          Go to projects
        </Link>
      </div>
    </section>
  );
}

/** Shows its routes only to system administrators, and a clear "Not allowed" page to others. */
export function RequireAdmin({ children }: { children?: ReactNode }) {
  const user = useCurrentUser().data;
  if (!user?.sysadmin_flag) return <NotAllowed what="the administration pages" />;
  return children ?? <Outlet />;
}

export function NotFound() {
  return (
    <section>
      <PageHeader title="Page not found" />
      <div className="state state-empty">
        <p>There is no page at this address.</p>
        <Link to="/projects" className="button">
          Go to projects
        </Link>
      </div>
    </section>
  );
}
