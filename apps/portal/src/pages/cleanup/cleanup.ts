import type { components } from '@wharf/api-client';
import { SCHEDULE_CRON, type ScheduleKind, cronProblem } from '../../lib/schedule.js';

/** One run of a system job (Harbor's `ExecHistory`). */
export type SystemJobRun = components['schemas']['ExecHistory'];
/** Harbor's schedule object: `type`, `cron`, `next_scheduled_time`. */
export type ScheduleObject = components['schemas']['ScheduleObj'];

/** Garbage collection's options as typed in the form. */
export interface GcFields {
  deleteUntagged: boolean;
  workers: string;
  timeWindow: string;
}

export const DEFAULT_GC_FIELDS: GcFields = { deleteUntagged: false, workers: '1', timeWindow: '2' };

export const MAX_GC_WORKERS = 10;
/** The server's bound on `time_window`: a leap year of hours. */
export const MAX_TIME_WINDOW_HOURS = 8784;

export type GcProblems = Partial<Record<'workers' | 'timeWindow', string>>;

/** The server's checks of garbage collection's parameters, as sentences. */
export function gcProblems(fields: GcFields): GcProblems {
  const problems: GcProblems = {};
  if (!/^[0-9]{1,2}$/.test(fields.workers.trim()) || !inRange(Number(fields.workers), 1, MAX_GC_WORKERS)) {
    problems.workers = `Enter a whole number of workers from 1 to ${MAX_GC_WORKERS}.`;
  }
  if (
    !/^[0-9]{1,4}(\.[0-9]+)?$/.test(fields.timeWindow.trim()) ||
    !inRange(Number(fields.timeWindow), 0, MAX_TIME_WINDOW_HOURS)
  ) {
    problems.timeWindow = `Enter a number of hours from 0 to ${MAX_TIME_WINDOW_HOURS}.`;
  }
  return problems;
}

/** Harbor's parameters of a garbage collection from checked fields. */
export function gcParameters(fields: GcFields, dryRun: boolean) {
  return {
    delete_untagged: fields.deleteUntagged,
    workers: Number(fields.workers),
    time_window: Number(fields.timeWindow),
    dry_run: dryRun,
  };
}

/** The form's fields from stored parameters (a schedule's), the defaults filling what is missing. */
export function gcFieldsOf(parameters: Record<string, unknown> | undefined): GcFields {
  const p = parameters ?? {};
  return {
    deleteUntagged: p.delete_untagged === true,
    workers: typeof p.workers === 'number' ? String(p.workers) : DEFAULT_GC_FIELDS.workers,
    timeWindow: typeof p.time_window === 'number' ? String(p.time_window) : DEFAULT_GC_FIELDS.timeWindow,
  };
}

/** The resources the audit log records, with the operations recorded for each (what a purge may select). */
export const AUDIT_EVENT_GROUPS: readonly { resource: string; label: string; operations: readonly string[] }[] = [
  { resource: 'artifact', label: 'Artifact', operations: ['create', 'delete', 'pull'] },
  { resource: 'tag', label: 'Tag', operations: ['create', 'delete'] },
  { resource: 'repository', label: 'Repository', operations: ['update', 'delete'] },
  { resource: 'project', label: 'Project', operations: ['create', 'update', 'delete'] },
  { resource: 'member', label: 'Member', operations: ['create', 'update', 'delete'] },
  { resource: 'robot', label: 'Robot account', operations: ['create', 'update', 'delete'] },
  { resource: 'user', label: 'User', operations: ['create', 'update', 'delete'] },
  { resource: 'blob', label: 'Blob', operations: ['delete'] },
  { resource: 'quota', label: 'Quota', operations: ['update'] },
  { resource: 'configuration', label: 'Configuration', operations: ['update'] },
];

/** Every event type the purge offers, as the server names them: `create_artifact`, `pull_artifact`… */
export const AUDIT_EVENT_TYPES: readonly string[] = AUDIT_EVENT_GROUPS.flatMap((group) =>
  group.operations.map((operation) => `${operation}_${group.resource}`),
);

export type RetentionUnit = 'hours' | 'days';

/** The audit log purge's options as typed in the form. */
export interface PurgeFields {
  retention: string;
  unit: RetentionUnit;
  eventTypes: string[];
}

export const DEFAULT_PURGE_FIELDS: PurgeFields = { retention: '30', unit: 'days', eventTypes: [...AUDIT_EVENT_TYPES] };

/** The server's bound on `audit_retention_hour`: ten years. */
export const MAX_RETENTION_HOURS = 24 * 366 * 10;

export type PurgeProblems = Partial<Record<'retention' | 'eventTypes', string>>;

function retentionHours(fields: PurgeFields): number {
  return Number(fields.retention) * (fields.unit === 'days' ? 24 : 1);
}

/** The server's checks of the purge's parameters, as sentences. */
export function purgeProblems(fields: PurgeFields): PurgeProblems {
  const problems: PurgeProblems = {};
  const max = fields.unit === 'days' ? MAX_RETENTION_HOURS / 24 : MAX_RETENTION_HOURS;
  if (!/^[0-9]{1,6}$/.test(fields.retention.trim()) || !inRange(Number(fields.retention), 1, max)) {
    problems.retention = `Enter a whole number of ${fields.unit} from 1 to ${max}.`;
  }
  if (fields.eventTypes.length === 0) problems.eventTypes = 'Choose at least one event type to purge.';
  return problems;
}

/** Harbor's parameters of an audit log purge from checked fields. */
export function purgeParameters(fields: PurgeFields, dryRun: boolean) {
  return {
    audit_retention_hour: retentionHours(fields),
    include_event_types: AUDIT_EVENT_TYPES.filter((type) => fields.eventTypes.includes(type)).join(','),
    dry_run: dryRun,
  };
}

/**
 * The form's fields from stored parameters: whole days are shown in days; an operation alone (`pull`, as Harbor's
 * earlier versions stored it) checks every event type of that operation.
 */
export function purgeFieldsOf(parameters: Record<string, unknown> | undefined): PurgeFields {
  const p = parameters ?? {};
  const hours = Number(p.audit_retention_hour);
  const stored = typeof p.include_event_types === 'string' ? p.include_event_types : undefined;
  const fields: PurgeFields = { ...DEFAULT_PURGE_FIELDS };
  if (Number.isInteger(hours) && hours > 0) {
    fields.retention = String(hours % 24 === 0 ? hours / 24 : hours);
    fields.unit = hours % 24 === 0 ? 'days' : 'hours';
  }
  if (stored !== undefined) {
    const listed = stored
      .split(',')
      .map((type) => type.trim().toLowerCase())
      .filter(Boolean);
    fields.eventTypes = AUDIT_EVENT_TYPES.filter(
      (type) => listed.includes(type) || listed.includes(type.slice(0, type.indexOf('_'))),
    );
  }
  return fields;
}

/** Which choice of the form a stored schedule is. */
export function scheduleKindOf(schedule: ScheduleObject | undefined): ScheduleKind {
  switch (schedule?.type) {
    case 'Hourly':
      return 'hourly';
    case 'Daily':
      return 'daily';
    case 'Weekly':
      return 'weekly';
    case 'Custom':
    case 'Schedule':
      return 'custom';
    case 'Manual':
    case 'None':
    case undefined:
      return 'none';
  }
}

/** The schedule object the API takes for a choice of the form; a custom cron is sent with its spaces tidied. */
export function scheduleObjectOf(kind: ScheduleKind, custom: string): ScheduleObject {
  switch (kind) {
    case 'none':
      return { type: 'None' };
    case 'custom':
      return { type: 'Custom', cron: custom.trim().replace(/\s+/g, ' ') };
    case 'hourly':
      return { type: 'Hourly', cron: SCHEDULE_CRON.hourly };
    case 'daily':
      return { type: 'Daily', cron: SCHEDULE_CRON.daily };
    case 'weekly':
      return { type: 'Weekly', cron: SCHEDULE_CRON.weekly };
  }
}

/** A sentence about a custom cron that cannot be right; undefined for the presets. */
export function scheduleProblem(kind: ScheduleKind, custom: string): string | undefined {
  return kind === 'custom' ? cronProblem(custom.trim().replace(/\s+/g, ' ')) : undefined;
}

/** Whether a run was a dry run, from the parameters it was given (`job_parameters`, JSON text). */
export function isDryRun(run: Pick<SystemJobRun, 'job_parameters'>): boolean {
  try {
    const parameters: unknown = JSON.parse(run.job_parameters);
    return typeof parameters === 'object' && parameters !== null && 'dry_run' in parameters
      ? parameters.dry_run === true
      : false;
  } catch {
    return false;
  }
}

/** A time as UTC, to the minute: "2026-12-08 00:00 UTC". */
export function utcText(value: string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return '';
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

const MB = 1024 * 1024;
const GC_SUMMARY =
  /(gc finished, deleted|dry run finished, nothing was deleted; it would delete) .*? blobs \(([0-9.]+) MB\), [0-9]+ orphan blob files \(([0-9.]+) MB\) and [0-9]+ abandoned uploads \(([0-9.]+) MB\)/;

/**
 * The space a garbage collection freed (or, dry, would free) as its log's closing line states it: its blobs, orphan
 * files and abandoned uploads together, in bytes to the log's precision. Undefined while the run has not said so.
 */
export function freedSpace(log: string): { bytes: number; dryRun: boolean } | undefined {
  const lines = log.trimEnd().split('\n');
  for (const line of lines.slice(-5).reverse()) {
    const match = GC_SUMMARY.exec(line);
    if (match) {
      const megabytes = Number(match[2]) + Number(match[3]) + Number(match[4]);
      return { bytes: Math.round(megabytes * MB), dryRun: match[1]!.startsWith('dry run') };
    }
  }
  return undefined;
}

function inRange(value: number, min: number, max: number): boolean {
  return Number.isFinite(value) && value >= min && value <= max;
}
