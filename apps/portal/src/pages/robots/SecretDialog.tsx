import { useId } from 'react';
import { CopyButton } from '../../components/CopyButton.js';
import { Modal } from '../../components/Modal.js';
import { secretFileContent, secretFileName } from './robot-model.js';
import styles from './robots.module.css';

export interface SecretDialogProps {
  /** The robot's login name, `robot$project+name`. */
  name: string;
  secret: string;
  /** "Robot account created" or "New secret". */
  title: string;
  onClose: () => void;
}

/** Saves the robot's name and secret as a JSON file, as Harbor's portal does ("Export to file"). */
export function downloadSecret(name: string, secret: string): void {
  const blob = new Blob([secretFileContent(name, secret)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = secretFileName(name);
  link.rel = 'noopener';
  link.style.display = 'none';
  document.body.appendChild(link);
  try {
    link.click();
  } finally {
    link.remove();
    // The click has handed the blob to the browser's download; it may go once the event is done.
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }
}

/**
 * A robot's secret, shown once: Wharf keeps only a hash, so this is the only time anyone sees it. Offers Copy and
 * Download, and says plainly that it will not be shown again.
 */
export function SecretDialog({ name, secret, title, onClose }: SecretDialogProps) {
  const nameId = useId();
  const secretId = useId();
  return (
    <Modal
      title={title}
      onClose={onClose}
      // The secret exists nowhere else: a stray Escape or click outside must not throw it away.
      explicitClose
      footer={
        <button type="button" className="button button-primary" onClick={onClose}>
          Close
        </button>
      }
    >
      <div className={styles.secretBox}>
        <p className={styles.warning} role="alert">
          Copy or download the secret now. It will not be shown again: Wharf keeps no copy of it.
        </p>
        <div className="field">
          <label htmlFor={nameId}>Name</label>
          <div className={styles.secretRow}>
            <input id={nameId} type="text" readOnly value={name} className={styles.secretValue} />
            <CopyButton text={name} label="Copy" />
          </div>
        </div>
        <div className="field">
          <label htmlFor={secretId}>Secret</label>
          <div className={styles.secretRow}>
            <input
              id={secretId}
              type="text"
              readOnly
              value={secret}
              className={styles.secretValue}
              autoComplete="off"
              spellCheck={false}
              onFocus={(e) => e.currentTarget.select()}
            />
            <CopyButton text={secret} label="Copy" />
          </div>
        </div>
        <div>
          <button type="button" className="button" onClick={() => downloadSecret(name, secret)}>
            Download
          </button>{' '}
          <span className="hint">saves {secretFileName(name)} with the name and the secret</span>
        </div>
      </div>
    </Modal>
  );
}
