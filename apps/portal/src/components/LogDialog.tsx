import { type ReactNode } from 'react';
import { type UseQueryResult } from '@tanstack/react-query';
import { Modal } from './Modal.js';
import { QueryState } from './QueryState.js';

export interface LogDialogProps {
  title: string;
  /** The log's text, asked by the caller (which may ask again while the job runs). */
  log: UseQueryResult<string>;
  /** What loading it is, for error messages: "load the log of run 7". */
  action: string;
  /** Above the log, shown at once: the run's status. */
  intro?: ReactNode;
  /** Above the log, from its text: what the run says it did. */
  summary?: (log: string) => ReactNode;
  onClose: () => void;
}

/** A job's log, pre-formatted, in a wide dialog with "Close". */
export function LogDialog({ title, log, action, intro, summary, onClose }: LogDialogProps) {
  return (
    <Modal
      title={title}
      wide
      onClose={onClose}
      footer={
        <button type="button" className="button" onClick={onClose}>
          Close
        </button>
      }
    >
      {intro}
      <QueryState query={log} action={action}>
        {(text) => (
          <>
            {summary?.(text)}
            <pre className="log-view">{text || 'The log is empty.'}</pre>
          </>
        )}
      </QueryState>
    </Modal>
  );
}
