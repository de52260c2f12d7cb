import { Inject, Injectable } from '@nestjs/common';
import { type Redis } from 'ioredis';
import { REDIS, REDIS_PREFIX } from '../constants.js';

export interface FailureRecord {
  failures: number;
  /** Epoch milliseconds of the last failure. */
  lastFailureAt: number;
}

/** Failed-login counters in Redis, shared by every server process; they expire on their own. */
@Injectable()
export class ThrottleRepository {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(REDIS_PREFIX) private readonly prefix: string,
  ) {}

  private key(kind: string, subject: string): string {
    return `${this.prefix}login-failures:${kind}:${subject}`;
  }

  async read(kind: string, subject: string): Promise<FailureRecord> {
    const [failures, last] = await this.redis.hmget(this.key(kind, subject), 'failures', 'last');
    return { failures: Number(failures ?? 0), lastFailureAt: Number(last ?? 0) };
  }

  async recordFailure(kind: string, subject: string, windowMs: number, now: number): Promise<void> {
    const key = this.key(kind, subject);
    await this.redis.multi().hincrby(key, 'failures', 1).hset(key, 'last', String(now)).pexpire(key, windowMs).exec();
  }

  async clear(kind: string, subject: string): Promise<void> {
    await this.redis.del(this.key(kind, subject));
  }
}
