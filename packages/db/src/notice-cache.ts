import { type ListenHandlers, type NotificationListener } from './notification-hub.js';

/** Subscribes to a channel's change notices (PostgreSQL LISTEN through the NotificationHub in practice). */
export type ChangeNoticeSource = (handlers: ListenHandlers) => NotificationListener;

/**
 * Values read from the database on a hot path (a pull, a push by tag), kept per process and all dropped whenever one
 * of `sources` announces a change. Nothing is kept unless every source is listening (a notice may be missed while one
 * is down), and a value whose read overlapped a notice is not stored, since it may predate the change. Past
 * `maxEntries` the oldest entry is dropped.
 */
export class NoticeCache<V> {
  private readonly entries = new Map<string, V>();
  private epoch = 0;
  private listening = 0;
  private closed = false;
  private readonly listeners: NotificationListener[];

  constructor(
    sources: readonly ChangeNoticeSource[],
    private readonly maxEntries: number,
  ) {
    this.listeners = sources.map((subscribe) => {
      let connected = false;
      return subscribe({
        onMessage: () => this.clear(),
        onConnected: () => {
          this.clear();
          if (!connected) this.listening += 1;
          connected = true;
        },
        onDisconnected: () => {
          if (connected) this.listening -= 1;
          connected = false;
          this.clear();
        },
      });
    });
  }

  private get live(): boolean {
    return !this.closed && this.listeners.length > 0 && this.listening === this.listeners.length;
  }

  /** The value kept for `key`, or the one `load` reads (kept when no notice came meanwhile). */
  async get(key: string, load: () => Promise<V>): Promise<V> {
    if (this.live && this.entries.has(key)) return this.entries.get(key) as V;
    const epoch = this.epoch;
    const value = await load();
    if (this.live && this.epoch === epoch) {
      if (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.keys().next();
        if (!oldest.done) this.entries.delete(oldest.value);
      }
      this.entries.set(key, value);
    }
    return value;
  }

  /** Drops everything kept: after a change this process made, so that its next read meets the change at once. */
  clear(): void {
    this.entries.clear();
    this.epoch += 1;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.clear();
    await Promise.all(this.listeners.map((listener) => listener.close()));
  }
}
