/** Socket errors that say the other side was unreachable for a moment, not that the work is wrong. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * PostgreSQL SQLSTATEs that a second attempt can clear: connection failures (class 08), serialization failures and
 * deadlocks (40001, 40P01), too many connections (53300), and a server shutting down or restarting (57P01–57P03).
 */
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '53300', '57P01', '57P02', '57P03']);

function codeOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const code = (value as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Whether an error is worth another attempt: the database, Redis, storage or a remote was unreachable or busy.
 * Errors in the work itself (a bad row, a bug) fail at once, as retrying them only delays the report.
 */
export function isTransientError(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const code = codeOf(current);
    if (code && (TRANSIENT_NETWORK_CODES.has(code) || TRANSIENT_SQLSTATES.has(code) || code.startsWith('08')))
      return true;
    // TypeORM wraps the driver's error; the AWS SDK marks throttling and 5xx answers.
    if (typeof current !== 'object') break;
    const { driverError, $retryable, cause } = current as {
      driverError?: unknown;
      $retryable?: unknown;
      cause?: unknown;
    };
    if ($retryable) return true;
    current = driverError ?? cause;
  }
  return false;
}
