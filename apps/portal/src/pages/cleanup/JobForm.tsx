import { type FormEvent, type ReactNode, useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { WharfApiError } from '@wharf/api-client';
import { ScheduleField } from '../../components/ScheduleField.js';
import { useToast } from '../../components/Toast.js';
import { errorText } from '../../lib/errors.js';
import { formatDate } from '../../lib/format.js';
import { SCHEDULE_LABELS, type ScheduleKind } from '../../lib/schedule.js';
import { scheduleKindOf, scheduleObjectOf, scheduleProblem, utcText } from './cleanup.js';
import { type StoredSchedule, type SystemJob, jobKey } from './jobs.js';

/**
 * A system job's options (the children), its buttons to run it now, dry or not, and its schedule, which saves the
 * options as the parameters of every scheduled run. The options are checked before anything is sent: `invalid` says
 * they are wrong and `onCheck` asks the options to show why.
 */
export function JobForm({
  job,
  stored,
  runLabel,
  invalid,
  onCheck,
  parametersOf,
  children,
}: {
  job: SystemJob;
  stored: StoredSchedule;
  runLabel: string;
  invalid: boolean;
  onCheck: () => void;
  parametersOf: (dryRun: boolean) => Record<string, unknown>;
  children: ReactNode;
}) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const run = useMutation({
    mutationFn: async (dryRun: boolean) => {
      await job.runNow(parametersOf(dryRun));
      await queryClient.invalidateQueries({ queryKey: jobKey(job.kind, 'runs') });
    },
    onSuccess: (_, dryRun) =>
      toast.success(
        dryRun ? `A dry run of ${job.label} started: nothing will be deleted.` : `The ${job.label} started.`,
      ),
  });

  function start(dryRun: boolean) {
    onCheck();
    if (invalid) return;
    run.mutate(dryRun);
  }

  // A run already under way is no failure of the form: the server's sentence says which one to wait for.
  const busy = run.error instanceof WharfApiError && run.error.status === 409;
  return (
    <>
      <form
        className="form section"
        noValidate
        aria-label={`Options of ${job.label}`}
        onSubmit={(e) => e.preventDefault()}
      >
        <h3>Options</h3>
        {children}
        {run.isError ? (
          <p className={busy ? 'notice' : 'form-error'} role={busy ? 'status' : 'alert'}>
            {errorText(run.error, `start the ${job.label}`)}
          </p>
        ) : null}
        <div className="form-actions">
          <button type="button" className="button" disabled={run.isPending} onClick={() => start(true)}>
            Dry Run
          </button>
          <button type="button" className="button button-primary" disabled={run.isPending} onClick={() => start(false)}>
            {runLabel}
          </button>
        </div>
      </form>
      {/* Keyed by what is stored: a save starts the schedule's fields over from it. */}
      <JobSchedule
        key={`${stored.schedule.type} ${stored.schedule.cron ?? ''} ${stored.update_time ?? ''}`}
        job={job}
        stored={stored}
        invalid={invalid}
        onCheck={onCheck}
        parameters={() => parametersOf(false)}
      />
    </>
  );
}

/** The job's schedule: None, Hourly, Daily, Weekly or a custom 6-field cron (UTC), and when it runs next. */
function JobSchedule({
  job,
  stored,
  invalid,
  onCheck,
  parameters,
}: {
  job: SystemJob;
  stored: StoredSchedule;
  invalid: boolean;
  onCheck: () => void;
  parameters: () => Record<string, unknown>;
}) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [kind, setKind] = useState<ScheduleKind>(scheduleKindOf(stored.schedule));
  const [custom, setCustom] = useState(stored.schedule.cron ?? '');
  const [checked, setChecked] = useState(false);
  const exists = stored.schedule.type !== 'None';
  const problem = scheduleProblem(kind, custom);
  const next = stored.schedule.next_scheduled_time;

  const save = useMutation({
    mutationFn: async () => {
      const schedule = scheduleObjectOf(kind, custom);
      await job.setSchedule(schedule, schedule.type === 'None' ? {} : parameters(), exists);
      await queryClient.invalidateQueries({ queryKey: jobKey(job.kind, 'schedule') });
    },
    onSuccess: () =>
      toast.success(
        kind === 'none'
          ? `The ${job.label} is no longer scheduled.`
          : `The ${job.label} schedule is now ${SCHEDULE_LABELS[kind].toLowerCase()}.`,
      ),
  });

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setChecked(true);
    if (problem) return;
    if (kind !== 'none') {
      onCheck();
      if (invalid) return;
    }
    save.mutate();
  }

  return (
    <form className="form section" onSubmit={submit} noValidate aria-label={`Schedule of ${job.label}`}>
      <h3>Schedule</h3>
      <ScheduleField
        kind={kind}
        custom={custom}
        problem={checked ? problem : undefined}
        hints={{
          none: 'It runs only when started here.',
          custom: 'Six fields, seconds first, in UTC: "0 0 3 * * *" runs at 03:00 UTC every day.',
          preset: `Cron ${scheduleObjectOf(kind, '').cron} (seconds first, UTC), with the options above.`,
        }}
        onKindChange={setKind}
        onCustomChange={setCustom}
      />
      {exists && next ? (
        <p>
          <strong>Next run:</strong> {formatDate(next)} ({utcText(next)})
        </p>
      ) : null}
      {save.isError ? (
        <p className="form-error" role="alert">
          {errorText(save.error, `save the ${job.label} schedule`)}
        </p>
      ) : null}
      <div className="form-actions">
        <button type="submit" className="button" disabled={save.isPending}>
          {save.isPending ? 'Saving…' : 'Save schedule'}
        </button>
      </div>
    </form>
  );
}
