import { useState, type FormEvent } from 'react';
import { Navigate, useNavigate, useSearchParams } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { WharfApiError } from '@wharf/api-client';
import { sessionEnded, useCurrentUser, useLogin } from '../../api/session.js';
import { errorText } from '../../lib/errors.js';

/** Where to go after logging in: a path of the portal from `?next=`, never another site. */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/projects';
  if (next.startsWith('/login')) return '/projects';
  return next;
}

function loginErrorText(error: unknown): string {
  if (error instanceof WharfApiError) {
    if (error.status === 401) return 'The username or password is not correct.';
    if (error.status === 403) {
      const detail = error.errors.map((e) => e.message).join(' ');
      return detail ? `You cannot log in: ${detail}` : 'You cannot log in with this account.';
    }
    if (error.status === 429) {
      return 'Too many failed attempts to log in. Please wait a few minutes before trying again.';
    }
  }
  return errorText(error, 'log in');
}

export function LoginPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const current = useCurrentUser();
  const login = useLogin();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [missing, setMissing] = useState(false);
  const next = safeNext(params.get('next'));
  const [ended] = useState(() => sessionEnded(queryClient));

  if (current.data && !login.isPending && !login.isSuccess) return <Navigate to={next} replace />;

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!username.trim() || !password) {
      setMissing(true);
      return;
    }
    setMissing(false);
    login.mutate({ principal: username.trim(), password }, { onSuccess: () => void navigate(next, { replace: true }) });
  }

  return (
    <main className="login">
      <div className="login-card">
        <h1>Wharf</h1>
        <p className="page-description">Log in to the container registry.</p>
        {ended && !login.isError ? (
          <p className="form-error" role="status">
            Your session has ended. Please log in again.
          </p>
        ) : null}
        <form className="form" onSubmit={submit} noValidate>
          <div className="field">
            <label htmlFor="login-username">Username</label>
            <input
              id="login-username"
              name="username"
              type="text"
              autoComplete="username"
              autoCapitalize="off"
              spellCheck={false}
              value={username}
              aria-invalid={missing && !username.trim() ? true : undefined}
              onChange={(e) => setUsername(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="login-password">Password</label>
            <input
              id="login-password"
              name="password"
              type="password"
              autoComplete="current-password"
              value={password}
              aria-invalid={missing && !password ? true : undefined}
              onChange={(e) => setPassword(e.target.value)}
            />
          </div>
          {missing ? (
            <p className="form-error" role="alert">
              Enter your username and password.
            </p>
          ) : null}
          {login.isError ? (
            <p className="form-error" role="alert">
              {loginErrorText(login.error)}
            </p>
          ) : null}
          <button type="submit" className="button button-primary" disabled={login.isPending}>
            {login.isPending ? 'Logging in…' : 'Log in'}
          </button>
        </form>
      </div>
    </main>
  );
}
