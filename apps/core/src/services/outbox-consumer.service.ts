import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { type ManifestPull, type RegistryEventType, type RepositoryPulls, type TagPull } from '@wharf/db';
import { RegistryWriter } from '@wharf/registry';
import { JobName, type JobPayload, type JobRunner, OnJob, QueueName } from '@wharf/jobs';
import { DataSource, type EntityManager } from 'typeorm';
import { z } from 'zod';
import { AuditRepository, type NewAuditRecord } from '../repositories/audit.repository.js';
import { type OutboxEvent, OutboxRepository } from '../repositories/outbox.repository.js';

/** Events delivered per transaction: large enough to keep up with bursts, small enough to keep locks brief. */
export const OUTBOX_BATCH_SIZE = 500;
/** How often an idle consumer looks for new events. */
export const OUTBOX_POLL_INTERVAL_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
/** How long shutdown keeps delivering what is pending; the rest waits for the next start, nothing is lost. */
const SHUTDOWN_DRAIN_MS = 5000;
const DEADLOCK_RETRIES = 3;
/**
 * Delivered events are kept this long (to look at what was delivered lately), then deleted: without it the outbox
 * would grow by every push, pull and delete for ever.
 */
export const OUTBOX_RETENTION_MS = 60 * 60 * 1000;
/** How often the event trim job deletes expired events, and how many at most in one statement. */
const TRIM_EVERY_MS = 60 * 1000;
const PURGE_BATCH_SIZE = 10_000;
const EVENT_TRIM_SCHEDULER = 'event-trim';

const REGISTRY_EVENT_TYPES = [
  'PUSH_ARTIFACT',
  'PULL_ARTIFACT',
  'DELETE_ARTIFACT',
  'DELETE_TAG',
  'DELETE_BLOB',
] as const satisfies readonly RegistryEventType[];

const RegistryEventPayload = z.object({
  repository: z.string().min(1),
  digest: z.string().min(1),
  tag: z.string().min(1).nullish(),
  actor: z.string().min(1).nullish(),
  count: z.number().int().min(1).nullish(),
});
type RegistryEventPayload = z.infer<typeof RegistryEventPayload>;

export interface RegistryEvent extends RegistryEventPayload {
  id: number;
  type: RegistryEventType;
  occurredAt: Date;
}

function parseEvent(event: OutboxEvent): RegistryEvent | undefined {
  const type = REGISTRY_EVENT_TYPES.find((known) => known === event.type);
  if (type === undefined) return undefined;
  const payload = RegistryEventPayload.safeParse(event.payload);
  if (!payload.success) return undefined;
  return { ...payload.data, id: event.id, type, occurredAt: event.occurredAt };
}

/** The project a repository belongs to: the first segment of its name. */
function projectNameOf(repository: string): string {
  const slash = repository.indexOf('/');
  return slash === -1 ? repository : repository.slice(0, slash);
}

/** Harbor's audit record of a registry event: `<repository>:<tag>` when a tag is known, else `<repository>:<digest>`. */
function auditRecordOf(event: RegistryEvent, projectId: number | null): NewAuditRecord {
  const byTag = `${event.repository}:${event.tag ?? event.digest}`;
  const byDigest = `${event.repository}:${event.digest}`;
  const common = { projectId, username: event.actor ?? 'anonymous', opTime: event.occurredAt };
  switch (event.type) {
    case 'PUSH_ARTIFACT':
      return { ...common, operation: 'create', resourceType: 'artifact', resource: byTag };
    case 'PULL_ARTIFACT':
      return { ...common, operation: 'pull', resourceType: 'artifact', resource: byTag };
    case 'DELETE_ARTIFACT':
      return { ...common, operation: 'delete', resourceType: 'artifact', resource: byDigest };
    case 'DELETE_TAG':
      return { ...common, operation: 'delete', resourceType: 'tag', resource: byTag };
    case 'DELETE_BLOB':
      return { ...common, operation: 'delete', resourceType: 'blob', resource: byDigest };
  }
}

/** Pull counts per repository, and the latest pull per manifest and per tag pulled by name, each listed once. */
function pullsOf(events: readonly RegistryEvent[]): {
  repositories: RepositoryPulls[];
  manifests: ManifestPull[];
  tags: TagPull[];
} {
  const repositories = new Map<string, number>();
  const manifests = new Map<string, ManifestPull>();
  const tags = new Map<string, TagPull>();
  for (const event of events) {
    if (event.type !== 'PULL_ARTIFACT') continue;
    repositories.set(event.repository, (repositories.get(event.repository) ?? 0) + (event.count ?? 1));
    const key = `${event.repository}\u0000${event.digest}`;
    const seen = manifests.get(key);
    if (!seen || seen.pulledAt < event.occurredAt) {
      manifests.set(key, { repository: event.repository, digest: event.digest, pulledAt: event.occurredAt });
    }
    if (event.tag === undefined || event.tag === null) continue;
    const tagKey = `${event.repository}\u0000${event.tag}`;
    const seenTag = tags.get(tagKey);
    if (!seenTag || seenTag.pulledAt < event.occurredAt) {
      const { repository, tag, digest, occurredAt: pulledAt } = event;
      tags.set(tagKey, { repository, tag, digest, pulledAt });
    }
  }
  return {
    repositories: [...repositories].map(([repository, count]) => ({ repository, count })),
    manifests: [...manifests.values()],
    tags: [...tags.values()],
  };
}

/**
 * What a feature does with the registry's events (queue a scan on push, a replication, a webhook): called with each
 * batch in the transaction that marks it delivered. A handler that throws leaves the whole batch pending, to be
 * delivered again; so delivery is at least once, and a handler must be idempotent.
 */
export type RegistryEventHandler = (events: readonly RegistryEvent[], manager: EntityManager) => Promise<void>;

/**
 * Arms the job scheduler that runs the event trim job once a minute, for the whole cluster: jobservice calls it at
 * start and whenever it re-arms its schedules, so a Redis that lost its data gets it back.
 */
export async function armEventTrim(jobs: JobRunner): Promise<void> {
  await jobs
    .queue(QueueName.Maintenance)
    .upsertJobScheduler(
      EVENT_TRIM_SCHEDULER,
      { every: TRIM_EVERY_MS },
      { name: JobName.EventTrim, data: {}, opts: { attempts: 3 } },
    );
}

function isDeadlock(error: unknown): boolean {
  const e = error as { code?: unknown; driverError?: { code?: unknown } } | undefined;
  return (e?.driverError?.code ?? e?.code) === '40P01';
}

/**
 * Delivers the registry's events from the outbox to the audit log, to the repositories' pull statistics and to the
 * registered event handlers: the one place where events become work. Each batch is claimed, applied and marked
 * delivered in one transaction, so a crash at any point leaves the events pending for the next attempt and none is
 * applied twice.
 *
 * The poller runs in jobservice only (`startPolling`), never in core; several jobservices share the work through
 * `SKIP LOCKED`. It is a loop of this process rather than a job of the queue because events should reach the audit
 * log within about a second: a repeating job at that pace would cost several Redis round trips a second per
 * process for nothing while idle, and a single claim query is all the coordination delivery needs. An idle poller
 * looks once a second; a full batch is followed at once by the next.
 *
 * Pulls arrive aggregated (identical pulls within the engine's flush interval are one event with a count): each
 * such event is one audit record, and the count goes in full to the repository's pull count. Delivered events are
 * deleted after OUTBOX_RETENTION_MS by the event trim job (`armEventTrim`), once a minute for the whole cluster.
 */
@Injectable()
export class OutboxConsumerService implements OnApplicationShutdown {
  private readonly logger = new Logger(OutboxConsumerService.name);
  private readonly handlers = new Map<string, RegistryEventHandler>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private failures = 0;
  /** Deliveries of this process run one after another: the poller's and drain()'s. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxRepository,
    private readonly audit: AuditRepository,
    private readonly writer: RegistryWriter,
  ) {}

  /** Registers what a feature does with each delivered batch; its service does it when the module starts. */
  handle(name: string, handler: RegistryEventHandler): void {
    if (this.handlers.has(name)) throw new Error(`registry events already have a handler named ${name}`);
    this.handlers.set(name, handler);
  }

  /** Starts delivering in the background: jobservice does once its worker runs. */
  startPolling(): void {
    if (this.polling) return;
    this.polling = true;
    this.schedule(0);
  }

  /** Stops the poller after delivering what is pending, for SHUTDOWN_DRAIN_MS at most. */
  async stopPolling(): Promise<void> {
    if (!this.polling) return;
    this.polling = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    try {
      await this.drain(Date.now() + SHUTDOWN_DRAIN_MS);
    } catch (error) {
      this.logger.warn(`events left pending at shutdown: ${(error as Error).message}`);
    }
  }

  onApplicationShutdown(): Promise<void> {
    return this.stopPolling();
  }

  /**
   * Delivers every event pending now (those written later wait for the poller), unless `deadline` (epoch ms) passes
   * first. Resolves to how many events were delivered. Events another process is delivering at this moment are
   * left to it.
   */
  drain(deadline = Number.POSITIVE_INFINITY): Promise<number> {
    return this.exclusive(async () => {
      const upToId = await this.outbox.lastEventId();
      let delivered = 0;
      for (;;) {
        const n = await this.deliverBatch(upToId);
        delivered += n;
        if (n < OUTBOX_BATCH_SIZE || Date.now() >= deadline) return delivered;
      }
    });
  }

  /** The outbox delivery job: delivers the events pending up to `upToId`, or every event pending now. */
  @OnJob(JobName.OutboxDelivery)
  async deliver({ upToId }: JobPayload<JobName.OutboxDelivery>): Promise<number> {
    return this.exclusive(async () => {
      const bound = upToId ?? (await this.outbox.lastEventId());
      let delivered = 0;
      for (;;) {
        const n = await this.deliverBatch(bound);
        delivered += n;
        if (n < OUTBOX_BATCH_SIZE) return delivered;
      }
    });
  }

  /** The event trim job: deletes delivered events older than the retention. */
  @OnJob(JobName.EventTrim)
  trim({ retentionMs }: JobPayload<JobName.EventTrim>): Promise<number> {
    return this.exclusive(() => this.purgeDelivered(retentionMs));
  }

  /**
   * Deletes the events delivered more than `retentionMs` ago, in batches, and resolves to how many. Several processes
   * may run it at once (each batch is one statement).
   */
  async purgeDelivered(retentionMs = OUTBOX_RETENTION_MS): Promise<number> {
    let deleted = 0;
    for (;;) {
      const n = await this.outbox.purgeDelivered(retentionMs, PURGE_BATCH_SIZE);
      deleted += n;
      if (n < PURGE_BATCH_SIZE) return deleted;
    }
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private schedule(delayMs: number): void {
    if (!this.polling) return;
    this.timer = setTimeout(() => void this.poll(), delayMs);
    // A pending poll alone must not keep the process alive.
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    this.timer = undefined;
    let next = OUTBOX_POLL_INTERVAL_MS;
    try {
      const n = await this.exclusive(() => this.deliverBatch());
      this.failures = 0;
      if (n >= OUTBOX_BATCH_SIZE) next = 0;
    } catch (error) {
      this.failures += 1;
      next = Math.min(OUTBOX_POLL_INTERVAL_MS * 2 ** this.failures, MAX_BACKOFF_MS);
      this.logger.error(`delivering events failed (attempt ${this.failures}): ${(error as Error).message}`);
    }
    this.schedule(next);
  }

  /** One batch in one transaction; a deadlock with another process's batch is retried. */
  private async deliverBatch(upToId?: number): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.dataSource.transaction((manager) => this.deliverIn(manager, upToId));
      } catch (error) {
        if (!isDeadlock(error) || attempt >= DEADLOCK_RETRIES) throw error;
      }
    }
  }

  private async deliverIn(manager: EntityManager, upToId?: number): Promise<number> {
    const claimed = await this.outbox.claimPending(manager, OUTBOX_BATCH_SIZE, upToId);
    if (claimed.length === 0) return 0;
    const events: RegistryEvent[] = [];
    const unreadable: number[] = [];
    for (const raw of claimed) {
      const event = parseEvent(raw);
      if (event) events.push(event);
      else unreadable.push(raw.id);
    }
    if (unreadable.length > 0) {
      // Kept pending, an event nobody can read would be claimed again forever and hold up nothing but itself;
      // it is marked delivered and named here so it can be looked at.
      this.logger.warn(`outbox events with an unknown type or payload skipped: ${unreadable.join(', ')}`);
    }
    const projects = await this.outbox.projectIds(manager, [
      ...new Set(events.map((e) => projectNameOf(e.repository))),
    ]);
    await this.audit.insert(
      events.map((e) => auditRecordOf(e, projects.get(projectNameOf(e.repository)) ?? null)),
      manager,
    );
    const pulls = pullsOf(events);
    await this.writer.recordPulls(pulls, { manager });
    if (events.length > 0) for (const handler of this.handlers.values()) await handler(events, manager);
    await this.outbox.markDelivered(
      manager,
      claimed.map((e) => e.id),
    );
    return claimed.length;
  }
}
