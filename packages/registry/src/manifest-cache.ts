import { type ListenHandlers, type NotificationListener, type StoredManifest } from '@wharf/db';

export interface ManifestCacheOptions {
  /** Payload bytes the cache may hold in all. */
  maxBytes?: number;
}

/** Subscribes to change notices for the cache; the host wires it to PostgreSQL LISTEN. */
export type CacheInvalidationSource = (handlers: ListenHandlers) => NotificationListener;

export type CachedManifest = StoredManifest & { payload: Buffer };

/** A tags list response: its body and, when more tags follow, the `last` of the next page. */
export interface CachedTagPage {
  body: Buffer;
  nextLast: string | null;
}

interface Entry {
  repository: string;
  bytes: number;
  value: CachedManifest | CachedTagPage;
}

/**
 * Manifests by (repository, tag or digest), and tags list pages, so that pulls of hot tags and tag listings are
 * answered without a query. It stays
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

  private key(kind: 'm' | 't', repository: string, reference: string): string {
    return `${kind}${repository}\u0000${reference}`;
  }

  /** A token to hand back to set(): a fill is dropped if the repository changed since the token was taken. */
  token(repository: string): number {
    return this.epoch * 2 ** 26 + (this.generations.get(repository) ?? 0);
  }

  get(repository: string, reference: string): CachedManifest | undefined {
    return this.lookup(this.key('m', repository, reference)) as CachedManifest | undefined;
  }

  set(repository: string, reference: string, manifest: CachedManifest, token: number): void {
    this.store(this.key('m', repository, reference), repository, manifest, manifest.payload.length, token);
  }

  getTagPage(repository: string, n: number, last: string | undefined): CachedTagPage | undefined {
    return this.lookup(this.key('t', repository, `${n}\u0000${last ?? ''}`)) as CachedTagPage | undefined;
  }

  setTagPage(repository: string, n: number, last: string | undefined, page: CachedTagPage, token: number): void {
    this.store(this.key('t', repository, `${n}\u0000${last ?? ''}`), repository, page, page.body.length, token);
  }

  private lookup(key: string): CachedManifest | CachedTagPage | undefined {
    if (!this.live) return undefined;
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    // Refresh its place in the LRU order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  private store(
    key: string,
    repository: string,
    value: CachedManifest | CachedTagPage,
    bytes: number,
    token: number,
  ): void {
    if (!this.live || token !== this.token(repository)) return;
    if (bytes > this.maxBytes / 16) return;
    this.remove(key);
    this.entries.set(key, { repository, bytes, value });
    let keys = this.byRepository.get(repository);
    if (!keys) this.byRepository.set(repository, (keys = new Set()));
    keys.add(key);
    this.bytes += bytes;
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
    this.bytes -= entry.bytes;
    const keys = this.byRepository.get(entry.repository);
    keys?.delete(key);
    if (keys && keys.size === 0) this.byRepository.delete(entry.repository);
  }
}
