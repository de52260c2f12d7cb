import { type FormEvent, useId, useState } from 'react';
import { unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { FormDialog } from '../../components/FormDialog.js';
import { CREDENTIAL_RULE, passwordProblem as credentialProblem } from '../../lib/validation.js';
import { errorText } from '../../lib/errors.js';
import { type Robot } from './robot-model.js';
import styles from './robots.module.css';

export interface RefreshSecretDialogProps {
  robot: Robot;
  onClose: () => void;
  /** A generated secret, to show once. */
  onGenerated: (secret: string) => void;
  /** The user chose the secret themselves (the server does not echo it). */
  onChosen: () => void;
}

/**
 * Replaces a robot's secret (PATCH /robots/{id}): with one Wharf generates and shows once, or with one the user
 * types, which must pass the password rule. The old secret stops working at once.
 */
export function RefreshSecretDialog({ robot, onClose, onGenerated, onChosen }: RefreshSecretDialogProps) {
  const api = useApi();
  const formId = useId();
  const ids = { secret: useId(), confirm: useId() };
  const [mode, setMode] = useState<'generate' | 'choose'>('generate');
  const [secret, setSecret] = useState('');
  const [confirm, setConfirm] = useState('');
  const [submitted, setSubmitted] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const secretProblem = mode === 'choose' ? credentialProblem(secret, 'secret') : undefined;
  const confirmProblem = mode === 'choose' && confirm !== secret ? 'The two secrets are not the same.' : undefined;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSubmitted(true);
    setError(null);
    if (secretProblem || confirmProblem) return;
    setBusy(true);
    try {
      const answer = unwrap(
        await api.PATCH('/api/v2.0/robots/{robot_id}', {
          params: { path: { robot_id: String(robot.id) } },
          body: mode === 'choose' ? { secret } : {},
        }),
      );
      if (mode === 'choose') onChosen();
      else if (answer.secret) onGenerated(answer.secret);
      else throw new Error('Wharf did not answer the new secret');
      onClose();
    } catch (failure) {
      setError(errorText(failure, 'refresh the secret'));
      setBusy(false);
    }
  }

  return (
    <FormDialog
      title={`Refresh secret of ${robot.name}`}
      submitLabel="Refresh secret"
      busyLabel="Refreshing…"
      formId={formId}
      onClose={onClose}
      onSubmit={(e) => void submit(e)}
      error={error}
      busy={busy}
    >
      <p>The current secret stops working at once; clients using it must be given the new one.</p>
      <fieldset className={styles.radioGroup}>
        <legend>New secret</legend>
        <div className="field-inline">
          <input
            id={`${formId}-generate`}
            type="radio"
            name={`${formId}-mode`}
            checked={mode === 'generate'}
            onChange={() => setMode('generate')}
          />
          <label htmlFor={`${formId}-generate`}>Generate a new secret</label>
        </div>
        <div className="field-inline">
          <input
            id={`${formId}-choose`}
            type="radio"
            name={`${formId}-mode`}
            checked={mode === 'choose'}
            onChange={() => setMode('choose')}
          />
          <label htmlFor={`${formId}-choose`}>Type the new secret</label>
        </div>
      </fieldset>
      {mode === 'choose' ? (
        <>
          <div className="field">
            <label htmlFor={ids.secret}>Secret</label>
            <input
              id={ids.secret}
              type="password"
              autoComplete="new-password"
              value={secret}
              aria-invalid={submitted && secretProblem ? true : undefined}
              aria-describedby={`${ids.secret}-policy`}
              onChange={(e) => setSecret(e.target.value)}
            />
            <span className="hint" id={`${ids.secret}-policy`}>
              {CREDENTIAL_RULE}
            </span>
            {submitted && secretProblem ? (
              <p className="field-error" role="alert">
                {secretProblem}
              </p>
            ) : null}
          </div>
          <div className="field">
            <label htmlFor={ids.confirm}>Confirm secret</label>
            <input
              id={ids.confirm}
              type="password"
              autoComplete="new-password"
              value={confirm}
              aria-invalid={submitted && confirmProblem ? true : undefined}
              onChange={(e) => setConfirm(e.target.value)}
            />
            {submitted && confirmProblem ? (
              <p className="field-error" role="alert">
                {confirmProblem}
              </p>
            ) : null}
          </div>
        </>
      ) : null}
    </FormDialog>
  );
}
