import { type FormEvent, useId, useState } from 'react';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { unwrap, WharfApiError } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { toPage, usePageParams } from '../../api/paging.js';
import { useProject } from '../../api/project.js';
import { useCurrentUser } from '../../api/session.js';
import { type ItemOf, type ResponseOf } from '../../api/types.js';
import { ConfirmDialog } from '../../components/ConfirmDialog.js';
import { FormDialog } from '../../components/FormDialog.js';
import { PagedTable } from '../../components/PagedTable.js';
import { QueryState } from '../../components/QueryState.js';
import { SearchBox } from '../../components/SearchBox.js';
import { useToast } from '../../components/Toast.js';
import { projectScope, useCan } from '../../components/common/scope-permissions.js';
import shared from '../../components/common/common.module.css';
import { useSettled } from '../../components/common/use-settled.js';
import { errorText } from '../../lib/errors.js';
import { PROJECT_ROLES, roleLabel } from '../../lib/roles.js';

export type Member = ItemOf<ResponseOf<'/api/v2.0/projects/{project_name_or_id}/members'>>;

const SUGGESTIONS = 10;

function RoleSelect({ id, value, onChange }: { id: string; value: number; onChange: (role: number) => void }) {
  return (
    <select id={id} value={value} onChange={(e) => onChange(Number(e.target.value))}>
      {PROJECT_ROLES.map((role) => (
        <option key={role.id} value={role.id}>
          {role.label}
        </option>
      ))}
    </select>
  );
}

/** Adds a user to the project: the user name (with suggestions from GET /users/search) and a role. */
function AddMemberDialog({ onClose, onAdded }: { onClose: () => void; onAdded: (username: string) => void }) {
  const api = useApi();
  const project = useProject();
  const ids = { username: useId(), role: useId(), list: useId() };
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<number>(2);
  const [submitted, setSubmitted] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const typed = useSettled(username.trim());
  const suggestions = useQuery({
    queryKey: ['users', 'search', typed],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v2.0/users/search', {
          params: { query: { username: typed, page: 1, page_size: SUGGESTIONS } },
        }),
      ),
    enabled: typed.length > 0,
    staleTime: 30_000,
  });

  const usernameProblem = username.trim() === '' ? 'Enter the user name of the new member.' : undefined;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSubmitted(true);
    setError(null);
    if (usernameProblem) return;
    setBusy(true);
    const name = username.trim();
    try {
      unwrap(
        await api.POST('/api/v2.0/projects/{project_name_or_id}/members', {
          params: { path: { project_name_or_id: String(project.project_id) } },
          body: { role_id: role, member_user: { username: name } },
        }),
      );
      onAdded(name);
      onClose();
    } catch (failure) {
      if (
        failure instanceof WharfApiError &&
        (failure.status === 400 || failure.status === 404) &&
        failure.errors.some((e) => /not found/i.test(e.message))
      ) {
        setError(`There is no user named “${name}”. Check the spelling, or ask an administrator to create the user.`);
      } else if (failure instanceof WharfApiError && failure.status === 409) {
        setError(`${name} is already a member of project ${project.name}. Use “Change role” to give another role.`);
      } else {
        setError(errorText(failure, 'add the member'));
      }
      setBusy(false);
    }
  }

  return (
    <FormDialog
      title="Add member"
      submitLabel="OK"
      busyLabel="Adding…"
      onClose={onClose}
      onSubmit={(e) => void submit(e)}
      error={error}
      busy={busy}
    >
      <div className="field">
        <label htmlFor={ids.username}>Username</label>
        <input
          id={ids.username}
          type="text"
          list={ids.list}
          autoComplete="off"
          maxLength={255}
          value={username}
          aria-invalid={submitted && usernameProblem ? true : undefined}
          aria-describedby={`${ids.username}-hint`}
          onChange={(e) => setUsername(e.target.value)}
        />
        <datalist id={ids.list}>
          {(suggestions.data ?? []).map((user) => (
            <option key={user.user_id} value={user.username} />
          ))}
        </datalist>
        <span className="hint" id={`${ids.username}-hint`}>
          {suggestions.isFetching
            ? 'Looking for users…'
            : suggestions.data && typed
              ? suggestions.data.length === 0
                ? `No user name contains “${typed}”.`
                : `${suggestions.data.length === SUGGESTIONS ? 'Some' : suggestions.data.length} matching user${suggestions.data.length === 1 ? '' : 's'}: ${suggestions.data
                    .slice(0, 5)
                    .map((u) => u.username)
                    .join(', ')}${suggestions.data.length > 5 ? ', …' : ''}`
              : 'Type part of a user name to see matching users.'}
        </span>
        {submitted && usernameProblem ? (
          <p className="field-error" role="alert">
            {usernameProblem}
          </p>
        ) : null}
      </div>
      <div className="field">
        <label htmlFor={ids.role}>Role</label>
        <RoleSelect id={ids.role} value={role} onChange={setRole} />
      </div>
    </FormDialog>
  );
}

function ChangeRoleDialog({
  member,
  onClose,
  onChanged,
}: {
  member: Member;
  onClose: () => void;
  onChanged: (role: number) => void;
}) {
  const api = useApi();
  const project = useProject();
  const roleId = useId();
  const [role, setRole] = useState<number>(member.role_id);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      unwrap(
        await api.PUT('/api/v2.0/projects/{project_name_or_id}/members/{mid}', {
          params: { path: { project_name_or_id: String(project.project_id), mid: String(member.id) } },
          body: { role_id: role },
        }),
      );
      onChanged(role);
      onClose();
    } catch (failure) {
      setError(errorText(failure, `change the role of ${member.entity_name}`));
      setBusy(false);
    }
  }

  return (
    <FormDialog
      title={`Change role of ${member.entity_name}`}
      submitLabel="OK"
      busyLabel="Saving…"
      submitDisabled={role === member.role_id}
      noValidate={false}
      onClose={onClose}
      onSubmit={(e) => void submit(e)}
      error={error}
      busy={busy}
    >
      <div className="field">
        <label htmlFor={roleId}>Role</label>
        <RoleSelect id={roleId} value={role} onChange={setRole} />
      </div>
    </FormDialog>
  );
}

type Dialog = { kind: 'add' } | { kind: 'role'; member: Member } | { kind: 'remove'; member: Member };

/** The members of the project shown (/projects/:projectId/members): add, change role, remove. */
export function MembersPage() {
  const api = useApi();
  const project = useProject();
  const toast = useToast();
  const queryClient = useQueryClient();
  const me = useCurrentUser().data;
  const can = useCan(projectScope(project.project_id));
  const { page, pageSize, query: search, setPage, setPageSize, setQuery } = usePageParams();
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const membersKey = ['projects', String(project.project_id), 'members'];

  const members = useQuery({
    queryKey: [...membersKey, page, pageSize, search],
    queryFn: async () =>
      toPage(
        await api.GET('/api/v2.0/projects/{project_name_or_id}/members', {
          params: {
            path: { project_name_or_id: String(project.project_id) },
            query: { page: page, page_size: pageSize, ...(search ? { entityname: search } : {}) },
          },
        }),
        page,
        pageSize,
      ),
    placeholderData: keepPreviousData,
  });

  const refresh = () => queryClient.invalidateQueries({ queryKey: membersKey });
  const mayUpdate = can('member', 'update');
  const mayDelete = can('member', 'delete');

  return (
    <div>
      <h2>Members</h2>
      <p className={shared.intro}>The users who may work in project {project.name}, and their roles.</p>
      <div className="toolbar">
        <SearchBox label="Search members" placeholder="User name" value={search} onSearch={setQuery} />
        {can('member', 'create') ? (
          <button type="button" className="button button-primary" onClick={() => setDialog({ kind: 'add' })}>
            Add member
          </button>
        ) : null}
      </div>
      <QueryState
        query={members}
        action="load the members"
        loadingLabel="Loading members…"
        isEmpty={(data) => data.total === 0 && data.items.length === 0}
        empty={search ? <p>No member matches “{search}”.</p> : <p>This project has no members yet.</p>}
      >
        {(data) => (
          <PagedTable
            caption={<>Members of project {project.name}</>}
            headers={
              <>
                <th scope="col">Name</th>
                <th scope="col">Type</th>
                <th scope="col">Role</th>
                {mayUpdate || mayDelete ? <th scope="col">Actions</th> : null}
              </>
            }
            columns={4}
            itemCount={data.items.length}
            emptyText="No members on this page."
            page={page}
            pageSize={pageSize}
            total={data.total}
            onPageChange={setPage}
            onPageSizeChange={setPageSize}
            label="members"
          >
            {data.items.map((member) => {
              const self = member.entity_type === 'u' && member.entity_id === me?.user_id;
              return (
                <tr key={member.id}>
                  <td>
                    {member.entity_name}
                    {self ? <span className="hint"> (you)</span> : null}
                  </td>
                  <td>{member.entity_type === 'g' ? 'Group' : 'User'}</td>
                  <td>{roleLabel(member.role_id)}</td>
                  {mayUpdate || mayDelete ? (
                    <td className="actions">
                      {self ? (
                        <span className="hint">You cannot change your own membership</span>
                      ) : (
                        <>
                          {mayUpdate ? (
                            <button
                              type="button"
                              className="button button-small"
                              aria-label={`Change role of ${member.entity_name}`}
                              onClick={() => setDialog({ kind: 'role', member })}
                            >
                              Change role
                            </button>
                          ) : null}
                          {mayDelete ? (
                            <button
                              type="button"
                              className="button button-small button-danger"
                              aria-label={`Remove ${member.entity_name}`}
                              onClick={() => setDialog({ kind: 'remove', member })}
                            >
                              Remove
                            </button>
                          ) : null}
                        </>
                      )}
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </PagedTable>
        )}
      </QueryState>

      {dialog?.kind === 'add' ? (
        <AddMemberDialog
          onClose={() => setDialog(null)}
          onAdded={(username) => {
            void refresh();
            toast.success(`${username} added to project ${project.name}.`);
          }}
        />
      ) : null}
      {dialog?.kind === 'role' ? (
        <ChangeRoleDialog
          member={dialog.member}
          onClose={() => setDialog(null)}
          onChanged={(role) => {
            void refresh();
            toast.success(`${dialog.member.entity_name} is now ${roleLabel(role)}.`);
          }}
        />
      ) : null}
      {dialog?.kind === 'remove' ? (
        <ConfirmDialog
          title="Remove member"
          message={
            <p>
              Remove <strong>{dialog.member.entity_name}</strong> from project {project.name}? They lose access to its
              private repositories at once.
            </p>
          }
          confirmLabel="Remove"
          danger
          action={`remove ${dialog.member.entity_name}`}
          onConfirm={async () => {
            unwrap(
              await api.DELETE('/api/v2.0/projects/{project_name_or_id}/members/{mid}', {
                params: { path: { project_name_or_id: String(project.project_id), mid: String(dialog.member.id) } },
              }),
            );
            await refresh();
            toast.success(`${dialog.member.entity_name} removed from project ${project.name}.`);
          }}
          onClose={() => setDialog(null)}
        />
      ) : null}
    </div>
  );
}
