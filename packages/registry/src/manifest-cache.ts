import { type ListenHandlers, type NotificationListener, type StoredManifest } from '@wharf/db';

export interface ManifestCacheOptions {
  /** Payload bytes the cache may hold in all. */
  maxBytes?: number;
}

/** Subscribes to change notices for the cache; the host wires it to PostgreSQL LISTEN. */
export type CacheInvalidationSource = (handlers: ListenHandlers) => NotificationListener;

interface Entry {
  repository: string;
  manifest: StoredManifest & { payload: Buffer };
}

/**
 * Manifests by (repository, tag or digest), so that pulls of hot tags are answered without a query. It stays
 * coherent across processes through change notices sent in the same transaction as every tag or manifest
 * change; while the notice channel is down the cache is empty and unused. A per-repository generation
 * guards the race where a read that started before a change would store its stale answer after the notice.
 */
export class ManifestCache {
  private readonly entries = new Map<string, Entry>();
  private readonly byRepository = new Map<string, Set<string>>();
  private readonly generations = new Map<string, number>();
  private epoch = 0;
  private bytes = 0;
  private live = false;
  private readonly maxBytes: number;
  private readonly listener: NotificationListener;

  constructor(source: CacheInvalidationSource, options: ManifestCacheOptions = {}) {
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.listener = source({
      onMessage: (repository) => this.invalidate(repository),
      onConnected: () => {
        this.clear();
        this.live = true;
      },
      onDisconnected: () => {
        this.live = false;
        this.clear();
      },
    });
  }

  private key(repository: string, reference: string): string {
    return `${repository}\u0000${reference}`;
  }

  /** A token to hand back to set(): a fill is dropped if the repository changed since the token was taken. */
  token(repository: string): number {
    return this.epoch * 2 ** 26 + (this.generations.get(repository) ?? 0);
  }

  get(repository: string, reference: string): (StoredManifest & { payload: Buffer }) | undefined {
    if (!this.live) return undefined;
    const key = this.key(repository, reference);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    // Refresh its place in the LRU order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.manifest;
  }

  set(repository: string, reference: string, manifest: StoredManifest & { payload: Buffer }, token: number): void {
    if (!this.live || token !== this.token(repository)) return;
    const size = manifest.payload.length;
    if (size > this.maxBytes / 16) return;
    const key = this.key(repository, reference);
    this.remove(key);
    this.entries.set(key, { repository, manifest });
    let keys = this.byRepository.get(repository);
    if (!keys) this.byRepository.set(repository, (keys = new Set()));
    keys.add(key);
    this.bytes += size;
    while (this.bytes > this.maxBytes) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.remove(oldest);
    }
  }

  invalidate(repository: string): void {
    this.generations.set(repository, (this.generations.get(repository) ?? 0) + 1);
    const keys = this.byRepository.get(repository);
    if (!keys) return;
    for (const key of [...keys]) this.remove(key);
  }

  async close(): Promise<void> {
    this.live = false;
    this.clear();
    await this.listener.close();
  }

  private clear(): void {
    this.entries.clear();
    this.byRepository.clear();
    this.generations.clear();
    this.bytes = 0;
    this.epoch += 1;
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.manifest.payload.length;
    const keys = this.byRepository.get(entry.repository);
    keys?.delete(key);
    if (keys && keys.size === 0) this.byRepository.delete(entry.repository);
  }
}
