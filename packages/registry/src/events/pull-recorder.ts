import { type RegistryEvent, type RegistryRepository } from '@wharf/db';

export interface PullRecorderOptions {
  flushIntervalMs?: number;
  maxBatch?: number;
  onError?: (error: unknown) => void;
}

/**
 * Pulls have no write of their own to share a transaction with, and writing one row per manifest GET would cap
 * pull throughput at the database's insert rate. Pull events are therefore written in batches: one multi-row
 * insert per interval or per `maxBatch` events. A crash loses at most one interval of pull events.
 */
export class PullRecorder {
  private pending: RegistryEvent[] = [];
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
    this.pending.push(event);
    if (this.pending.length >= this.maxBatch) {
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
    const batch = this.pending;
    this.pending = [];
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
