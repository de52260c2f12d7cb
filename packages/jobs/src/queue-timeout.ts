import { QueueTimeoutError } from './errors.js';

/** How long a server waits for the job queue before it answers without it: BullMQ alone waits for Redis for ever. */
export const QUEUE_TIMEOUT_MS = 10_000;

/** The outcome of a call to the job queue, or a QueueTimeoutError once it has not answered within `ms`. */
export async function withinQueueTimeout<T>(work: Promise<T>, ms = QUEUE_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new QueueTimeoutError(ms)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
