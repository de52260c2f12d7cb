import { type RegistryEvent, type RegistryRepository } from '@wharf/db';

export interface PullRecorderOptions {
  flushIntervalMs?: number;
  maxBatch?: number;
  onError?: (error: unknown) => void;
  /** Actors whose pulls are not recorded. */
  unrecordedActors?: readonly string[];
}

/**
 * Pulls have no write of their own to share a transaction with, and writing one row per manifest GET would cap
 * pull throughput at the database's insert rate. Pull events are therefore written in batches: one multi-row
 * insert per interval or per `maxBatch` distinct events, and identical pulls in one interval (same repository,
 * digest, tag and actor) become one event with a `count`. A crash loses at most one interval of pull events.
 */
export class PullRecorder {
  private pending = new Map<string, RegistryEvent & { count: number }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly flushIntervalMs: number;
  private readonly maxBatch: number;

  constructor(
    private readonly repository: RegistryRepository,
    private readonly options: PullRecorderOptions = {},
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.maxBatch = options.maxBatch ?? 500;
  }

  record(event: RegistryEvent): void {
    if (event.actor !== undefined && this.options.unrecordedActors?.includes(event.actor)) return;
    const key = `${event.repository}\u0000${event.digest}\u0000${event.tag ?? ''}\u0000${event.actor ?? ''}`;
    const same = this.pending.get(key);
    if (same) {
      same.count += 1;
      return;
    }
    this.pending.set(key, { ...event, occurredAt: event.occurredAt ?? new Date(), count: 1 });
    if (this.pending.size >= this.maxBatch) {
      void this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushIntervalMs);
      this.timer.unref();
    }
  }

  /** Writes whatever is pending; resolves when every event recorded so far is in the database. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = [...this.pending.values()];
    this.pending = new Map();
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.repository.recordEvents(batch);
      } catch (error) {
        this.options.onError?.(error);
      }
    });
    return this.flushing;
  }
}
