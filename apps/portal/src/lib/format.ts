const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** A size in binary units: 1536 → "1.5 KiB", 12_900_000 → "12.3 MiB". Negative or non-finite sizes give "—". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${value} B`;
  const rounded = value >= 100 ? Math.round(value).toString() : (Math.round(value * 10) / 10).toString();
  return `${rounded} ${BYTE_UNITS[unit]}`;
}

/** Units for a storage limit, as the create-project and quota forms offer them. */
export const STORAGE_UNITS = ['MiB', 'GiB', 'TiB'] as const;
export type StorageUnit = (typeof STORAGE_UNITS)[number];

const UNIT_BYTES: Record<StorageUnit, number> = { MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };

/** Bytes for an amount of a unit (rounded to a whole byte). */
export function toBytes(amount: number, unit: StorageUnit): number {
  return Math.round(amount * UNIT_BYTES[unit]);
}

/** The largest unit that shows a limit as a whole number or a short decimal: 10 GiB → { amount: 10, unit: 'GiB' }. */
export function fromBytes(bytes: number): { amount: number; unit: StorageUnit } {
  for (const unit of [...STORAGE_UNITS].reverse()) {
    if (bytes >= UNIT_BYTES[unit]) return { amount: Math.round((bytes / UNIT_BYTES[unit]) * 100) / 100, unit };
  }
  return { amount: Math.round((bytes / UNIT_BYTES.MiB) * 100) / 100, unit: 'MiB' };
}

/** Harbor's "zero" time, used for something that never happened (e.g. an artifact never pulled). */
export function isZeroTime(value: string | null | undefined): boolean {
  if (!value) return true;
  const time = Date.parse(value);
  return Number.isNaN(time) || time <= 0;
}

/** A date and time in the user's locale, or `never` (default "never") for a missing or zero time. */
export function formatDate(value: string | null | undefined, never = 'never', locale?: string): string {
  if (isZeroTime(value)) return never;
  return new Date(value as string).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });
}

const RELATIVE_STEPS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 30],
  ['month', 12],
  ['year', Number.POSITIVE_INFINITY],
];

/** How long ago (or from now) a time is: "3 minutes ago", "yesterday". `now` is for tests. */
export function formatRelative(
  value: string | null | undefined,
  never = 'never',
  now: number = Date.now(),
  locale?: string,
): string {
  if (isZeroTime(value)) return never;
  let amount = (Date.parse(value as string) - now) / 1000;
  const format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  for (const [unit, size] of RELATIVE_STEPS) {
    if (Math.abs(amount) < size) return format.format(Math.round(amount), unit);
    amount /= size;
  }
  return format.format(Math.round(amount), 'year');
}

/** The first 12 hex digits of a digest after its algorithm: "sha256:0123456789ab". */
export function shortDigest(digest: string): string {
  const [algorithm, hex] = digest.split(':', 2);
  return hex ? `${algorithm}:${hex.slice(0, 12)}` : digest.slice(0, 19);
}
