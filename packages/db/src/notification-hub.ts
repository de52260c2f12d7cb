import pg from 'pg';
import { type DatabaseOptions } from './data-source.js';

const HEARTBEAT_INTERVAL_MS = 15_000;
const HEARTBEAT_TIMEOUT_MS = 10_000;
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 10_000;

/** One subscription to a channel; closing it stops its handlers from being called. */
export interface NotificationListener {
  close(): Promise<void>;
}

export interface ListenHandlers {
  onMessage(payload: string): void;
  /** The channel is being listened on; messages from before this point may have been missed. */
  onConnected(): void;
  /** The connection is lost; messages are being missed until onConnected. */
  onDisconnected(error?: Error): void;
}

/**
 * A process's one connection LISTENing for PostgreSQL notices, on every channel something subscribed to, reconnecting
 * with backoff when it drops. Every subscriber hears about every gap (onDisconnected, then onConnected once its
 * channel is listened on again), so a cache fed by it can stop trusting itself while notices may be lost.
 */
export class NotificationHub {
  private readonly subscribers = new Map<string, Set<ListenHandlers>>();
  private client: pg.Client | undefined;
  /** Whether `client` is connected and listens on every subscribed channel (subscribers were told so). */
  private ready = false;
  /** The LISTEN of each channel on `client`, done or under way. */
  private listens = new Map<string, Promise<void>>();
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = FIRST_RETRY_MS;
  private closed = false;

  constructor(private readonly options: DatabaseOptions) {}

  subscribe(channel: string, handlers: ListenHandlers): NotificationListener {
    if (this.closed) throw new Error('the notification hub is closed');
    let set = this.subscribers.get(channel);
    if (!set) this.subscribers.set(channel, (set = new Set()));
    set.add(handlers);
    const client = this.client;
    if (!client) {
      if (!this.retryTimer) void this.connect();
    } else if (this.ready) {
      // Connecting picks up every channel subscribed by the time it is done; only a live connection needs telling.
      this.listen(client, channel).then(
        () => {
          if (this.client === client && set.has(handlers)) handlers.onConnected();
        },
        (error: unknown) => this.lost(client, error as Error),
      );
    }
    return {
      close: () => {
        this.unsubscribe(channel, handlers);
        return Promise.resolve();
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const current = this.client;
    this.client = undefined;
    this.ready = false;
    await current?.end().catch(() => undefined);
  }

  private unsubscribe(channel: string, handlers: ListenHandlers): void {
    const set = this.subscribers.get(channel);
    // The channel stays listened on: a process follows a few fixed channels, and an UNLISTEN racing a new
    // subscription's LISTEN could leave that subscriber deaf.
    if (set?.delete(handlers) && set.size === 0) this.subscribers.delete(channel);
  }

  private listen(client: pg.Client, channel: string): Promise<void> {
    let listening = this.listens.get(channel);
    if (!listening) {
      listening = client.query(`LISTEN ${pg.escapeIdentifier(channel)}`).then(() => undefined);
      this.listens.set(channel, listening);
    }
    return listening;
  }

  private async connect(): Promise<void> {
    if (this.closed || this.subscribers.size === 0) return;
    const { options } = this;
    const next = new pg.Client({
      host: options.host,
      port: options.port,
      database: options.database,
      user: options.username,
      password: options.password,
      ssl:
        options.sslMode === undefined || options.sslMode === 'disable'
          ? false
          : { rejectUnauthorized: options.sslMode !== 'require' },
      application_name: `${options.applicationName ?? 'wharf'}-listener`,
      keepAlive: true,
      query_timeout: HEARTBEAT_TIMEOUT_MS,
    });
    next.on('error', (error: Error) => this.lost(next, error));
    next.on('end', () => this.lost(next));
    next.on('notification', (message) => {
      if (this.client !== next) return;
      for (const handlers of [...(this.subscribers.get(message.channel) ?? [])]) {
        handlers.onMessage(message.payload ?? '');
      }
    });
    this.client = next;
    this.ready = false;
    this.listens = new Map();
    try {
      await next.connect();
      // Channels subscribed while a round runs are picked up by the next one. Nothing may be awaited between the last
      // round and telling the subscribers: a channel subscribed then would be reported as listened on.
      for (;;) {
        if (this.client !== next) return;
        const missing = [...this.subscribers.keys()].filter((channel) => !this.listens.has(channel));
        if (missing.length === 0) break;
        // One at a time: a pg client runs one query at a time, and queues issued together are deprecated.
        for (const channel of missing) await this.listen(next, channel);
      }
      this.backoffMs = FIRST_RETRY_MS;
      this.ready = true;
      // A connection that dies silently (a NAT forgetting it, a failover without a reset) raises no error:
      // a periodic round trip finds out, and the hub then reports the gap and reconnects.
      const heartbeat = setInterval(() => {
        next.query('SELECT 1').catch((error: unknown) => this.lost(next, error as Error));
      }, HEARTBEAT_INTERVAL_MS);
      heartbeat.unref();
      next.once('end', () => clearInterval(heartbeat));
      for (const set of [...this.subscribers.values()]) for (const handlers of [...set]) handlers.onConnected();
    } catch (error) {
      this.lost(next, error as Error);
    }
  }

  private lost(client: pg.Client, error?: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.ready = false;
    this.listens = new Map();
    client.end().catch(() => undefined);
    for (const set of [...this.subscribers.values()]) for (const handlers of [...set]) handlers.onDisconnected(error);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, this.backoffMs);
    this.retryTimer.unref();
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_RETRY_MS);
  }
}
