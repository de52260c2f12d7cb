import { useId, useState, type FormEvent } from 'react';
import { useMutation } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { FormDialog } from '../../components/FormDialog.js';
import { errorText } from '../../lib/errors.js';
import { STORAGE_UNITS, toBytes, type StorageUnit } from '../../lib/format.js';
import { projectNameProblem } from '../../lib/validation.js';

/** A storage limit typed by the user: bytes, -1 for no limit, or a message saying what is wrong. */
export function parseStorageLimit(amount: string, unit: StorageUnit): { bytes: number } | { problem: string } {
  const text = amount.trim();
  if (text === '' || text === '-1') return { bytes: -1 };
  if (!/^\d+(\.\d+)?$/.test(text)) {
    return { problem: 'The storage limit must be a positive number, or blank (or -1) for no limit.' };
  }
  const bytes = toBytes(Number(text), unit);
  if (bytes <= 0) return { problem: 'The storage limit must be more than zero, or blank (or -1) for no limit.' };
  if (bytes > 1024 ** 5) return { problem: 'The storage limit must be at most 1024 TiB.' };
  return { bytes };
}

export function CreateProjectDialog({
  onClose,
  onCreated,
}: {
  onClose: () => void;
  onCreated: (name: string) => void;
}) {
  const api = useApi();
  const ids = { name: useId(), limit: useId(), unit: useId(), isPublic: useId() };
  const [name, setName] = useState('');
  const [isPublic, setIsPublic] = useState(false);
  const [limit, setLimit] = useState('');
  const [unit, setUnit] = useState<StorageUnit>('GiB');
  const [checked, setChecked] = useState(false);

  const nameProblem = projectNameProblem(name.trim());
  const storage = parseStorageLimit(limit, unit);
  const limitProblem = 'problem' in storage ? storage.problem : undefined;

  const create = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST('/api/v2.0/projects', {
          body: {
            project_name: name.trim(),
            metadata: { public: isPublic ? 'true' : 'false' },
            storage_limit: 'bytes' in storage ? storage.bytes : -1,
          },
        }),
      ),
    onSuccess: () => onCreated(name.trim()),
  });

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setChecked(true);
    if (nameProblem || limitProblem) return;
    create.mutate();
  }

  const formId = `${ids.name}-form`;
  return (
    <FormDialog
      title="New project"
      submitLabel="OK"
      busyLabel="Creating…"
      formId={formId}
      onClose={onClose}
      onSubmit={submit}
      error={create.isError ? errorText(create.error, 'create the project') : null}
      busy={create.isPending}
    >
      <div className="field">
        <label htmlFor={ids.name}>Project name</label>
        <input
          id={ids.name}
          type="text"
          autoComplete="off"
          autoCapitalize="off"
          spellCheck={false}
          value={name}
          aria-invalid={checked && nameProblem ? true : undefined}
          aria-describedby={`${ids.name}-help`}
          onChange={(e) => setName(e.target.value)}
        />
        {checked && nameProblem ? (
          <p id={`${ids.name}-help`} className="field-error">
            {nameProblem}
          </p>
        ) : (
          <span id={`${ids.name}-help`} className="hint">
            Lower-case letters, digits and . _ - ; starts with a letter or digit.
          </span>
        )}
      </div>
      <div className="field field-inline">
        <input id={ids.isPublic} type="checkbox" checked={isPublic} onChange={(e) => setIsPublic(e.target.checked)} />
        <label htmlFor={ids.isPublic}>Public</label>
        <span className="hint">Anyone can pull images from a public project.</span>
      </div>
      <div className="field">
        <label htmlFor={ids.limit}>Storage limit</label>
        <div className="field-row">
          <input
            id={ids.limit}
            type="text"
            inputMode="decimal"
            placeholder="No limit"
            value={limit}
            aria-invalid={checked && limitProblem ? true : undefined}
            aria-describedby={`${ids.limit}-help`}
            onChange={(e) => setLimit(e.target.value)}
          />
          <label htmlFor={ids.unit} className="visually-hidden">
            Unit
          </label>
          <select id={ids.unit} value={unit} onChange={(e) => setUnit(e.target.value as StorageUnit)}>
            {STORAGE_UNITS.map((u) => (
              <option key={u} value={u}>
                {u}
              </option>
            ))}
          </select>
        </div>
        {checked && limitProblem ? (
          <p id={`${ids.limit}-help`} className="field-error">
            {limitProblem}
          </p>
        ) : (
          <span id={`${ids.limit}-help`} className="hint">
            Leave blank or enter -1 for no limit.
          </span>
        )}
      </div>
    </FormDialog>
  );
}
