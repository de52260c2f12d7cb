import { type RegistryRepository } from '@wharf/db';

/** How long a registry running alone keeps its events: long enough for a core started later to deliver them. */
export const UNDELIVERED_EVENT_RETENTION_MS = 3_600_000;
const TRIM_INTERVAL_MS = 600_000;
const TRIM_BATCH = 10_000;

export interface EventTrimLogger {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/**
 * The registry writes an event for every push and delete (and, in batches, for pulls) in the same transaction as the
 * change, for Wharf's core to deliver to the audit log and the pull statistics and delete an hour later. A registry
 * that runs alone (`wharf start registry`) on a database no core has started on has nobody to deliver them, so they
 * would pile up for ever: it discards them itself once they are `retentionMs` old. Once a core has started on the
 * database, even after this registry, the events are left to it.
 *
 * Resolves to how many events were discarded, or null when a core delivers them.
 */
export async function trimUndeliveredEvents(
  repository: RegistryRepository,
  retentionMs = UNDELIVERED_EVENT_RETENTION_MS,
): Promise<number | null> {
  if (await repository.coreHasStarted()) return null;
  let discarded = 0;
  for (;;) {
    const deleted = await repository.discardEventsOlderThan(retentionMs, TRIM_BATCH);
    discarded += deleted;
    if (deleted < TRIM_BATCH) return discarded;
  }
}

/**
 * Trims at once and then every `intervalMs`. The returned function stops the schedule and resolves once a trim that
 * is running has ended, so the caller can close the database after it.
 */
export function scheduleEventTrim(
  repository: RegistryRepository,
  log: EventTrimLogger,
  options: { intervalMs?: number; retentionMs?: number } = {},
): () => Promise<void> {
  const retentionMs = options.retentionMs ?? UNDELIVERED_EVENT_RETENTION_MS;
  let running: Promise<void> | undefined;
  let stopped = false;
  let coreReported = false;
  const run = (): void => {
    if (running || stopped) return;
    running = (async () => {
      try {
        const discarded = await trimUndeliveredEvents(repository, retentionMs);
        if (discarded === null) {
          if (!coreReported)
            log.info({}, 'events are left for Wharf core to deliver: a core has started on this database');
          coreReported = true;
        } else if (discarded > 0) {
          log.info(
            { discarded },
            'discarded events no Wharf core has delivered (no core has started on this database)',
          );
        }
      } catch (error) {
        log.error({ err: error }, 'event trim failed');
      } finally {
        running = undefined;
      }
    })();
  };
  run();
  const timer = setInterval(run, options.intervalMs ?? TRIM_INTERVAL_MS);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
