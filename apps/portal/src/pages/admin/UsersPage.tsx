import { type FormEvent, useId, useState } from 'react';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { toPage, usePageParams } from '../../api/paging.js';
import { useCurrentUser } from '../../api/session.js';
import { type ItemOf, type ResponseOf } from '../../api/types.js';
import { Badge } from '../../components/Badge.js';
import { ConfirmDialog } from '../../components/ConfirmDialog.js';
import { NotAllowed } from '../../components/Guards.js';
import { FormDialog } from '../../components/FormDialog.js';
import { PageHeader } from '../../components/PageHeader.js';
import { PagedTable } from '../../components/PagedTable.js';
import { QueryState } from '../../components/QueryState.js';
import { SearchBox } from '../../components/SearchBox.js';
import { useToast } from '../../components/Toast.js';
import { CREDENTIAL_RULE, passwordProblem as credentialProblem } from '../../lib/validation.js';
import shared from '../../components/common/common.module.css';
import { errorText } from '../../lib/errors.js';
import { formatDate } from '../../lib/format.js';
import {
  COMMENT_MAX,
  EMAIL_MAX,
  REALNAME_MAX,
  USERNAME_MAX,
  commentProblem,
  emailProblem,
  realnameProblem,
  usernameProblem,
} from './user-form.js';

export type User = ItemOf<ResponseOf<'/api/v2.0/users'>>;

const USERS_KEY = ['users', 'list'] as const;

interface FieldProps {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  problem?: string;
  type?: 'text' | 'email' | 'password';
  autoComplete?: string;
  maxLength?: number;
  hint?: string;
}

function Field({ id, label, value, onChange, problem, type = 'text', autoComplete, maxLength, hint }: FieldProps) {
  const described = [hint ? `${id}-hint` : '', problem ? `${id}-error` : ''].filter(Boolean).join(' ');
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type={type}
        value={value}
        autoComplete={autoComplete ?? 'off'}
        maxLength={maxLength}
        aria-invalid={problem ? true : undefined}
        aria-describedby={described || undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      {hint ? (
        <span className="hint" id={`${id}-hint`}>
          {hint}
        </span>
      ) : null}
      {problem ? (
        <p className="field-error" id={`${id}-error`} role="alert">
          {problem}
        </p>
      ) : null}
    </div>
  );
}

function NewUserDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (username: string) => void }) {
  const api = useApi();
  const ids = {
    username: useId(),
    email: useId(),
    realname: useId(),
    password: useId(),
    confirm: useId(),
    comment: useId(),
  };
  const [form, setForm] = useState({ username: '', email: '', realname: '', password: '', confirm: '', comment: '' });
  const [submitted, setSubmitted] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const set = (key: keyof typeof form) => (value: string) => setForm((f) => ({ ...f, [key]: value }));

  const problems = {
    username: usernameProblem(form.username),
    email: emailProblem(form.email.trim()),
    realname: realnameProblem(form.realname.trim()),
    password: credentialProblem(form.password, 'password'),
    confirm: form.confirm !== form.password ? 'The two passwords are not the same.' : undefined,
    comment: commentProblem(form.comment),
  };
  const shown = (key: keyof typeof problems) => (submitted ? problems[key] : undefined);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSubmitted(true);
    setError(null);
    if (Object.values(problems).some(Boolean)) return;
    setBusy(true);
    try {
      unwrap(
        await api.POST('/api/v2.0/users', {
          body: {
            username: form.username,
            email: form.email.trim(),
            realname: form.realname.trim(),
            password: form.password,
            comment: form.comment,
          },
        }),
      );
      onCreated(form.username);
      onClose();
    } catch (failure) {
      setError(errorText(failure, 'create the user'));
      setBusy(false);
    }
  }

  return (
    <FormDialog
      title="New user"
      submitLabel="Create"
      onClose={onClose}
      onSubmit={(e) => void submit(e)}
      error={error}
      busy={busy}
    >
      <Field
        id={ids.username}
        label="Username"
        value={form.username}
        onChange={set('username')}
        problem={shown('username')}
        maxLength={USERNAME_MAX}
      />
      <Field
        id={ids.email}
        label="Email"
        type="email"
        value={form.email}
        onChange={set('email')}
        problem={shown('email')}
        maxLength={EMAIL_MAX}
      />
      <Field
        id={ids.realname}
        label="Full name"
        value={form.realname}
        onChange={set('realname')}
        problem={shown('realname')}
        maxLength={REALNAME_MAX}
      />
      <Field
        id={ids.password}
        label="Password"
        type="password"
        autoComplete="new-password"
        value={form.password}
        onChange={set('password')}
        problem={shown('password')}
        hint={CREDENTIAL_RULE}
      />
      <Field
        id={ids.confirm}
        label="Confirm password"
        type="password"
        autoComplete="new-password"
        value={form.confirm}
        onChange={set('confirm')}
        problem={shown('confirm')}
      />
      <Field
        id={ids.comment}
        label="Comment"
        value={form.comment}
        onChange={set('comment')}
        problem={shown('comment')}
        hint={`Optional, at most ${COMMENT_MAX} characters.`}
      />
    </FormDialog>
  );
}

function ResetPasswordDialog({ user, onClose, onDone }: { user: User; onClose: () => void; onDone: () => void }) {
  const api = useApi();
  const ids = { password: useId(), confirm: useId() };
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [submitted, setSubmitted] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const passwordProblem = credentialProblem(password, 'password');
  const confirmProblem = confirm !== password ? 'The two passwords are not the same.' : undefined;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSubmitted(true);
    setError(null);
    if (passwordProblem || confirmProblem) return;
    setBusy(true);
    try {
      unwrap(
        await api.PUT('/api/v2.0/users/{user_id}/password', {
          params: { path: { user_id: String(user.user_id) } },
          body: { new_password: password },
        }),
      );
      onDone();
      onClose();
    } catch (failure) {
      setError(errorText(failure, `reset the password of ${user.username}`));
      setBusy(false);
    }
  }

  return (
    <FormDialog
      title={`Reset password of ${user.username}`}
      submitLabel="Reset password"
      onClose={onClose}
      onSubmit={(e) => void submit(e)}
      error={error}
      busy={busy}
    >
      <p>Give {user.username} the new password through a safe channel; their current one stops working.</p>
      <Field
        id={ids.password}
        label="New password"
        type="password"
        autoComplete="new-password"
        value={password}
        onChange={setPassword}
        problem={submitted ? passwordProblem : undefined}
        hint={CREDENTIAL_RULE}
      />
      <Field
        id={ids.confirm}
        label="Confirm password"
        type="password"
        autoComplete="new-password"
        value={confirm}
        onChange={setConfirm}
        problem={submitted ? confirmProblem : undefined}
      />
    </FormDialog>
  );
}

type Dialog =
  { kind: 'new' } | { kind: 'password'; user: User } | { kind: 'admin'; user: User } | { kind: 'delete'; user: User };

/** Users (/admin/users): search, create, make or unmake administrator, reset password, delete. */
export function UsersPage() {
  const api = useApi();
  const toast = useToast();
  const queryClient = useQueryClient();
  const me = useCurrentUser().data;
  const { page, pageSize, query: search, setPage, setPageSize, setQuery } = usePageParams();
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const admin = me?.sysadmin_flag === true;

  const users = useQuery({
    queryKey: [...USERS_KEY, page, pageSize, search],
    queryFn: async () =>
      toPage(
        await api.GET('/api/v2.0/users', {
          params: {
            query: {
              page: page,
              page_size: pageSize,
              ...(search ? { q: `username=~${encodeURIComponent(search)}` } : {}),
            },
          },
        }),
        page,
        pageSize,
      ),
    placeholderData: keepPreviousData,
    enabled: admin,
  });

  if (!admin) return <NotAllowed what="the users" />;
  const refresh = () => queryClient.invalidateQueries({ queryKey: USERS_KEY });

  return (
    <section>
      <PageHeader
        title="Users"
        description="Local user accounts of Wharf. System administrators manage everything, including other users."
        actions={
          <button type="button" className="button button-primary" onClick={() => setDialog({ kind: 'new' })}>
            New user
          </button>
        }
      />
      <div className="toolbar">
        <SearchBox label="Search users" placeholder="User name" value={search} onSearch={setQuery} />
      </div>
      <QueryState
        query={users}
        action="load the users"
        loadingLabel="Loading users…"
        isEmpty={(data) => data.total === 0 && data.items.length === 0}
        empty={search ? <p>No user name contains “{search}”.</p> : <p>There are no other users yet.</p>}
      >
        {(data) => (
          <PagedTable
            caption="Users"
            headers={
              <>
                <th scope="col">Username</th>
                <th scope="col">Administrator</th>
                <th scope="col">Email</th>
                <th scope="col">Full name</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </>
            }
            columns={6}
            itemCount={data.items.length}
            emptyText="No users on this page."
            page={page}
            pageSize={pageSize}
            total={data.total}
            onPageChange={setPage}
            onPageSizeChange={setPageSize}
            label="users"
          >
            {data.items.map((user) => {
              const self = user.user_id === me.user_id;
              return (
                <tr key={user.user_id}>
                  <td>
                    {user.username}
                    {self ? <span className="hint"> (you)</span> : null}
                  </td>
                  <td>{user.sysadmin_flag ? <Badge tone="info">Administrator</Badge> : 'No'}</td>
                  <td>{user.email}</td>
                  <td>{user.realname}</td>
                  <td className="nowrap">{formatDate(user.creation_time)}</td>
                  <td className="actions">
                    <div className={shared.rowActions}>
                      <button
                        type="button"
                        className="button button-small"
                        disabled={self}
                        title={self ? 'You cannot change your own administrator role' : undefined}
                        aria-label={`${user.sysadmin_flag ? 'Remove administrator' : 'Make administrator'}: ${user.username}`}
                        onClick={() => setDialog({ kind: 'admin', user })}
                      >
                        {user.sysadmin_flag ? 'Remove administrator' : 'Make administrator'}
                      </button>
                      <button
                        type="button"
                        className="button button-small"
                        aria-label={`Reset password of ${user.username}`}
                        onClick={() => setDialog({ kind: 'password', user })}
                      >
                        Reset password
                      </button>
                      <button
                        type="button"
                        className="button button-small button-danger"
                        disabled={self}
                        title={self ? 'You cannot delete your own account' : undefined}
                        aria-label={`Delete ${user.username}`}
                        onClick={() => setDialog({ kind: 'delete', user })}
                      >
                        Delete
                      </button>
                    </div>
                  </td>
                </tr>
              );
            })}
          </PagedTable>
        )}
      </QueryState>

      {dialog?.kind === 'new' ? (
        <NewUserDialog
          onClose={() => setDialog(null)}
          onCreated={(username) => {
            void refresh();
            toast.success(`User ${username} created.`);
          }}
        />
      ) : null}
      {dialog?.kind === 'password' ? (
        <ResetPasswordDialog
          user={dialog.user}
          onClose={() => setDialog(null)}
          onDone={() => toast.success(`The password of ${dialog.user.username} was reset.`)}
        />
      ) : null}
      {dialog?.kind === 'admin' ? (
        <ConfirmDialog
          title={dialog.user.sysadmin_flag ? 'Remove administrator' : 'Make administrator'}
          message={
            dialog.user.sysadmin_flag ? (
              <p>
                Take the system administrator role away from <strong>{dialog.user.username}</strong>? They keep their
                project memberships.
              </p>
            ) : (
              <p>
                Make <strong>{dialog.user.username}</strong> a system administrator? They will be able to do everything
                in Wharf, including managing users.
              </p>
            )
          }
          confirmLabel={dialog.user.sysadmin_flag ? 'Remove administrator' : 'Make administrator'}
          danger={!dialog.user.sysadmin_flag}
          action={`change the administrator role of ${dialog.user.username}`}
          onConfirm={async () => {
            unwrap(
              await api.PUT('/api/v2.0/users/{user_id}/sysadmin', {
                params: { path: { user_id: String(dialog.user.user_id) } },
                body: { sysadmin_flag: !dialog.user.sysadmin_flag },
              }),
            );
            await refresh();
            toast.success(
              dialog.user.sysadmin_flag
                ? `${dialog.user.username} is no longer an administrator.`
                : `${dialog.user.username} is now an administrator.`,
            );
          }}
          onClose={() => setDialog(null)}
        />
      ) : null}
      {dialog?.kind === 'delete' ? (
        <ConfirmDialog
          title="Delete user"
          message={
            <p>
              Delete the user <strong>{dialog.user.username}</strong>? Their project memberships go with them and their
              sessions end. This cannot be undone.
            </p>
          }
          confirmLabel="Delete"
          danger
          action={`delete the user ${dialog.user.username}`}
          onConfirm={async () => {
            unwrap(
              await api.DELETE('/api/v2.0/users/{user_id}', {
                params: { path: { user_id: String(dialog.user.user_id) } },
              }),
            );
            await refresh();
            toast.success(`User ${dialog.user.username} deleted.`);
          }}
          onClose={() => setDialog(null)}
        />
      ) : null}
    </section>
  );
}
