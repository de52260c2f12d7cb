import { useMemo } from 'react';
import { type components, unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { type Page, toPage } from '../../api/paging.js';
import type { ScheduleObject, SystemJobRun } from './cleanup.js';

/** A system job's schedule as the API answers it; only `schedule` (type None) when there is none. */
export interface StoredSchedule {
  id?: number;
  schedule: ScheduleObject;
  parameters?: Record<string, unknown>;
  update_time?: string;
}

export type JobKind = 'gc' | 'purgeaudit';

/**
 * The calls of one of Harbor's system jobs (`/system/gc`, `/system/purgeaudit`), so the pages of both share their
 * components. `label` names the job in sentences ("garbage collection").
 */
export interface SystemJob {
  kind: JobKind;
  label: string;
  history(page: number, pageSize: number): Promise<Page<SystemJobRun>>;
  /** Runs the job now (schedule type Manual) with these parameters; a 409 while a run is unfinished. */
  runNow(parameters: Record<string, unknown>): Promise<void>;
  stop(id: number): Promise<void>;
  log(id: number): Promise<string>;
  schedule(): Promise<StoredSchedule>;
  /** Sets the schedule: POST when there is none yet, PUT to change it (type None removes it), as Harbor's portal. */
  setSchedule(schedule: ScheduleObject, parameters: Record<string, unknown>, exists: boolean): Promise<void>;
}

type ScheduleBody = components['schemas']['Schedule'];

/** Query keys of a system job's data. */
export function jobKey(kind: JobKind, ...rest: (string | number | object)[]) {
  return ['system-jobs', kind, ...rest] as const;
}

export function useGcJob(): SystemJob {
  const api = useApi();
  return useMemo(
    () => ({
      kind: 'gc',
      label: 'garbage collection',
      history: async (page, pageSize) =>
        toPage(
          await api.GET('/api/v2.0/system/gc', { params: { query: { page, page_size: pageSize } } }),
          page,
          pageSize,
        ),
      runNow: async (parameters) => {
        unwrap(await api.POST('/api/v2.0/system/gc/schedule', { body: { schedule: { type: 'Manual' }, parameters } }));
      },
      stop: async (id) => {
        unwrap(await api.PUT('/api/v2.0/system/gc/{gc_id}', { params: { path: { gc_id: id } } }));
      },
      log: async (id) =>
        unwrap(await api.GET('/api/v2.0/system/gc/{gc_id}/log', { params: { path: { gc_id: id } }, parseAs: 'text' })),
      schedule: async () => unwrap(await api.GET('/api/v2.0/system/gc/schedule')),
      setSchedule: async (schedule, parameters, exists) => {
        const body: ScheduleBody = { schedule, parameters };
        unwrap(
          exists
            ? await api.PUT('/api/v2.0/system/gc/schedule', { body })
            : await api.POST('/api/v2.0/system/gc/schedule', { body }),
        );
      },
    }),
    [api],
  );
}

export function usePurgeJob(): SystemJob {
  const api = useApi();
  return useMemo(
    () => ({
      kind: 'purgeaudit',
      label: 'audit log purge',
      history: async (page, pageSize) =>
        toPage(
          await api.GET('/api/v2.0/system/purgeaudit', { params: { query: { page, page_size: pageSize } } }),
          page,
          pageSize,
        ),
      runNow: async (parameters) => {
        unwrap(
          await api.POST('/api/v2.0/system/purgeaudit/schedule', {
            body: { schedule: { type: 'Manual' }, parameters },
          }),
        );
      },
      stop: async (id) => {
        unwrap(await api.PUT('/api/v2.0/system/purgeaudit/{purge_id}', { params: { path: { purge_id: id } } }));
      },
      log: async (id) =>
        unwrap(
          await api.GET('/api/v2.0/system/purgeaudit/{purge_id}/log', {
            params: { path: { purge_id: id } },
            parseAs: 'text',
          }),
        ),
      schedule: async () => unwrap(await api.GET('/api/v2.0/system/purgeaudit/schedule')),
      setSchedule: async (schedule, parameters, exists) => {
        const body: ScheduleBody = { schedule, parameters };
        unwrap(
          exists
            ? await api.PUT('/api/v2.0/system/purgeaudit/schedule', { body })
            : await api.POST('/api/v2.0/system/purgeaudit/schedule', { body }),
        );
      },
    }),
    [api],
  );
}
