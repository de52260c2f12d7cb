/** Socket errors that mean the server cannot be reached now, not that the request was wrong. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'EAI_AGAIN']);

/**
 * SQLSTATEs of a server that is going away or not there yet: class 08 (connection exception), and the shutdown,
 * crash and start-up states a restart passes through, and a full connection table.
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** What node-postgres and its pool say when a connection dies or cannot be had in time. */
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
];

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    chain.push(current);
    const { driverError, cause } = current as { driverError?: unknown; cause?: unknown };
    current = driverError ?? cause;
  }
  return chain;
}

/**
 * Whether a failure is PostgreSQL being unreachable (stopped, restarting, refusing connections, a connection cut),
 * as opposed to a failing statement: such a request may succeed when retried shortly, and its answer is 503, not 500.
 * TypeORM wraps the driver's error in `driverError`.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return causes(error).some((entry) => {
    const { code, message } = entry as { code?: unknown; message?: unknown };
    if (typeof code === 'string') {
      if (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
    }
    return typeof message === 'string' && UNAVAILABLE_MESSAGES.some((known) => message.startsWith(known));
  });
}
