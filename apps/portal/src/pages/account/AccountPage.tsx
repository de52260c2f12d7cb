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
      <div className="field">
        <label htmlFor="profile-email">Email</label>
        <input
          id="profile-email"
          type="email"
          autoComplete="email"
          value={email}
          aria-invalid={shown.email ? true : undefined}
          aria-describedby={shown.email ? 'profile-email-error' : undefined}
          onChange={(e) => setEmail(e.target.value)}
        />
        <FieldError id="profile-email-error" text={shown.email} />
      </div>
      <div className="field">
        <label htmlFor="profile-realname">Full name</label>
        <input
          id="profile-realname"
          type="text"
          autoComplete="name"
          value={realname}
          aria-invalid={shown.realname ? true : undefined}
          aria-describedby={shown.realname ? 'profile-realname-error' : undefined}
          onChange={(e) => setRealname(e.target.value)}
        />
        <FieldError id="profile-realname-error" text={shown.realname} />
      </div>
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
      <div className="field">
        <label htmlFor="password-current">Current password</label>
        <input
          id="password-current"
          type="password"
          autoComplete="current-password"
          value={current}
          aria-invalid={shown.current ? true : undefined}
          aria-describedby={shown.current ? 'password-current-error' : undefined}
          onChange={(e) => setCurrent(e.target.value)}
        />
        <FieldError id="password-current-error" text={shown.current} />
      </div>
      <div className="field">
        <label htmlFor="password-new">New password</label>
        <input
          id="password-new"
          type="password"
          autoComplete="new-password"
          value={next}
          aria-invalid={shown.next ? true : undefined}
          aria-describedby={shown.next ? 'password-new-error password-policy' : 'password-policy'}
          onChange={(e) => setNext(e.target.value)}
        />
        <FieldError id="password-new-error" text={shown.next} />
      </div>
      <div className="field">
        <label htmlFor="password-confirm">Confirm new password</label>
        <input
          id="password-confirm"
          type="password"
          autoComplete="new-password"
          value={confirm}
          aria-invalid={shown.confirm ? true : undefined}
          aria-describedby={shown.confirm ? 'password-confirm-error' : undefined}
          onChange={(e) => setConfirm(e.target.value)}
        />
        <FieldError id="password-confirm-error" text={shown.confirm} />
      </div>
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
