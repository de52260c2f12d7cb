import { type RegistryRepository } from '@wharf/db';
import { repeatInBackground } from '../repeat.js';

/** How long a registry running alone keeps its events: a core started later still delivers the last hour's. */
export const STANDALONE_EVENT_RETENTION_MS = 3_600_000;
const TRIM_INTERVAL_MS = 600_000;
const TRIM_BATCH = 10_000;

export interface EventTrimLogger {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface EventTrimOptions {
  retentionMs?: number;
  /** Events deleted per statement. */
  batchSize?: number;
  /** Asked between batches: true ends the trim early. */
  shouldStop?: () => boolean;
}

/**
 * The registry writes an event for every push and delete (and, in batches, for pulls) in the same transaction as the
 * change, for Wharf's core to deliver to the audit log and the pull statistics and delete an hour later. A registry
 * that runs alone (`wharf start registry`) on a database no core has started on has nobody to deliver them, so they
 * would pile up for ever: it deletes them itself, delivered or not, once they are `retentionMs` old. Once a core has
 * started on the database, even after this registry and even during a trim, every event is left to it.
 *
 * Resolves to how many events were deleted, or null when a core had started before the trim began.
 */
export async function trimEventsNoCoreDelivers(
  repository: RegistryRepository,
  options: EventTrimOptions = {},
): Promise<number | null> {
  const retentionMs = options.retentionMs ?? STANDALONE_EVENT_RETENTION_MS;
  const batchSize = options.batchSize ?? TRIM_BATCH;
  if (await repository.coreHasStarted()) return null;
  let discarded = 0;
  let afterId = 0;
  while (!options.shouldStop?.()) {
    const { deleted, lastId } = await repository.discardEventsNoCoreDelivers(retentionMs, batchSize, afterId);
    discarded += deleted;
    if (deleted < batchSize || lastId === null) break;
    afterId = lastId;
  }
  return discarded;
}

/**
 * Trims at once and then every `intervalMs`. The returned function stops the schedule; it resolves once a trim that
 * is running has finished its current batch, so the caller can close the database after it.
 */
export function scheduleEventTrim(
  repository: RegistryRepository,
  log: EventTrimLogger,
  options: Omit<EventTrimOptions, 'shouldStop'> & { intervalMs?: number } = {},
): () => Promise<void> {
  let coreReported = false;
  return repeatInBackground(
    async (stopped) => {
      try {
        const discarded = await trimEventsNoCoreDelivers(repository, { ...options, shouldStop: stopped });
        if (discarded === null) {
          if (!coreReported)
            log.info({}, 'events are left for Wharf core to deliver: a core has started on this database');
          coreReported = true;
        } else if (discarded > 0) {
          log.info(
            { discarded },
            'deleted events an hour old: no Wharf core has started on this database to deliver them',
          );
        }
      } catch (error) {
        log.error({ err: error }, 'event trim failed');
      }
    },
    options.intervalMs ?? TRIM_INTERVAL_MS,
    true,
  );
}
