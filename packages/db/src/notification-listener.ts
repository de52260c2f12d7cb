import pg from 'pg';
import { type DatabaseOptions } from './data-source.js';

const HEARTBEAT_INTERVAL_MS = 15_000;
const HEARTBEAT_TIMEOUT_MS = 10_000;

export interface NotificationListener {
  close(): Promise<void>;
}

export interface ListenHandlers {
  onMessage(payload: string): void;
  /** The listener is connected and listening; messages from before this point may have been missed. */
  onConnected(): void;
  /** The connection is lost; messages are being missed until onConnected. */
  onDisconnected(error?: Error): void;
}

/**
 * Keeps one dedicated connection LISTENing on a channel, reconnecting with backoff when it drops. The
 * handlers hear about every gap, so a cache fed by it can stop trusting itself while messages may be lost.
 */
export function listenForNotifications(
  options: DatabaseOptions,
  channel: string,
  handlers: ListenHandlers,
): NotificationListener {
  let closed = false;
  let client: pg.Client | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let backoffMs = 250;

  const connect = async () => {
    if (closed) return;
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
    const lost = (error?: Error) => {
      if (client !== next) return;
      client = undefined;
      handlers.onDisconnected(error);
      next.end().catch(() => undefined);
      scheduleRetry();
    };
    next.on('error', lost);
    next.on('end', () => lost());
    next.on('notification', (message) => {
      if (message.channel === channel) handlers.onMessage(message.payload ?? '');
    });
    try {
      client = next;
      await next.connect();
      await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      if (closed) {
        await next.end();
        return;
      }
      backoffMs = 250;
      // A connection that dies silently (a NAT forgetting it, a failover without a reset) raises no error:
      // a periodic round trip finds out, and the listener then reports the gap and reconnects.
      const heartbeat = setInterval(() => {
        next.query('SELECT 1').catch((error: unknown) => lost(error as Error));
      }, HEARTBEAT_INTERVAL_MS);
      heartbeat.unref();
      next.once('end', () => clearInterval(heartbeat));
      handlers.onConnected();
    } catch (error) {
      lost(error as Error);
    }
  };

  const scheduleRetry = () => {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, backoffMs);
    retryTimer.unref();
    backoffMs = Math.min(backoffMs * 2, 10_000);
  };

  void connect();
  return {
    close: async () => {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };
}
