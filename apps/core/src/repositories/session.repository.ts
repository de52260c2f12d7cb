import { Inject, Injectable } from '@nestjs/common';
import { type Redis } from 'ioredis';
import { REDIS, REDIS_PREFIX } from '../constants.js';
import { redisCall } from '../errors/unavailable.js';

export interface SessionRecord {
  userId: number;
  /** Epoch milliseconds. */
  createdAt: number;
}

/**
 * Portal sessions in Redis, so any server process can serve any request; each expires when left idle. While Redis is
 * away no session can be read or made: such requests fail with RedisUnavailableError (503), logins by basic
 * credentials go on.
 */
@Injectable()
export class SessionRepository {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(REDIS_PREFIX) private readonly prefix: string,
  ) {}

  private key(id: string): string {
    return `${this.prefix}session:${id}`;
  }

  private userKey(userId: number): string {
    return `${this.prefix}user-sessions:${userId}`;
  }

  async create(id: string, record: SessionRecord, ttlMs: number, maxAgeMs: number): Promise<void> {
    const userKey = this.userKey(record.userId);
    await redisCall(() =>
      this.redis
        .multi()
        .set(this.key(id), JSON.stringify(record), 'PX', ttlMs)
        .sadd(userKey, id)
        .pexpire(userKey, maxAgeMs)
        .exec(),
    );
  }

  /** The session, its idle timeout restarted; undefined when it expired or never existed. */
  async touch(id: string, ttlMs: number): Promise<SessionRecord | undefined> {
    const value = await redisCall(() => this.redis.getex(this.key(id), 'PX', ttlMs));
    if (value === null) return undefined;
    return JSON.parse(value) as SessionRecord;
  }

  async delete(id: string, userId: number): Promise<void> {
    await redisCall(() => this.redis.multi().del(this.key(id)).srem(this.userKey(userId), id).exec());
  }

  /** Ends every session of a user: after a password change or when the user is deleted. */
  async deleteForUser(userId: number): Promise<void> {
    const userKey = this.userKey(userId);
    const ids = await redisCall(() => this.redis.smembers(userKey));
    await redisCall(() =>
      this.redis
        .multi()
        .del(userKey, ...ids.map((id) => this.key(id)))
        .exec(),
    );
  }
}
