import { type FormEvent, useId, useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { FormDialog } from '../../components/FormDialog.js';
import { errorText } from '../../lib/errors.js';
import {
  AUTH_TYPES,
  EMPTY_SCANNER,
  SCANNERS_KEY,
  type ScannerFields,
  scannerProblems,
  scannerRequest,
} from './scanners.js';

type Problem = keyof ReturnType<typeof scannerProblems>;

function FieldError({ id, problem }: { id: string; problem?: string }) {
  return problem ? (
    <p className="field-error" id={`${id}-error`} role="alert">
      {problem}
    </p>
  ) : null;
}

/**
 * "New scanner": registers a scanner adapter. "Test connection" asks Wharf to reach the adapter with the settings as
 * they are (POST /scanners/ping) and says whether it answered, or why not.
 */
export function ScannerDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (name: string) => void }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const ids = {
    name: useId(),
    description: useId(),
    url: useId(),
    auth: useId(),
    credential: useId(),
    skip: useId(),
  };
  const [fields, setFields] = useState<ScannerFields>(EMPTY_SCANNER);
  const [checked, setChecked] = useState(false);
  const problems = scannerProblems(fields);
  const shown: Partial<Record<Problem, string>> = checked ? problems : {};
  const authType = AUTH_TYPES.find((type) => type.value === fields.auth) ?? AUTH_TYPES[0];

  function set<K extends keyof ScannerFields>(key: K, value: ScannerFields[K]) {
    setFields((previous) => ({ ...previous, [key]: value }));
    ping.reset();
  }

  const ping = useMutation({
    mutationFn: async () => {
      const body = scannerRequest(fields);
      unwrap(
        await api.POST('/api/v2.0/scanners/ping', {
          body: { name: body.name, url: body.url, auth: body.auth, access_credential: body.access_credential },
        }),
      );
    },
  });

  const create = useMutation({
    mutationFn: async () => unwrap(await api.POST('/api/v2.0/scanners', { body: scannerRequest(fields) })),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: SCANNERS_KEY });
      onCreated(fields.name.trim());
    },
  });

  function valid(): boolean {
    setChecked(true);
    return Object.keys(problems).length === 0;
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (valid()) create.mutate();
  }

  function describedBy(id: string, problem?: string, hint?: boolean) {
    return [hint ? `${id}-hint` : '', problem ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  }

  return (
    <FormDialog
      title="New scanner"
      submitLabel="Add"
      busyLabel="Adding…"
      busy={create.isPending}
      error={create.isError ? errorText(create.error, 'add the scanner') : null}
      onSubmit={submit}
      onClose={onClose}
    >
      <div className="field">
        <label htmlFor={ids.name}>Name</label>
        <input
          id={ids.name}
          value={fields.name}
          maxLength={128}
          autoComplete="off"
          aria-invalid={shown.name ? true : undefined}
          aria-describedby={describedBy(ids.name, shown.name)}
          onChange={(e) => set('name', e.target.value)}
        />
        <FieldError id={ids.name} problem={shown.name} />
      </div>
      <div className="field">
        <label htmlFor={ids.description}>Description</label>
        <input
          id={ids.description}
          value={fields.description}
          maxLength={1024}
          autoComplete="off"
          onChange={(e) => set('description', e.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor={ids.url}>Endpoint</label>
        <input
          id={ids.url}
          value={fields.url}
          maxLength={1024}
          autoComplete="off"
          placeholder="http://scanner-adapter:8080"
          aria-invalid={shown.url ? true : undefined}
          aria-describedby={describedBy(ids.url, shown.url, true)}
          onChange={(e) => set('url', e.target.value)}
        />
        <span className="hint" id={`${ids.url}-hint`}>
          The base address of an adapter speaking the Pluggable Scanner API v1.
        </span>
        <FieldError id={ids.url} problem={shown.url} />
      </div>
      <div className="field">
        <label htmlFor={ids.auth}>Authorization</label>
        <select id={ids.auth} value={fields.auth} onChange={(e) => set('auth', e.target.value)}>
          {AUTH_TYPES.map((type) => (
            <option key={type.value} value={type.value}>
              {type.label}
            </option>
          ))}
        </select>
      </div>
      {authType.credential ? (
        <div className="field">
          <label htmlFor={ids.credential}>{authType.credential}</label>
          <input
            id={ids.credential}
            type="password"
            value={fields.credential}
            maxLength={4096}
            autoComplete="new-password"
            aria-invalid={shown.credential ? true : undefined}
            aria-describedby={describedBy(ids.credential, shown.credential)}
            onChange={(e) => set('credential', e.target.value)}
          />
          <FieldError id={ids.credential} problem={shown.credential} />
        </div>
      ) : null}
      <div className="field field-inline">
        <input
          id={ids.skip}
          type="checkbox"
          checked={fields.skipCertVerify}
          onChange={(e) => set('skipCertVerify', e.target.checked)}
        />
        <label htmlFor={ids.skip}>Skip certificate verification</label>
      </div>
      <div className="form-actions">
        <button
          type="button"
          className="button"
          disabled={ping.isPending || create.isPending}
          onClick={() => {
            if (valid()) ping.mutate();
          }}
        >
          {ping.isPending ? 'Testing…' : 'Test connection'}
        </button>
      </div>
      {ping.isSuccess ? (
        <p className="hint" role="status">
          Connection succeeded: the scanner answered.
        </p>
      ) : null}
      {ping.isError ? (
        <p className="form-error" role="alert">
          {errorText(ping.error, 'reach the scanner')}
        </p>
      ) : null}
    </FormDialog>
  );
}
