import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { MANIFEST_CHANGE_CHANNEL, NotificationHub, type NotificationListener } from '@wharf/db';
import {
  type ArtifactPositions,
  type ArtifactRecord,
  ArtifactRepository,
} from '../repositories/artifact.repository.js';

/** Pages this shallow are read straight from the push-time index; deeper ones start from a known position. */
const DIRECT_OFFSET_LIMIT = 1_000;
/** Artifacts per block between two known positions: a deep page scans at most this many extra index entries. */
const MIN_STEP = 100;
const MAX_BOUNDARIES_PER_REPOSITORY = 20_000;
/** Known positions kept for all repositories together (each costs well under 100 bytes). */
const MAX_BOUNDARIES = 200_000;
const MAX_ENTRIES = 10_000;

export interface RepositoryRef {
  id: number;
  name: string;
}

interface Entry {
  repositoryId: number;
  total: number;
  positions?: ArtifactPositions;
}

/** A read whose answer may be kept only if the repository did not change while it ran. */
interface Fill {
  stale: boolean;
}

/**
 * How many top-level artifacts each repository holds and where every block of them starts in the default order
 * (newest push first), so that the list answers any page of a repository with 100,000 artifacts from a short
 * keyset scan instead of skipping past every artifact before it, and counts without counting. Harbor's API pages
 * by number, which PostgreSQL can only serve by walking the index from the start.
 *
 * What is known stays coherent across processes through the registry's change notices, sent in the same
 * transaction as every manifest or tag change (PostgreSQL LISTEN/NOTIFY). While the notice channel is down
 * nothing is kept, and a read that overlapped a change never stores its answer.
 */
@Injectable()
export class ArtifactPageIndex implements OnModuleInit, OnModuleDestroy {
  private readonly entries = new Map<string, Entry>();
  private readonly fills = new Map<string, Set<Fill>>();
  private readonly building = new Map<string, Promise<ArtifactPositions>>();
  private boundaries = 0;
  private live = false;
  private listener: NotificationListener | undefined;

  constructor(
    private readonly notices: NotificationHub,
    private readonly artifacts: ArtifactRepository,
  ) {}

  onModuleInit(): void {
    this.listener = this.notices.subscribe(MANIFEST_CHANGE_CHANNEL, {
      onMessage: (repository) => this.forget(repository),
      onConnected: () => {
        this.reset();
        this.live = true;
      },
      onDisconnected: () => {
        this.live = false;
        this.reset();
      },
    });
  }

  async onModuleDestroy(): Promise<void> {
    this.live = false;
    await this.listener?.close();
    this.listener = undefined;
  }

  /**
   * Forgets what is known of a repository. The change notice does it everywhere; a process calls it itself after a
   * change it made, so that its next answer shows the change without waiting for the notice.
   */
  forget(repository: string): void {
    this.drop(repository);
    this.building.delete(repository);
    for (const fill of this.fills.get(repository) ?? []) fill.stale = true;
  }

  /** Top-level artifacts of each repository, counted in one query for those not known. */
  async counts(repositories: readonly RepositoryRef[]): Promise<Map<number, number>> {
    const counts = new Map<number, number>();
    const unknown: RepositoryRef[] = [];
    for (const repository of repositories) {
      const entry = this.lookup(repository);
      if (entry) counts.set(repository.id, entry.total);
      else unknown.push(repository);
    }
    if (unknown.length === 0) return counts;
    const fills = unknown.map((repository) => this.begin(repository.name));
    try {
      const counted = await this.artifacts.countTopLevel(unknown.map((r) => r.id));
      unknown.forEach((repository, i) => {
        const total = counted.get(repository.id) ?? 0;
        counts.set(repository.id, total);
        this.store(repository.name, fills[i], { repositoryId: repository.id, total });
      });
    } finally {
      unknown.forEach((repository, i) => this.end(repository.name, fills[i]));
    }
    return counts;
  }

  /** One page of the repository's top-level artifacts in the default order, and how many there are. */
  async page(
    repository: RepositoryRef,
    offset: number,
    limit: number,
  ): Promise<{ items: ArtifactRecord[]; total: number }> {
    const entry = this.lookup(repository);
    if (offset < DIRECT_OFFSET_LIMIT) {
      if (entry) {
        const items =
          offset >= entry.total ? [] : await this.artifacts.pageOfTopLevel(repository.id, undefined, offset, limit);
        return { items, total: entry.total };
      }
      const fill = this.begin(repository.name);
      try {
        const [items, counted] = await Promise.all([
          this.artifacts.pageOfTopLevel(repository.id, undefined, offset, limit),
          this.artifacts.countTopLevel([repository.id]),
        ]);
        const total = counted.get(repository.id) ?? 0;
        this.store(repository.name, fill, { repositoryId: repository.id, total });
        return { items, total };
      } finally {
        this.end(repository.name, fill);
      }
    }
    const positions = entry?.positions ?? (await this.build(repository));
    const { total } = positions;
    if (offset >= total) return { items: [], total };
    const block = Math.floor(offset / positions.step);
    const items = await this.artifacts.pageOfTopLevel(
      repository.id,
      positions.boundaries[block],
      offset - block * positions.step,
      limit,
    );
    return { items, total };
  }

  /** Reads the repository's positions once, however many requests want them at the same time. */
  private build(repository: RepositoryRef): Promise<ArtifactPositions> {
    const pending = this.building.get(repository.name);
    if (pending) return pending;
    const fill = this.begin(repository.name);
    const promise = this.artifacts
      .positions(repository.id, MIN_STEP, MAX_BOUNDARIES_PER_REPOSITORY)
      .then((positions) => {
        this.store(repository.name, fill, { repositoryId: repository.id, total: positions.total, positions });
        return positions;
      })
      .finally(() => {
        this.end(repository.name, fill);
        if (this.building.get(repository.name) === promise) this.building.delete(repository.name);
      });
    this.building.set(repository.name, promise);
    return promise;
  }

  private lookup(repository: RepositoryRef): Entry | undefined {
    const entry = this.entries.get(repository.name);
    // A repository deleted and pushed again has a new id: what is known is of the old one.
    if (!entry || entry.repositoryId !== repository.id) return undefined;
    // Least recently used last to go: a read moves the entry to the end of the map's order.
    this.entries.delete(repository.name);
    this.entries.set(repository.name, entry);
    return entry;
  }

  private begin(repository: string): Fill {
    const fill = { stale: !this.live };
    let set = this.fills.get(repository);
    if (!set) {
      set = new Set();
      this.fills.set(repository, set);
    }
    set.add(fill);
    return fill;
  }

  private end(repository: string, fill: Fill): void {
    const set = this.fills.get(repository);
    set?.delete(fill);
    if (set?.size === 0) this.fills.delete(repository);
  }

  private store(repository: string, fill: Fill, entry: Entry): void {
    if (fill.stale || !this.live) return;
    this.drop(repository);
    this.entries.set(repository, entry);
    this.boundaries += entry.positions?.boundaries.length ?? 0;
    for (const [name, oldest] of this.entries) {
      if (this.entries.size <= MAX_ENTRIES && this.boundaries <= MAX_BOUNDARIES) break;
      if (oldest === entry) break;
      this.drop(name);
    }
  }

  private drop(repository: string): void {
    const entry = this.entries.get(repository);
    if (!entry) return;
    this.entries.delete(repository);
    this.boundaries -= entry.positions?.boundaries.length ?? 0;
  }

  private reset(): void {
    this.entries.clear();
    this.boundaries = 0;
    this.building.clear();
    for (const set of this.fills.values()) for (const fill of set) fill.stale = true;
  }
}
