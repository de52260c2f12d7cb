import { useState, type ReactNode } from 'react';
import { errorText } from '../lib/errors.js';
import { Modal } from './Modal.js';

export interface ConfirmDialogProps {
  title: string;
  /** What will happen, in a sentence or two. */
  message: ReactNode;
  /** Text of the confirming button, e.g. "Delete". */
  confirmLabel?: string;
  /** A destructive action shows its button in red. */
  danger?: boolean;
  /** Keeps the confirming button disabled, e.g. while the message explains why the action cannot be done. */
  confirmDisabled?: boolean;
  /** What is being done, for error messages: "delete the project". */
  action?: string;
  /** Runs the change; the dialog stays open with the error in words when it throws, and closes when it succeeds. */
  onConfirm: () => Promise<unknown> | void;
  onClose: () => void;
}

export function ConfirmDialog({
  title,
  message,
  confirmLabel = 'OK',
  danger,
  confirmDisabled,
  action,
  onConfirm,
  onClose,
}: ConfirmDialogProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function confirm() {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      onClose();
    } catch (failure) {
      setError(errorText(failure, action));
      setBusy(false);
    }
  }

  return (
    <Modal
      title={title}
      onClose={() => {
        if (!busy) onClose();
      }}
      footer={
        <>
          <button type="button" className="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button
            type="button"
            className={danger ? 'button button-danger' : 'button button-primary'}
            onClick={() => void confirm()}
            disabled={busy || confirmDisabled}
          >
            {busy ? `${confirmLabel}…` : confirmLabel}
          </button>
        </>
      }
    >
      <div className="confirm-message">{message}</div>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </Modal>
  );
}
