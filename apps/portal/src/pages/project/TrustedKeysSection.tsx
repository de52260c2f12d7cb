import { type FormEvent, useId, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { type Project } from '../../api/types.js';
import { ConfirmDialog } from '../../components/ConfirmDialog.js';
import { FormDialog } from '../../components/FormDialog.js';
import { QueryState } from '../../components/QueryState.js';
import { Table } from '../../components/Table.js';
import { useToast } from '../../components/Toast.js';
import { errorText } from '../../lib/errors.js';
import { formatDate } from '../../lib/format.js';

type KeyType = 'cosign' | 'notation';

/** What is wrong with a new trusted key, by field; empty when it can be sent. */
export function trustedKeyProblems(name: string, pem: string): Partial<Record<'name' | 'pem', string>> {
  const problems: Partial<Record<'name' | 'pem', string>> = {};
  if (!name.trim()) problems.name = 'Enter a name.';
  else if (name.trim().length > 255) problems.name = 'The name is at most 255 characters long.';
  if (!/-----BEGIN [A-Z0-9 ]+-----[\s\S]+-----END [A-Z0-9 ]+-----/.test(pem)) {
    problems.pem = 'Paste a PEM block: a public key or a certificate, from -----BEGIN to -----END.';
  }
  return problems;
}

function trustedKeysKey(projectId: number) {
  return ['projects', 'detail', String(projectId), 'trusted-keys'] as const;
}

function AddKeyDialog({ project, onClose }: { project: Project; onClose: () => void }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const toast = useToast();
  const ids = { type: useId(), name: useId(), pem: useId() };
  const [type, setType] = useState<KeyType>('cosign');
  const [name, setName] = useState('');
  const [pem, setPem] = useState('');
  const [checked, setChecked] = useState(false);
  const problems = trustedKeyProblems(name, pem);
  const shown = checked ? problems : {};

  const add = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST('/api/v2.0/projects/{project_name_or_id}/trusted-keys', {
          params: { path: { project_name_or_id: String(project.project_id) } },
          body: { type, name: name.trim(), pem: pem.trim() },
        }),
      ),
    onSuccess: async () => {
      toast.success(`Trusted key ${name.trim()} added.`);
      await queryClient.invalidateQueries({ queryKey: trustedKeysKey(project.project_id) });
      onClose();
    },
  });

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setChecked(true);
    if (Object.keys(problems).length === 0) add.mutate();
  }

  return (
    <FormDialog
      title="Add trusted key"
      submitLabel="Add"
      busyLabel="Adding…"
      busy={add.isPending}
      error={add.isError ? errorText(add.error, 'add the trusted key') : null}
      onSubmit={submit}
      onClose={onClose}
      wide
    >
      <div className="field">
        <label htmlFor={ids.type}>Type</label>
        <select id={ids.type} value={type} onChange={(e) => setType(e.target.value as KeyType)}>
          <option value="cosign">Cosign public key</option>
          <option value="notation">Notation certificate</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor={ids.name}>Name</label>
        <input
          id={ids.name}
          value={name}
          maxLength={255}
          autoComplete="off"
          aria-invalid={shown.name ? true : undefined}
          aria-describedby={shown.name ? `${ids.name}-error` : undefined}
          onChange={(e) => setName(e.target.value)}
        />
        {shown.name ? (
          <p className="field-error" id={`${ids.name}-error`} role="alert">
            {shown.name}
          </p>
        ) : null}
      </div>
      <div className="field">
        <label htmlFor={ids.pem}>PEM</label>
        <textarea
          id={ids.pem}
          value={pem}
          rows={8}
          spellCheck={false}
          className="mono"
          aria-invalid={shown.pem ? true : undefined}
          aria-describedby={shown.pem ? `${ids.pem}-error` : undefined}
          onChange={(e) => setPem(e.target.value)}
        />
        {shown.pem ? (
          <p className="field-error" id={`${ids.pem}-error`} role="alert">
            {shown.pem}
          </p>
        ) : null}
      </div>
    </FormDialog>
  );
}

/** The keys a project trusts: signatures are verified against the keys of their kind. */
export function TrustedKeysSection({ project, mayEdit }: { project: Project; mayEdit: boolean }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const toast = useToast();
  const [adding, setAdding] = useState(false);
  const [deleting, setDeleting] = useState<{ id: number; name: string } | null>(null);
  const keys = useQuery({
    queryKey: trustedKeysKey(project.project_id),
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v2.0/projects/{project_name_or_id}/trusted-keys', {
          params: { path: { project_name_or_id: String(project.project_id) } },
        }),
      ) ?? [],
  });

  return (
    <div className="section">
      <h3>Trusted keys</h3>
      <p className="hint">
        With trusted keys of a kind, a signature of that kind counts only when it verifies against one of them.
      </p>
      {mayEdit ? (
        <div className="form-actions">
          <button type="button" className="button" onClick={() => setAdding(true)}>
            Add trusted key
          </button>
        </div>
      ) : null}
      <QueryState
        query={keys}
        action="load the trusted keys"
        isEmpty={(list) => list.length === 0}
        empty="The project trusts no keys."
      >
        {(list) => (
          <Table
            caption="Trusted keys"
            headers={
              <>
                <th scope="col">Name</th>
                <th scope="col">Type</th>
                <th scope="col">Fingerprint</th>
                <th scope="col">Added</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </>
            }
          >
            {list.map((key) => (
              <tr key={key.id}>
                <td>{key.name}</td>
                <td>{key.type === 'cosign' ? 'Cosign' : 'Notation'}</td>
                <td className="mono">{key.fingerprint}</td>
                <td className="nowrap">{formatDate(key.creation_time)}</td>
                <td className="actions">
                  {mayEdit ? (
                    <button
                      type="button"
                      className="button button-small button-danger"
                      aria-label={`Delete trusted key ${key.name}`}
                      onClick={() => setDeleting({ id: key.id, name: key.name })}
                    >
                      Delete
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </QueryState>
      {adding ? <AddKeyDialog project={project} onClose={() => setAdding(false)} /> : null}
      {deleting ? (
        <ConfirmDialog
          title="Delete trusted key"
          message={<p>Delete the trusted key {deleting.name}? Signatures made with it no longer verify.</p>}
          confirmLabel="Delete"
          danger
          action="delete the trusted key"
          onConfirm={async () => {
            unwrap(
              await api.DELETE('/api/v2.0/projects/{project_name_or_id}/trusted-keys/{key_id}', {
                params: { path: { project_name_or_id: String(project.project_id), key_id: String(deleting.id) } },
              }),
            );
            toast.success(`Trusted key ${deleting.name} deleted.`);
            await queryClient.invalidateQueries({ queryKey: trustedKeysKey(project.project_id) });
          }}
          onClose={() => setDeleting(null)}
        />
      ) : null}
    </div>
  );
}
