import { type FormEvent, type ReactNode, useId } from 'react';
import { Modal } from './Modal.js';

export interface FormDialogProps {
  title: string;
  /** Text of the submitting button, e.g. "OK". */
  submitLabel: string;
  /** Text of the submitting button while the form is being submitted; `${submitLabel}…` unless given. */
  busyLabel?: string;
  /** The form is being submitted: the buttons are disabled and the dialog does not close. */
  busy: boolean;
  /** Keeps the submitting button disabled, e.g. while nothing has been changed. */
  submitDisabled?: boolean;
  /** Error of the last submission, in words, shown below the fields. */
  error: string | null;
  onSubmit: (event: FormEvent<HTMLFormElement>) => void;
  onClose: () => void;
  /** The form's id, for a dialog that derives the ids of its fields from it. */
  formId?: string;
  /** Wider dialog for forms with many fields. */
  wide?: boolean;
  /** Leaves the browser's own validation off (the form checks its fields itself). */
  noValidate?: boolean;
  children: ReactNode;
}

/** A form in a dialog with Cancel and a submit button, its error in words, and busy state while it runs. */
export function FormDialog({
  title,
  submitLabel,
  busyLabel,
  busy,
  submitDisabled,
  error,
  onSubmit,
  onClose,
  formId,
  wide,
  noValidate = true,
  children,
}: FormDialogProps) {
  const ownId = useId();
  const id = formId ?? ownId;
  return (
    <Modal
      title={title}
      onClose={() => {
        if (!busy) onClose();
      }}
      wide={wide}
      footer={
        <>
          <button type="button" className="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" form={id} className="button button-primary" disabled={busy || submitDisabled}>
            {busy ? (busyLabel ?? `${submitLabel}…`) : submitLabel}
          </button>
        </>
      }
    >
      <form id={id} className="form" onSubmit={onSubmit} noValidate={noValidate}>
        {children}
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
      </form>
    </Modal>
  );
}
