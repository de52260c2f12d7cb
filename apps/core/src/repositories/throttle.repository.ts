import { Inject, Injectable, Logger } from '@nestjs/common';
import { type Redis } from 'ioredis';
import { REDIS, REDIS_PREFIX } from '../constants.js';
import { redisCall } from '../errors/unavailable.js';

export interface FailureRecord {
  failures: number;
  /** Epoch milliseconds of the last failure. */
  lastFailureAt: number;
  /**
   * False when Redis could not be asked and the count is this process's own: other processes' failures are missing
   * from it, and the caller should throttle harder.
   */
  shared: boolean;
}

interface LocalRecord {
  failures: number;
  lastFailureAt: number;
  expiresAt: number;
}

/** Counters a process keeps for itself at most; the oldest go first (a guesser cannot grow the map without end). */
const MAX_LOCAL_RECORDS = 50_000;

/**
 * Failed-login counters in Redis, shared by every server process; they expire on their own. Each process also
 * counts the failures it sees itself, so that while Redis is unreachable logins are still checked (against
 * PostgreSQL) and still throttled, by this process's own counts.
 */
@Injectable()
export class ThrottleRepository {
  private readonly logger = new Logger(ThrottleRepository.name);
  private readonly local = new Map<string, LocalRecord>();

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(REDIS_PREFIX) private readonly prefix: string,
  ) {}

  private key(kind: string, subject: string): string {
    return `${this.prefix}login-failures:${kind}:${subject}`;
  }

  async read(kind: string, subject: string): Promise<FailureRecord> {
    const key = this.key(kind, subject);
    try {
      const [failures, last] = await redisCall(() => this.redis.hmget(key, 'failures', 'last'));
      return { failures: Number(failures ?? 0), lastFailureAt: Number(last ?? 0), shared: true };
    } catch (error) {
      this.warn(error);
      const record = this.localRecord(key, Date.now());
      return { failures: record?.failures ?? 0, lastFailureAt: record?.lastFailureAt ?? 0, shared: false };
    }
  }

  async recordFailure(kind: string, subject: string, windowMs: number, now: number): Promise<void> {
    const key = this.key(kind, subject);
    const record = this.localRecord(key, now) ?? { failures: 0, lastFailureAt: 0, expiresAt: 0 };
    this.local.delete(key);
    if (this.local.size >= MAX_LOCAL_RECORDS) {
      const oldest = this.local.keys().next();
      if (!oldest.done) this.local.delete(oldest.value);
    }
    this.local.set(key, { failures: record.failures + 1, lastFailureAt: now, expiresAt: now + windowMs });
    try {
      await redisCall(() =>
        this.redis.multi().hincrby(key, 'failures', 1).hset(key, 'last', String(now)).pexpire(key, windowMs).exec(),
      );
    } catch (error) {
      this.warn(error);
    }
  }

  async clear(kind: string, subject: string): Promise<void> {
    const key = this.key(kind, subject);
    this.local.delete(key);
    try {
      await redisCall(() => this.redis.del(key));
    } catch (error) {
      this.warn(error);
    }
  }

  private localRecord(key: string, now: number): LocalRecord | undefined {
    const record = this.local.get(key);
    if (record && record.expiresAt <= now) {
      this.local.delete(key);
      return undefined;
    }
    return record;
  }

  private lastWarning = 0;

  private warn(error: unknown): void {
    // Once a minute at most: every login would repeat it while Redis is away.
    if (Date.now() - this.lastWarning < 60_000) return;
    this.lastWarning = Date.now();
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    this.logger.warn(`Redis unavailable, login throttling counts in this process only: ${(cause as Error).message}`);
  }
}
