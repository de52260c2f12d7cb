import { useEffect, useId, useRef, useState } from 'react';

export interface SearchBoxProps {
  /** The visible label: "Search projects". */
  label: string;
  /** The search in force (from the address). */
  value: string;
  /** Called with the new text after the user stops typing for a moment, or at once on Enter. */
  onSearch: (text: string) => void;
  placeholder?: string;
  delayMs?: number;
}

/** A labelled search field that searches as the user types (debounced). */
export function SearchBox({ label, value, onSearch, placeholder, delayMs = 300 }: SearchBoxProps) {
  const id = useId();
  const [text, setText] = useState(value);
  const [synced, setSynced] = useState(value);
  const latest = useRef(onSearch);

  // The address can change under the field (back button, a link): follow it.
  if (value !== synced) {
    setSynced(value);
    setText(value);
  }

  useEffect(() => {
    latest.current = onSearch;
  }, [onSearch]);

  useEffect(() => {
    if (text.trim() === value) return undefined;
    const timer = setTimeout(() => latest.current(text.trim()), delayMs);
    return () => clearTimeout(timer);
  }, [text, value, delayMs]);

  return (
    <div className="field search">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="search"
        value={text}
        placeholder={placeholder}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter') {
            e.preventDefault();
            onSearch(text.trim());
          }
        }}
      />
    </div>
  );
}
