import { isDatabaseUnavailable } from '@wharf/db';
import { ReplyError } from 'ioredis';

/** What a 503 asks a client to wait: a database restart takes a few seconds, Redis comes back on its own. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** Redis could not be reached (down, restarting, not answering in time): a dependency missing, not a bug. */
export class RedisUnavailableError extends Error {
  constructor(cause: unknown) {
    super('Redis is unavailable', { cause });
    this.name = 'RedisUnavailableError';
  }
}

/**
 * Runs a Redis command, turning a failure to reach Redis into RedisUnavailableError. An error Redis itself answered
 * (a ReplyError) is a bug, and stays what it is.
 */
export async function redisCall<T>(command: () => Promise<T>): Promise<T> {
  try {
    return await command();
  } catch (error) {
    if (error instanceof ReplyError) throw error;
    throw new RedisUnavailableError(error);
  }
}

/** Whether a request failed because PostgreSQL or Redis is away, so that it is answered 503 with Retry-After. */
export function isDependencyUnavailable(error: unknown): boolean {
  return error instanceof RedisUnavailableError || isDatabaseUnavailable(error);
}
