import { type Redis } from 'ioredis';

/** Prefix of the Redis keys by which each running jobservice process says it is alive (in jobservice_db_index). */
export const HEARTBEAT_KEY_PREFIX = 'wharf:jobservice:heartbeat:';

/** What a jobservice process stores under its heartbeat key. */
export interface Heartbeat {
  host: string;
  pid: number;
  startedAt: string;
  /** When the process last checked PostgreSQL and Redis and found both answering. */
  beatAt: string;
  /** Job types this process runs. */
  jobTypes: string[];
}

export function heartbeatKey(host: string, pid: number): string {
  if (!/^[A-Za-z0-9._-]+$/.test(host))
    throw new Error(`invalid host name for a heartbeat key: ${JSON.stringify(host)}`);
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error(`invalid pid for a heartbeat key: ${pid}`);
  return `${HEARTBEAT_KEY_PREFIX}${host}:${pid}`;
}

/** Reads a heartbeat value; undefined for anything that is not one. */
export function parseHeartbeat(text: string | null): Heartbeat | undefined {
  if (text === null) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const beat = value as Partial<Record<keyof Heartbeat, unknown>>;
  if (
    typeof beat.host !== 'string' ||
    typeof beat.pid !== 'number' ||
    typeof beat.startedAt !== 'string' ||
    typeof beat.beatAt !== 'string' ||
    !Array.isArray(beat.jobTypes) ||
    !beat.jobTypes.every((type) => typeof type === 'string')
  ) {
    return undefined;
  }
  return {
    host: beat.host,
    pid: beat.pid,
    startedAt: beat.startedAt,
    beatAt: beat.beatAt,
    jobTypes: beat.jobTypes,
  };
}

/** Every live heartbeat in this Redis database (jobservice's): one per running jobservice process. */
export async function readHeartbeats(redis: Redis): Promise<Heartbeat[]> {
  const beats: Heartbeat[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${HEARTBEAT_KEY_PREFIX}*`, 'COUNT', 100);
    cursor = next;
    for (const key of keys) {
      const beat = parseHeartbeat(await redis.get(key));
      if (beat) beats.push(beat);
    }
  } while (cursor !== '0');
  return beats;
}
