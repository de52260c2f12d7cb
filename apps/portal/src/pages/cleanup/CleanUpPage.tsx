import { type ReactNode, useId, useState } from 'react';
import { Outlet } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { useIsAdmin } from '../../api/session.js';
import { NotAllowed } from '../../components/Guards.js';
import { PageHeader } from '../../components/PageHeader.js';
import { QueryState } from '../../components/QueryState.js';
import { Tabs } from '../../components/Tabs.js';
import {
  AUDIT_EVENT_GROUPS,
  AUDIT_EVENT_TYPES,
  MAX_GC_WORKERS,
  type GcFields,
  type PurgeFields,
  type RetentionUnit,
  gcFieldsOf,
  gcParameters,
  gcProblems,
  purgeFieldsOf,
  purgeParameters,
  purgeProblems,
} from './cleanup.js';
import { JobForm } from './JobForm.js';
import { JobRuns } from './JobRuns.js';
import { type StoredSchedule, type SystemJob, jobKey, useGcJob, usePurgeJob } from './jobs.js';

/** Administration → Clean Up (/admin/cleanup): garbage collection and audit log rotation, one tab each. */
export function CleanUpPage() {
  const admin = useIsAdmin();
  if (!admin) return <NotAllowed what="clean up" />;
  return (
    <section>
      <PageHeader
        title="Clean Up"
        description="Free the storage no artifact uses any more, and keep the audit log from growing without end."
      />
      <Tabs
        label="Clean up"
        tabs={[
          { label: 'Garbage Collection', to: '/admin/cleanup/gc' },
          { label: 'Audit Log Rotation', to: '/admin/cleanup/purge-audit' },
        ]}
      />
      <Outlet />
    </section>
  );
}

/** Loads the job's schedule, whose parameters the options start from, then renders the tab. */
function WithSchedule({ job, children }: { job: SystemJob; children: (stored: StoredSchedule) => ReactNode }) {
  const schedule = useQuery({ queryKey: jobKey(job.kind, 'schedule'), queryFn: () => job.schedule() });
  return (
    <QueryState query={schedule} action={`load the ${job.label} schedule`}>
      {children}
    </QueryState>
  );
}

export function GcTab() {
  const job = useGcJob();
  return (
    <>
      <p className="hint">
        Deletes the blobs no artifact references any more, and with them the space they take. Pushes and pulls go on
        while it runs.
      </p>
      <WithSchedule job={job}>{(stored) => <GcOptions job={job} stored={stored} />}</WithSchedule>
      <JobRuns job={job} title="Garbage collection history" />
    </>
  );
}

function GcOptions({ job, stored }: { job: SystemJob; stored: StoredSchedule }) {
  const ids = { untagged: useId(), workers: useId(), window: useId() };
  const [fields, setFields] = useState<GcFields>(() => gcFieldsOf(stored.parameters));
  const [checked, setChecked] = useState(false);
  const problems = gcProblems(fields);
  const shown = checked ? problems : {};
  return (
    <JobForm
      job={job}
      stored={stored}
      runLabel="GC Now"
      invalid={Object.keys(problems).length > 0}
      onCheck={() => setChecked(true)}
      parametersOf={(dryRun) => gcParameters(fields, dryRun)}
    >
      <div className="field field-inline">
        <input
          id={ids.untagged}
          type="checkbox"
          checked={fields.deleteUntagged}
          onChange={(e) => setFields({ ...fields, deleteUntagged: e.target.checked })}
        />
        <label htmlFor={ids.untagged}>Delete untagged artifacts</label>
      </div>
      <div className="field">
        <label htmlFor={ids.workers}>Workers</label>
        <input
          id={ids.workers}
          type="number"
          min={1}
          max={MAX_GC_WORKERS}
          step={1}
          value={fields.workers}
          aria-invalid={shown.workers ? true : undefined}
          aria-describedby={`${ids.workers}-help`}
          onChange={(e) => setFields({ ...fields, workers: e.target.value })}
        />
        <FieldHelp id={`${ids.workers}-help`} problem={shown.workers}>
          Batches of blobs deleted at once, 1 to {MAX_GC_WORKERS}.
        </FieldHelp>
      </div>
      <div className="field">
        <label htmlFor={ids.window}>Time window (hours)</label>
        <input
          id={ids.window}
          type="number"
          min={0}
          step="any"
          value={fields.timeWindow}
          aria-invalid={shown.timeWindow ? true : undefined}
          aria-describedby={`${ids.window}-help`}
          onChange={(e) => setFields({ ...fields, timeWindow: e.target.value })}
        />
        <FieldHelp id={`${ids.window}-help`} problem={shown.timeWindow}>
          Blobs uploaded within this many hours are kept, so a push under way keeps its layers.
        </FieldHelp>
      </div>
    </JobForm>
  );
}

export function PurgeTab() {
  const job = usePurgeJob();
  return (
    <>
      <p className="hint">Deletes the audit log&apos;s records older than the retention, of the event types chosen.</p>
      <WithSchedule job={job}>{(stored) => <PurgeOptions job={job} stored={stored} />}</WithSchedule>
      <JobRuns job={job} title="Audit log rotation history" />
    </>
  );
}

function PurgeOptions({ job, stored }: { job: SystemJob; stored: StoredSchedule }) {
  const ids = { retention: useId(), unit: useId(), types: useId() };
  const [fields, setFields] = useState<PurgeFields>(() => purgeFieldsOf(stored.parameters));
  const [checked, setChecked] = useState(false);
  const problems = purgeProblems(fields);
  const shown = checked ? problems : {};

  function toggle(type: string, on: boolean) {
    setFields({
      ...fields,
      eventTypes: on ? [...fields.eventTypes, type] : fields.eventTypes.filter((t) => t !== type),
    });
  }

  return (
    <JobForm
      job={job}
      stored={stored}
      runLabel="Purge Now"
      invalid={Object.keys(problems).length > 0}
      onCheck={() => setChecked(true)}
      parametersOf={(dryRun) => purgeParameters(fields, dryRun)}
    >
      <div className="field">
        <label htmlFor={ids.retention}>Keep records for</label>
        <div className="field-row">
          <input
            id={ids.retention}
            type="number"
            min={1}
            step={1}
            value={fields.retention}
            aria-invalid={shown.retention ? true : undefined}
            aria-describedby={`${ids.retention}-help`}
            onChange={(e) => setFields({ ...fields, retention: e.target.value })}
          />
          <label htmlFor={ids.unit} className="visually-hidden">
            Unit
          </label>
          <select
            id={ids.unit}
            value={fields.unit}
            onChange={(e) => setFields({ ...fields, unit: e.target.value as RetentionUnit })}
          >
            <option value="hours">Hours</option>
            <option value="days">Days</option>
          </select>
        </div>
        <FieldHelp id={`${ids.retention}-help`} problem={shown.retention}>
          Records older than this are deleted.
        </FieldHelp>
      </div>
      <fieldset className="field" aria-describedby={`${ids.types}-help`}>
        <legend>Event types to purge</legend>
        <div className="button-row">
          <button
            type="button"
            className="button button-small"
            onClick={() => setFields({ ...fields, eventTypes: [...AUDIT_EVENT_TYPES] })}
          >
            Select all
          </button>
          <button
            type="button"
            className="button button-small"
            onClick={() => setFields({ ...fields, eventTypes: [] })}
          >
            Clear
          </button>
        </div>
        <div className="checkbox-grid">
          {AUDIT_EVENT_GROUPS.flatMap((group) =>
            group.operations.map((operation) => {
              const type = `${operation}_${group.resource}`;
              const id = `${ids.types}-${type}`;
              return (
                <span key={type} className="field-inline">
                  <input
                    id={id}
                    type="checkbox"
                    checked={fields.eventTypes.includes(type)}
                    onChange={(e) => toggle(type, e.target.checked)}
                  />
                  <label htmlFor={id}>{type}</label>
                </span>
              );
            }),
          )}
        </div>
        <FieldHelp id={`${ids.types}-help`} problem={shown.eventTypes}>
          Records of the other event types are kept however old.
        </FieldHelp>
      </fieldset>
    </JobForm>
  );
}

function FieldHelp({ id, problem, children }: { id: string; problem?: string; children: ReactNode }) {
  return problem ? (
    <p id={id} className="field-error" role="alert">
      {problem}
    </p>
  ) : (
    <span id={id} className="hint">
      {children}
    </span>
  );
}
