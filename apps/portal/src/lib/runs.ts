/** How long a run took, "1 min 5 s" or "0.4 s"; up to now while it runs; "—" before it started. */
export function durationText(start: string, end: string, now = Date.now()): string {
  const from = Date.parse(start);
  if (!start || Number.isNaN(from) || from <= 0) return '—';
  const until = end && Date.parse(end) > 0 ? Date.parse(end) : now;
  const ms = Math.max(0, until - from);
  if (ms < 10_000) return `${Math.round(ms / 100) / 10} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return seconds >= 60 ? `${Math.floor(seconds / 60)} min ${seconds % 60} s` : `${seconds} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

/** Whether a run or task may still change: it is waiting or running. */
export function isUnfinished(status: string): boolean {
  return status === 'Pending' || status === 'Running' || status === 'Scheduled';
}

/** The badge tone of a run's or task's status. */
export function statusTone(status: string): 'neutral' | 'info' | 'success' | 'warning' | 'danger' {
  if (status === 'Success') return 'success';
  if (status === 'Error') return 'danger';
  if (status === 'Stopped') return 'warning';
  if (isUnfinished(status)) return 'info';
  return 'neutral';
}

/** Harbor's trigger names in words: MANUAL → Manual, SCHEDULE → Schedule. */
export function triggerText(trigger: string): string {
  return trigger ? trigger.charAt(0).toUpperCase() + trigger.slice(1).toLowerCase() : '—';
}

/** How often a list of runs (or an open log) is asked again while a run in it is unfinished. */
export const POLL_MS = 2000;

/** TanStack Query's `refetchInterval` for a page of runs: every 2 s while one of them is unfinished, else never. */
export function pollWhileUnfinished<T>(statusOf: (item: T) => string) {
  return (query: { state: { data?: { items: T[] } | undefined } }): number | false =>
    query.state.data?.items.some((item) => isUnfinished(statusOf(item))) ? POLL_MS : false;
}
