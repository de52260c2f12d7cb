import { randomInt } from 'node:crypto';
import pg from 'pg';

/** The first key of every upload lease holder's advisory lock; the second is the holder's own key. */
export const UPLOAD_LEASE_LOCK_SPACE = 0x57524652;

/** A connection that dies without an error (a NAT forgetting it) is found out by a round trip this often. */
const HEARTBEAT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 10_000;

/** What leases are taken under: the holder's key, which they name, while its lock is held. */
export interface LeaseHold {
  key: number;
  /**
   * Aborted once the lock may be gone (its connection was lost): other processes may then take over the leases taken
   * under it, so writes under them stop.
   */
  signal: AbortSignal;
}

/**
 * The identity under which a process holds upload write leases, kept alive by PostgreSQL itself: a session advisory
 * lock on a dedicated connection, which PostgreSQL releases the moment that connection ends — when the process
 * exits, is killed, or loses the database. A lease names its holder's key, so any process sharing the database can
 * tell a lease whose writer is gone from one being written, and take the former over at once instead of waiting for
 * it to expire. The connection is opened at the first lease and again after it is lost, each time under a new key.
 */
export class UploadLeaseHolder {
  private client: pg.Client | undefined;
  private hold: { key: number; controller: AbortController } | undefined;
  private connecting: Promise<LeaseHold> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly connection: pg.ClientConfig) {}

  /** The hold leases are taken under now; connects and takes the lock first when none is held. */
  current(): Promise<LeaseHold> {
    if (this.closed) return Promise.reject(new Error('the upload lease holder is closed'));
    if (this.hold) return Promise.resolve({ key: this.hold.key, signal: this.hold.controller.signal });
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.drop(client, new Error('the upload lease holder was closed'));
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<LeaseHold> {
    const client = new pg.Client({
      ...this.connection,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: CONNECT_TIMEOUT_MS,
      application_name: `${String(this.connection.application_name ?? 'wharf')}-upload-leases`,
      keepAlive: true,
    });
    const lost = (error?: Error) => this.drop(client, error ?? new Error('the upload lease connection ended'));
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      let key: number;
      for (;;) {
        key = randomInt(1, 2 ** 31);
        const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [
          UPLOAD_LEASE_LOCK_SPACE,
          key,
        ]);
        if (rows[0]?.locked) break;
      }
      // Leases still naming this key were taken by a process that held it once and is gone.
      await client.query(
        `UPDATE registry_upload SET lease_owner = NULL, lease_until = NULL, lease_holder = NULL WHERE lease_holder = $1`,
        [key],
      );
      if (this.closed) throw new Error('the upload lease holder is closed');
      const controller = new AbortController();
      this.client = client;
      this.hold = { key, controller };
      this.heartbeat = setInterval(() => {
        client.query('SELECT 1').catch((error: unknown) => lost(error as Error));
      }, HEARTBEAT_MS);
      this.heartbeat.unref();
      return { key, signal: controller.signal };
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw error;
    }
  }

  private drop(client: pg.Client | undefined, reason: Error): void {
    if (client === undefined || this.client !== client) return;
    this.client = undefined;
    clearInterval(this.heartbeat);
    const hold = this.hold;
    this.hold = undefined;
    hold?.controller.abort(reason);
    client.end().catch(() => undefined);
  }
}
