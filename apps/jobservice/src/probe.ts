import { hostname } from 'node:os';
import { type WharfConfig, redisConnection } from '@wharf/config';
import { Redis } from 'ioredis';
import { type Heartbeat, heartbeatKey, parseHeartbeat, readHeartbeats } from '@wharf/jobs';

const PROBE_TIMEOUT_MS = 5_000;

/** This machine's name as heartbeat keys spell it. */
export function localHeartbeatHost(): string {
  return hostname().replace(/[^A-Za-z0-9._-]/g, '_');
}

async function withRedis<T>(config: WharfConfig, db: number, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({
    ...redisConnection(config, db),
    lazyConnect: true,
    connectTimeout: PROBE_TIMEOUT_MS,
    commandTimeout: PROBE_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // Failures surface through the commands; the event would otherwise be reported as unhandled.
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

/** Whether Redis answers PING with these settings (the core database index). Throws with the reason if not. */
export async function probeRedis(config: WharfConfig): Promise<void> {
  await withRedis(config, config.redis.coreDb, async (redis) => {
    const answer: string = await redis.ping();
    if (answer !== 'PONG') throw new Error(`unexpected answer to PING: ${answer}`);
  });
}

/**
 * The live heartbeats of jobservice processes: the one of `pid` on this host when given, otherwise every one found.
 */
export async function probeJobService(config: WharfConfig, pid?: number): Promise<Heartbeat[]> {
  return withRedis(config, config.redis.jobserviceDb, async (redis) => {
    if (pid !== undefined) {
      const beat = parseHeartbeat(await redis.get(heartbeatKey(localHeartbeatHost(), pid)));
      return beat ? [beat] : [];
    }
    return readHeartbeats(redis);
  });
}
