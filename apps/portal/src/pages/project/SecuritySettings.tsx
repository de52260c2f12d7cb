import { type FormEvent, useId, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { projectKey } from '../../api/project.js';
import { type Project } from '../../api/types.js';
import { useToast } from '../../components/Toast.js';
import { errorText } from '../../lib/errors.js';
import {
  PREVENT_SEVERITIES,
  type SecurityFields,
  parseCveIds,
  sameFields,
  securityFieldsOf,
  securityUpdate,
} from './security.js';

function Check({
  id,
  label,
  checked,
  disabled,
  hint,
  onChange,
}: {
  id: string;
  label: string;
  checked: boolean;
  disabled: boolean;
  hint: string;
  onChange: (checked: boolean) => void;
}) {
  return (
    <>
      <div className="field field-inline">
        <input
          id={id}
          type="checkbox"
          checked={checked}
          disabled={disabled}
          aria-describedby={`${id}-hint`}
          onChange={(e) => onChange(e.target.checked)}
        />
        <label htmlFor={id}>{label}</label>
      </div>
      <p id={`${id}-hint`} className="hint">
        {hint}
      </p>
    </>
  );
}

/**
 * A project's deployment security and vulnerability scanning: content trust, the vulnerability gate with its
 * severity, scan on push, and the CVE allowlist (the system's or the project's own, with its expiry). One Save.
 */
export function SecuritySettings({ project, mayEdit }: { project: Project; mayEdit: boolean }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const toast = useToast();
  const id = String(project.project_id);
  const saved = securityFieldsOf(project);
  const [fields, setFields] = useState<SecurityFields>(saved);
  const [cveText, setCveText] = useState('');
  const [invalid, setInvalid] = useState<string[]>([]);
  const ids = {
    cosign: useId(),
    notation: useId(),
    prevent: useId(),
    severity: useId(),
    autoScan: useId(),
    system: useId(),
    own: useId(),
    cve: useId(),
    never: useId(),
    expires: useId(),
  };
  const disabled = !mayEdit;

  const systemAllowlist = useQuery({
    queryKey: ['system', 'cve-allowlist'],
    enabled: fields.reuseSystemAllowlist,
    queryFn: async () => unwrap(await api.GET('/api/v2.0/system/CVEAllowlist')),
  });

  const save = useMutation({
    mutationFn: async (value: SecurityFields) =>
      unwrap(
        await api.PUT('/api/v2.0/projects/{project_name_or_id}', {
          params: { path: { project_name_or_id: id } },
          body: securityUpdate(value),
        }),
      ),
    onSuccess: async () => {
      toast.success(`The security settings of ${project.name} are saved.`);
      await queryClient.invalidateQueries({ queryKey: projectKey(id) });
    },
  });

  function set<K extends keyof SecurityFields>(key: K, value: SecurityFields[K]) {
    setFields((previous) => ({ ...previous, [key]: value }));
  }

  function addCves() {
    const parsed = parseCveIds(cveText, fields.cves);
    setInvalid(parsed.invalid);
    if (parsed.invalid.length > 0) return;
    set('cves', [...fields.cves, ...parsed.ids]);
    setCveText('');
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    save.mutate(fields);
  }

  const unchanged = sameFields(fields, saved);

  return (
    <div className="section">
      <form className="form" onSubmit={submit} aria-labelledby={`${ids.cosign}-title`}>
        <h3 id={`${ids.cosign}-title`}>Deployment security</h3>
        <Check
          id={ids.cosign}
          label="Cosign: allow only verified images to be deployed"
          checked={fields.cosign}
          disabled={disabled}
          hint="Pulls of an image without a cosign signature (verified against the trusted keys, when the project has any) are refused."
          onChange={(value) => set('cosign', value)}
        />
        <Check
          id={ids.notation}
          label="Notation: allow only verified images to be deployed"
          checked={fields.notation}
          disabled={disabled}
          hint="Pulls of an image without a notation signature are refused."
          onChange={(value) => set('notation', value)}
        />
        <Check
          id={ids.prevent}
          label="Prevent vulnerable images from running"
          checked={fields.preventVul}
          disabled={disabled}
          hint="Pulls of an image with a vulnerability of the chosen severity or worse, not on the allowlist, are refused."
          onChange={(value) => set('preventVul', value)}
        />
        <div className="field">
          <label htmlFor={ids.severity}>Prevent images with vulnerabilities of severity and above</label>
          <select
            id={ids.severity}
            value={fields.severity}
            disabled={disabled || !fields.preventVul}
            onChange={(e) => set('severity', e.target.value)}
          >
            {PREVENT_SEVERITIES.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </div>

        <h3>Vulnerability scanning</h3>
        <Check
          id={ids.autoScan}
          label="Automatically scan images on push"
          checked={fields.autoScan}
          disabled={disabled}
          hint="Every image pushed to the project is scanned with the project's scanner."
          onChange={(value) => set('autoScan', value)}
        />

        <h3>CVE allowlist</h3>
        <p className="hint">
          The vulnerabilities listed here do not count when deciding whether an image may be pulled.
        </p>
        <fieldset className="field" disabled={disabled}>
          <legend className="visually-hidden">Which allowlist</legend>
          <div className="field field-inline">
            <input
              id={ids.system}
              type="radio"
              name={ids.system}
              checked={fields.reuseSystemAllowlist}
              onChange={() => set('reuseSystemAllowlist', true)}
            />
            <label htmlFor={ids.system}>Use the system allowlist</label>
          </div>
          <div className="field field-inline">
            <input
              id={ids.own}
              type="radio"
              name={ids.system}
              checked={!fields.reuseSystemAllowlist}
              onChange={() => set('reuseSystemAllowlist', false)}
            />
            <label htmlFor={ids.own}>Use the project allowlist</label>
          </div>
        </fieldset>
        {fields.reuseSystemAllowlist ? (
          systemAllowlist.isSuccess ? (
            <p className="hint">
              System allowlist:{' '}
              {systemAllowlist.data.items?.length
                ? systemAllowlist.data.items.map((item) => item.cve_id).join(', ')
                : 'empty'}
              .
            </p>
          ) : null
        ) : (
          <>
            {fields.cves.length === 0 ? (
              <p className="hint">The project allowlist is empty.</p>
            ) : (
              <ul className="chips" aria-label="Project allowlist">
                {fields.cves.map((cve) => (
                  <li key={cve} className="chip">
                    <span>{cve}</span>
                    {mayEdit ? (
                      <button
                        type="button"
                        className="button-link"
                        aria-label={`Remove ${cve}`}
                        onClick={() =>
                          set(
                            'cves',
                            fields.cves.filter((c) => c !== cve),
                          )
                        }
                      >
                        ×
                      </button>
                    ) : null}
                  </li>
                ))}
              </ul>
            )}
            {mayEdit ? (
              <div className="field">
                <label htmlFor={ids.cve}>CVE ids to add</label>
                <div className="field-inline">
                  <input
                    id={ids.cve}
                    value={cveText}
                    placeholder="CVE-2024-3094, CVE-2023-4863"
                    autoComplete="off"
                    aria-invalid={invalid.length > 0 ? true : undefined}
                    aria-describedby={invalid.length > 0 ? `${ids.cve}-error` : undefined}
                    onChange={(e) => setCveText(e.target.value)}
                    onKeyDown={(e) => {
                      if (e.key === 'Enter') {
                        e.preventDefault();
                        addCves();
                      }
                    }}
                  />
                  <button type="button" className="button" disabled={!cveText.trim()} onClick={addCves}>
                    Add
                  </button>
                </div>
                {invalid.length > 0 ? (
                  <p className="field-error" id={`${ids.cve}-error`} role="alert">
                    Not a CVE id: {invalid.join(', ')}.
                  </p>
                ) : null}
              </div>
            ) : null}
            <div className="field field-inline">
              <input
                id={ids.never}
                type="checkbox"
                checked={fields.expiresOn === ''}
                disabled={disabled}
                onChange={(e) => {
                  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
                  set('expiresOn', e.target.checked ? '' : tomorrow);
                }}
              />
              <label htmlFor={ids.never}>Never expires</label>
            </div>
            {fields.expiresOn !== '' ? (
              <div className="field">
                <label htmlFor={ids.expires}>Expires on</label>
                <input
                  id={ids.expires}
                  type="date"
                  value={fields.expiresOn}
                  disabled={disabled}
                  required
                  onChange={(e) => {
                    // A cleared date keeps the last one: "Never expires" is the way to drop the expiry.
                    if (e.target.value) set('expiresOn', e.target.value);
                  }}
                />
              </div>
            ) : null}
          </>
        )}
        {save.isError ? (
          <p className="form-error" role="alert">
            {errorText(save.error, 'save the security settings')}
          </p>
        ) : null}
        {mayEdit ? (
          <div className="form-actions">
            <button type="submit" className="button button-primary" disabled={save.isPending || unchanged}>
              {save.isPending ? 'Saving…' : 'Save security settings'}
            </button>
            <button
              type="button"
              className="button"
              disabled={save.isPending || unchanged}
              onClick={() => {
                setFields(saved);
                setInvalid([]);
              }}
            >
              Cancel
            </button>
          </div>
        ) : null}
      </form>
    </div>
  );
}
