/** The schedules the portal offers; Custom takes a 6-field cron (seconds first), as Harbor's. */
export type ScheduleKind = 'none' | 'hourly' | 'daily' | 'weekly' | 'custom';

export const SCHEDULE_CRON: Record<Exclude<ScheduleKind, 'none' | 'custom'>, string> = {
  hourly: '0 0 * * * *',
  daily: '0 0 0 * * *',
  weekly: '0 0 0 * * 0',
};

export const SCHEDULE_LABELS: Record<ScheduleKind, string> = {
  none: 'None',
  hourly: 'Hourly',
  daily: 'Daily',
  weekly: 'Weekly',
  custom: 'Custom',
};

/** Which schedule a stored cron is: '' is none, the presets by their cron, anything else custom. */
export function scheduleKind(cron: string): ScheduleKind {
  if (!cron.trim()) return 'none';
  const preset = (Object.keys(SCHEDULE_CRON) as (keyof typeof SCHEDULE_CRON)[]).find(
    (kind) => SCHEDULE_CRON[kind] === cron.trim().replace(/\s+/g, ' '),
  );
  return preset ?? 'custom';
}

/** The cron a schedule choice stores. */
export function cronOf(kind: ScheduleKind, custom: string): string {
  if (kind === 'none') return '';
  if (kind === 'custom') return custom.trim().replace(/\s+/g, ' ');
  return SCHEDULE_CRON[kind];
}

/** A sentence about a custom cron that cannot be right; the server checks the rest. */
export function cronProblem(cron: string): string | undefined {
  if (cron.split(' ').filter(Boolean).length !== 6) {
    return 'Enter a cron with 6 fields: seconds, minutes, hours, day of month, month, day of week (as "0 0 3 * * *").';
  }
  return undefined;
}

/** The schedule in words, for the read-only view. */
export function scheduleText(cron: string): string {
  const kind = scheduleKind(cron);
  if (kind === 'none') return 'None';
  if (kind === 'custom') return `Custom (${cron})`;
  return `${SCHEDULE_LABELS[kind]} (${cron})`;
}
