import { useEffect, useState } from 'react';

const TYPING_PAUSE_MS = 250;

/** Text typed by the user, settled after a short pause, so that a search does not run on every key. */
export function useSettled(value: string, delay = TYPING_PAUSE_MS): string {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delay);
    return () => clearTimeout(timer);
  }, [value, delay]);
  return settled;
}
