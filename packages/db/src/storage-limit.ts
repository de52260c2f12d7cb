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

/** The SQLSTATE the database raises when a push would take a project past its storage limit. */
export const STORAGE_LIMIT_SQLSTATE = 'WQ001';

/**
 * A change refused by the database because it would take a project past its storage limit: the check that runs in
 * the same transaction as the change, so two pushes that each fit but not together cannot both get in.
 */
export class StorageLimitExceededError extends Error {
  constructor(
    readonly adding: number,
    readonly used: number,
    readonly limit: number,
  ) {
    super(quotaExceededMessage(adding, used, limit));
    this.name = 'StorageLimitExceededError';
  }
}

/** The StorageLimitExceededError a database error stands for, if it is one. */
export function storageLimitErrorOf(error: unknown): StorageLimitExceededError | undefined {
  const e = error as { code?: unknown; detail?: unknown; driverError?: { code?: unknown; detail?: unknown } };
  const code = e?.driverError?.code ?? e?.code;
  if (code !== STORAGE_LIMIT_SQLSTATE) return undefined;
  const detail = e?.driverError?.detail ?? e?.detail;
  let parsed: { adding?: unknown; used?: unknown; limit?: unknown } = {};
  try {
    parsed = typeof detail === 'string' ? (JSON.parse(detail) as typeof parsed) : {};
  } catch {
    // The numbers below read as zero; the refusal itself stands.
  }
  return new StorageLimitExceededError(Number(parsed.adding ?? 0), Number(parsed.used ?? 0), Number(parsed.limit ?? 0));
}
