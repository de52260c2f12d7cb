import { type FormEvent, useId, useMemo, useState } from 'react';
import { useSearchParams } from 'react-router';
import { type Page } from '../../api/paging.js';
import { type ResponseOf, type ItemOf } from '../../api/types.js';
import { Badge } from '../../components/Badge.js';
import shared from '../../components/common/common.module.css';
import { formatDate } from '../../lib/format.js';

export type AuditLog = ItemOf<ResponseOf<'/api/v2.0/audit-logs'>>;
export type AuditLogPage = Page<AuditLog>;

/** The operations Wharf records. */
export const OPERATIONS = ['create', 'update', 'delete', 'pull'] as const;

export interface LogFilters {
  username: string;
  resource: string;
  operation: string;
  /** Days as the date field gives them, `2026-11-23`, in the user's time zone. */
  from: string;
  to: string;
}

const FILTER_KEYS = ['username', 'resource', 'operation', 'from', 'to'] as const;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Start of a local day as an instant the server reads (UTC, ISO 8601); undefined for a malformed day. */
function dayStart(day: string, offsetDays = 0): string | undefined {
  if (!DATE.test(day)) return undefined;
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const start = new Date(y, m - 1, d + offsetDays);
  return Number.isNaN(start.getTime()) ? undefined : start.toISOString();
}

/**
 * Harbor's `q` for the filters: fuzzy user name and resource, exact operation, and a time range whose end day is
 * included. Values are percent-encoded so that a "," typed in a field cannot start another term.
 */
export function logQuery(filters: LogFilters): string | undefined {
  const terms: string[] = [];
  if (filters.username) terms.push(`username=~${encodeURIComponent(filters.username)}`);
  if (filters.resource) terms.push(`resource=~${encodeURIComponent(filters.resource)}`);
  if (filters.operation) terms.push(`operation=${encodeURIComponent(filters.operation)}`);
  const from = dayStart(filters.from);
  // The end day counts whole: up to the start of the next one (the range's bounds are inclusive; a record exactly
  // at midnight is rare enough).
  const to = dayStart(filters.to, 1);
  if (from || to) terms.push(`op_time=[${from ?? ''}~${to ?? ''}]`);
  return terms.length > 0 ? terms.join(',') : undefined;
}

/** The filters of a log list, kept in the address like the page (`?username=alice&operation=delete`). */
export function useLogFilters(): [LogFilters, (filters: LogFilters) => void] {
  const [params, setParams] = useSearchParams();
  const filters = useMemo<LogFilters>(
    () => ({
      username: params.get('username') ?? '',
      resource: params.get('resource') ?? '',
      operation: params.get('operation') ?? '',
      from: params.get('from') ?? '',
      to: params.get('to') ?? '',
    }),
    [params],
  );
  const setFilters = (next: LogFilters) =>
    setParams(
      (previous) => {
        const updated = new URLSearchParams(previous);
        for (const key of FILTER_KEYS) {
          const value = next[key].trim();
          if (value) updated.set(key, value);
          else updated.delete(key);
        }
        updated.delete('page');
        return updated;
      },
      { replace: true },
    );
  return [filters, setFilters];
}

export function hasFilters(filters: LogFilters): boolean {
  return FILTER_KEYS.some((key) => filters[key] !== '');
}

const EMPTY: LogFilters = { username: '', resource: '', operation: '', from: '', to: '' };

/** The filter form of a log: user name, resource, operation and a date range, applied with "Filter". */
export function LogFilterForm({ value, onApply }: { value: LogFilters; onApply: (filters: LogFilters) => void }) {
  const id = useId();
  const [draft, setDraft] = useState(value);
  const [applied, setApplied] = useState(value);
  // Follow the address when its filters change under the form (back button, a link).
  if (FILTER_KEYS.some((key) => applied[key] !== value[key])) {
    setApplied(value);
    setDraft(value);
  }
  const invalidRange = draft.from !== '' && draft.to !== '' && draft.from > draft.to;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!invalidRange) onApply(draft);
  }

  const field = (key: 'username' | 'resource', label: string, placeholder: string) => (
    <div className="field">
      <label htmlFor={`${id}-${key}`}>{label}</label>
      <input
        id={`${id}-${key}`}
        type="search"
        value={draft[key]}
        placeholder={placeholder}
        maxLength={255}
        onChange={(e) => setDraft({ ...draft, [key]: e.target.value })}
      />
    </div>
  );

  return (
    <form className="toolbar" onSubmit={submit} aria-label="Filter the log">
      {field('username', 'User name', 'Who did it')}
      {field('resource', 'Resource', 'e.g. library/nginx:1.25')}
      <div className="field">
        <label htmlFor={`${id}-operation`}>Operation</label>
        <select
          id={`${id}-operation`}
          value={draft.operation}
          onChange={(e) => setDraft({ ...draft, operation: e.target.value })}
        >
          <option value="">Any</option>
          {OPERATIONS.map((operation) => (
            <option key={operation} value={operation}>
              {operation.charAt(0).toUpperCase() + operation.slice(1)}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${id}-from`}>From</label>
        <input
          id={`${id}-from`}
          type="date"
          className={shared.dateInput}
          value={draft.from}
          onChange={(e) => setDraft({ ...draft, from: e.target.value })}
        />
      </div>
      <div className="field">
        <label htmlFor={`${id}-to`}>To</label>
        <input
          id={`${id}-to`}
          type="date"
          className={shared.dateInput}
          value={draft.to}
          aria-invalid={invalidRange ? true : undefined}
          onChange={(e) => setDraft({ ...draft, to: e.target.value })}
        />
      </div>
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={invalidRange}>
          Filter
        </button>
        {hasFilters(value) || hasFilters(draft) ? (
          <button
            type="button"
            className="button"
            onClick={() => {
              setDraft(EMPTY);
              onApply(EMPTY);
            }}
          >
            Clear filters
          </button>
        ) : null}
      </div>
      {invalidRange ? (
        <p className="field-error" role="alert">
          The “From” day must not be after the “To” day.
        </p>
      ) : null}
    </form>
  );
}

const OPERATION_TONES: Record<string, 'success' | 'info' | 'danger' | 'neutral'> = {
  create: 'success',
  update: 'info',
  delete: 'danger',
  pull: 'neutral',
};

/** Audit log records, newest first as the server gives them. */
export function AuditLogTable({ logs, caption }: { logs: readonly AuditLog[]; caption: string }) {
  return (
    <div className="table-wrap">
      <table className="table">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">User name</th>
            <th scope="col">Operation</th>
            <th scope="col">Resource type</th>
            <th scope="col">Resource</th>
          </tr>
        </thead>
        <tbody>
          {logs.map((log) => (
            <tr key={log.id}>
              <td className="nowrap">
                <time dateTime={log.op_time}>{formatDate(log.op_time)}</time>
              </td>
              <td>{log.username}</td>
              <td>
                <Badge tone={OPERATION_TONES[log.operation] ?? 'neutral'}>{log.operation}</Badge>
              </td>
              <td>{log.resource_type}</td>
              <td className={`mono ${shared.wrapAnywhere}`}>{log.resource}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
