const UNIT = 1024;
const PREFIXES = 'KMGTPE';

/**
 * A byte count the way Harbor prints storage in its quota messages: `512 B`, `1.0 KiB`, `2.5 MiB`, … (binary units,
 * one decimal), so a refusal reads the same as Harbor's and scripts matching its wording keep working.
 */
export function formatStorageSize(bytes: number): string {
  if (bytes < UNIT) return `${bytes} B`;
  let divisor = UNIT;
  let exponent = 0;
  for (let n = Math.floor(bytes / UNIT); n >= UNIT && exponent < PREFIXES.length - 1; n = Math.floor(n / UNIT)) {
    divisor *= UNIT;
    exponent += 1;
  }
  return `${(bytes / divisor).toFixed(1)} ${PREFIXES[exponent]}iB`;
}

/** Harbor's wording for a push that would take a project past its storage limit. */
export function quotaExceededMessage(adding: number, used: number, limit: number): string {
  return (
    `Quota exceeded when processing the request of adding ${formatStorageSize(adding)} of storage resource, ` +
    `which when updated to current usage of ${formatStorageSize(used)} will exceed the configured upper limit of ` +
    `${formatStorageSize(limit)}.`
  );
}
