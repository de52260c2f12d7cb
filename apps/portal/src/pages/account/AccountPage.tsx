import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { unwrap, WharfApiError } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { CURRENT_USER_KEY, useCurrentUser } from '../../api/session.js';
import { type CurrentUser } from '../../api/types.js';
import { PageHeader } from '../../components/PageHeader.js';
import { Loading } from '../../components/QueryState.js';
import { useToast } from '../../components/Toast.js';
import { errorText } from '../../lib/errors.js';
import { formatDate } from '../../lib/format.js';
import {
  commentProblem,
  emailProblem,
  PASSWORD_POLICY,
  passwordProblem,
  realnameProblem,
} from '../../lib/validation.js';

function FieldError({ id, text }: { id: string; text: string | undefined }) {
  return text ? (
    <p id={id} className="field-error">
      {text}
    </p>
  ) : null;
}

/** A labelled text input with its error below it; `describedBy` names text that describes it too, e.g. a policy. */
function TextField({
  id,
  label,
  type,
  autoComplete,
  value,
  onChange,
  error,
  describedBy,
}: {
  id: string;
  label: string;
  type: 'text' | 'email' | 'password';
  autoComplete?: string;
  value: string;
  onChange: (value: string) => void;
  error: string | undefined;
  describedBy?: string;
}) {
  const described = [error ? `${id}-error` : '', describedBy ?? ''].filter(Boolean).join(' ');
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type={type}
        autoComplete={autoComplete}
        value={value}
        aria-invalid={error ? true : undefined}
        aria-describedby={described || undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      <FieldError id={`${id}-error`} text={error} />
    </div>
  );
}

function ProfileForm({ user }: { user: CurrentUser }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const toast = useToast();
  const [email, setEmail] = useState(user.email);
  const [realname, setRealname] = useState(user.realname);
  const [comment, setComment] = useState(user.comment);
  const [checked, setChecked] = useState(false);

  const problems = {
    email: emailProblem(email.trim()),
    realname: realnameProblem(realname.trim()),
    comment: commentProblem(comment),
  };
  const shown = checked ? problems : { email: undefined, realname: undefined, comment: undefined };

  const save = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.PUT('/api/v2.0/users/{user_id}', {
          params: { path: { user_id: String(user.user_id) } },
          body: { email: email.trim(), realname: realname.trim(), comment },
        }),
      ),
    onSuccess: async () => {
      toast.success('Your profile was saved.');
      await queryClient.invalidateQueries({ queryKey: CURRENT_USER_KEY });
    },
  });

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setChecked(true);
    if (problems.email || problems.realname || problems.comment) return;
    save.mutate();
  }

  return (
    <form className="form" onSubmit={submit} noValidate aria-labelledby="profile-title">
      <h2 id="profile-title">Profile</h2>
      <div className="field">
        <label htmlFor="profile-username">Username</label>
        <input id="profile-username" type="text" value={user.username} readOnly aria-describedby="username-hint" />
        <span id="username-hint" className="hint">
          The username cannot be changed.
        </span>
      </div>
      <TextField
        id="profile-email"
        label="Email"
        type="email"
        autoComplete="email"
        value={email}
        onChange={setEmail}
        error={shown.email}
      />
      <TextField
        id="profile-realname"
        label="Full name"
        type="text"
        autoComplete="name"
        value={realname}
        onChange={setRealname}
        error={shown.realname}
      />
      <div className="field">
        <label htmlFor="profile-comment">Comment</label>
        <input
          id="profile-comment"
          type="text"
          value={comment}
          aria-invalid={shown.comment ? true : undefined}
          aria-describedby={shown.comment ? 'profile-comment-error' : 'profile-comment-hint'}
          onChange={(e) => setComment(e.target.value)}
        />
        {shown.comment ? (
          <FieldError id="profile-comment-error" text={shown.comment} />
        ) : (
          <span id="profile-comment-hint" className="hint">
            At most 30 characters.
          </span>
        )}
      </div>
      {save.isError ? (
        <p className="form-error" role="alert">
          {errorText(save.error, 'save your profile')}
        </p>
      ) : null}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={save.isPending}>
          {save.isPending ? 'Saving…' : 'Save profile'}
        </button>
      </div>
    </form>
  );
}

function passwordErrorText(error: unknown): string {
  if (error instanceof WharfApiError && error.status === 403) return 'The current password is not correct.';
  return errorText(error, 'change your password');
}

function PasswordForm({ user }: { user: CurrentUser }) {
  const api = useApi();
  const toast = useToast();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [checked, setChecked] = useState(false);

  const problems = {
    current: current ? undefined : 'Enter your current password.',
    next: next ? passwordProblem(next) : 'Enter a new password.',
    confirm: confirm === next ? undefined : 'The two new passwords do not match.',
  };
  const shown = checked ? problems : { current: undefined, next: undefined, confirm: undefined };

  const change = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.PUT('/api/v2.0/users/{user_id}/password', {
          params: { path: { user_id: String(user.user_id) } },
          body: { old_password: current, new_password: next },
        }),
      ),
    onSuccess: () => {
      setCurrent('');
      setNext('');
      setConfirm('');
      setChecked(false);
      toast.success('Your password was changed.');
    },
  });

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setChecked(true);
    if (problems.current || problems.next || problems.confirm) return;
    change.mutate();
  }

  return (
    <form className="form" onSubmit={submit} noValidate aria-labelledby="password-title">
      <h2 id="password-title">Change password</h2>
      <p className="hint" id="password-policy">
        {PASSWORD_POLICY}
      </p>
      <TextField
        id="password-current"
        label="Current password"
        type="password"
        autoComplete="current-password"
        value={current}
        onChange={setCurrent}
        error={shown.current}
      />
      <TextField
        id="password-new"
        label="New password"
        type="password"
        autoComplete="new-password"
        value={next}
        onChange={setNext}
        error={shown.next}
        describedBy="password-policy"
      />
      <TextField
        id="password-confirm"
        label="Confirm new password"
        type="password"
        autoComplete="new-password"
        value={confirm}
        onChange={setConfirm}
        error={shown.confirm}
      />
      {change.isError ? (
        <p className="form-error" role="alert">
          {passwordErrorText(change.error)}
        </p>
      ) : null}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={change.isPending}>
          {change.isPending ? 'Changing…' : 'Change password'}
        </button>
      </div>
    </form>
  );
}

export function AccountPage() {
  const user = useCurrentUser().data;
  if (!user) return <Loading />;
  return (
    <section>
      <PageHeader
        title="Account"
        description={
          <>
            Signed in as <strong>{user.username}</strong>
            {user.sysadmin_flag ? ', a system administrator' : ''}. Member since {formatDate(user.creation_time)}.
          </>
        }
      />
      <div className="section">
        <ProfileForm key={user.update_time} user={user} />
      </div>
      <div className="section">
        <PasswordForm user={user} />
      </div>
    </section>
  );
}
