import { useId } from 'react';
import { SCHEDULE_LABELS, type ScheduleKind } from '../lib/schedule.js';

export interface ScheduleFieldProps {
  kind: ScheduleKind;
  /** The custom cron as typed. */
  custom: string;
  /** What is wrong with the custom cron, once it is to be shown; the hint is shown otherwise. */
  problem?: string;
  /** The hint under the field for each choice: none, custom, and the presets (which may name their cron). */
  hints: { none: string; custom: string; preset: string };
  onKindChange: (kind: ScheduleKind) => void;
  onCustomChange: (cron: string) => void;
}

/** The choice of a schedule: None, Hourly, Daily, Weekly, or Custom with its 6-field cron typed next to it. */
export function ScheduleField({ kind, custom, problem, hints, onKindChange, onCustomChange }: ScheduleFieldProps) {
  const ids = { kind: useId(), cron: useId() };
  return (
    <div className="field">
      <label htmlFor={ids.kind}>Schedule</label>
      <div className="field-row">
        <select id={ids.kind} value={kind} onChange={(e) => onKindChange(e.target.value as ScheduleKind)}>
          {(Object.keys(SCHEDULE_LABELS) as ScheduleKind[]).map((k) => (
            <option key={k} value={k}>
              {SCHEDULE_LABELS[k]}
            </option>
          ))}
        </select>
        {kind === 'custom' ? (
          <>
            <label htmlFor={ids.cron} className="visually-hidden">
              Cron
            </label>
            <input
              id={ids.cron}
              type="text"
              spellCheck={false}
              placeholder="0 0 3 * * *"
              value={custom}
              aria-invalid={problem ? true : undefined}
              aria-describedby={`${ids.cron}-help`}
              onChange={(e) => onCustomChange(e.target.value)}
            />
          </>
        ) : null}
      </div>
      {problem ? (
        <p id={`${ids.cron}-help`} className="field-error" role="alert">
          {problem}
        </p>
      ) : (
        <span id={`${ids.cron}-help`} className="hint">
          {kind === 'none' ? hints.none : kind === 'custom' ? hints.custom : hints.preset}
        </span>
      )}
    </div>
  );
}
