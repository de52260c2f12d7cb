import type { components } from '@wharf/api-client';

export type JobQueue = components['schemas']['JobQueue'];
export type WorkerPool = components['schemas']['WorkerPool'];
export type Worker = components['schemas']['Worker'];
export type ScheduleTask = components['schemas']['ScheduleTask'];
export type QueueAction = components['schemas']['ActionRequest']['action'];

/** How often the dashboard asks again for the queues, workers and schedules. */
export const REFRESH_MS = 5000;

/** Harbor's name for every job type at once. */
export const ALL_JOB_TYPES = 'all';

/** The job type that starts every scheduled run: pausing it pauses all schedules, as Harbor's scheduler job. */
export const SCHEDULED_RUN = 'SCHEDULED_RUN';

/** Query keys of the dashboard's data; `dashboardKey()` names all of it, for a refresh. */
export function dashboardKey(...rest: (string | number | object)[]) {
  return ['jobservice', ...rest] as const;
}

/** How long the oldest pending job has waited: "0 s", "45 s", "2 min 5 s", "1 h 3 min", "2 d 4 h". */
export function waitText(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/**
 * The job types an action is sent for: `all` when every listed type is chosen (one request, as Harbor's portal
 * sends), else each chosen type, in the order listed.
 */
export function actionTargets(listed: readonly string[], chosen: ReadonlySet<string>): string[] {
  const picked = listed.filter((type) => chosen.has(type));
  if (picked.length > 0 && picked.length === listed.length) return [ALL_JOB_TYPES];
  return picked;
}

/** The workers of each pool, in the order the pools are listed; a pool that sent none has an empty list. */
export function workersByPool(pools: readonly WorkerPool[], workers: readonly Worker[]): Map<string, Worker[]> {
  const byPool = new Map<string, Worker[]>(pools.map((pool) => [pool.worker_pool_id, []]));
  for (const worker of workers) byPool.get(worker.pool_id)?.push(worker);
  return byPool;
}

const ACTION_WORDS: Record<QueueAction, { verb: string; done: string }> = {
  pause: { verb: 'Pause', done: 'paused' },
  resume: { verb: 'Resume', done: 'resumed' },
  stop: { verb: 'Stop', done: 'stopped' },
};

/** "Pause", "Resume", "Stop". */
export function actionLabel(action: QueueAction): string {
  return ACTION_WORDS[action].verb;
}

/** The sentence after an action: "GARBAGE_COLLECTION is paused.", "Every job type is stopped." */
export function actionDone(action: QueueAction, targets: readonly string[]): string {
  const what = targets.includes(ALL_JOB_TYPES)
    ? 'Every job type is'
    : targets.length === 1
      ? `${targets[0]} is`
      : `${targets.join(', ')} are`;
  return `${what} ${ACTION_WORDS[action].done}.`;
}
