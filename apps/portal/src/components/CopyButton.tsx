import { useEffect, useRef, useState } from 'react';

export interface CopyButtonProps {
  /** The text that goes to the clipboard. */
  text: string;
  /** Visible text of the button; "Copy" by default. */
  label?: string;
  /** Accessible name when the visible label is not enough, e.g. "Copy pull command for v1.2". */
  ariaLabel?: string;
  className?: string;
}

async function writeClipboard(text: string): Promise<boolean> {
  try {
    // Browsers offer navigator.clipboard on secure pages only (https, localhost).
    if (typeof navigator.clipboard?.writeText === 'function') {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // Denied or unavailable: fall through to the older way.
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  try {
    return document.execCommand('copy');
  } catch {
    return false;
  } finally {
    area.remove();
  }
}

/**
 * Copies `text` to the clipboard and says "Copied". Where the browser allows no clipboard access (plain http, a
 * denied permission), it shows the text selected in a field so the user can copy it by hand.
 */
export function CopyButton({ text, label = 'Copy', ariaLabel, className }: CopyButtonProps) {
  const [state, setState] = useState<'idle' | 'copied' | 'manual'>('idle');
  const field = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (state === 'copied') {
      const timer = setTimeout(() => setState('idle'), 2000);
      return () => clearTimeout(timer);
    }
    if (state === 'manual') field.current?.select();
    return undefined;
  }, [state]);

  return (
    <span className="copy">
      <button
        type="button"
        className={className ?? 'button button-small'}
        aria-label={ariaLabel}
        onClick={() => void writeClipboard(text).then((ok) => setState(ok ? 'copied' : 'manual'))}
      >
        {state === 'copied' ? 'Copied' : label}
      </button>
      {state === 'copied' ? (
        <span className="visually-hidden" role="status">
          Copied to the clipboard
        </span>
      ) : null}
      {state === 'manual' ? (
        <span className="copy-manual">
          <label>
            <span className="visually-hidden">Text to copy</span>
            <input
              ref={field}
              readOnly
              value={text}
              onBlur={() => setState('idle')}
              onFocus={(e) => e.currentTarget.select()}
            />
          </label>
          <span className="hint">Press Ctrl+C (⌘C) to copy</span>
        </span>
      ) : null}
    </span>
  );
}
