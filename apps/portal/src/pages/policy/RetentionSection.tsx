import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type components, unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { projectKey, useProject } from '../../api/project.js';
import { ConfirmDialog } from '../../components/ConfirmDialog.js';
import { QueryState } from '../../components/QueryState.js';
import { ScheduleField } from '../../components/ScheduleField.js';
import { useToast } from '../../components/Toast.js';
import { errorText } from '../../lib/errors.js';
import { RetentionRuleDialog } from './RetentionRuleDialog.js';
import { RetentionRuns } from './RetentionRuns.js';
import { type ScheduleKind, cronOf, cronProblem, scheduleKind, scheduleText } from '../../lib/schedule.js';
import {
  MAX_RULES,
  retentionRuleInput,
  retentionSentence,
  type RetentionMetadata,
  type RetentionPolicy,
  type RetentionRule,
} from './rules.js';

type RuleInput = components['schemas']['RetentionRule'];
type Editing = { kind: 'add' } | { kind: 'edit'; index: number } | { kind: 'delete'; index: number };

export interface RetentionPermissions {
  /** Add, change and delete rules and the schedule; run the policy, dry or not, and stop a run (the API asks the same). */
  change: boolean;
}

/** Query key of a retention policy by id. */
export function retentionKey(id: string) {
  return ['retentions', id] as const;
}

/**
 * A project's tag retention policy: its rules as sentences, added, edited and deleted in a dialog, and its schedule.
 * A project has no policy until its first rule is saved; the project's `retention_id` names it from then on. Below,
 * the policy's runs.
 */
export function RetentionSection({ may }: { may: RetentionPermissions }) {
  const api = useApi();
  const project = useProject();
  const queryClient = useQueryClient();
  const toast = useToast();
  const [created, setCreated] = useState<string | undefined>(undefined);
  const policyId = project.metadata?.retention_id || created;
  const [editing, setEditing] = useState<Editing | null>(null);

  const metadata = useQuery({
    queryKey: ['retentions', 'metadatas'],
    queryFn: async () => unwrap(await api.GET('/api/v2.0/retentions/metadatas')),
    staleTime: Infinity,
  });
  const policy = useQuery({
    enabled: policyId !== undefined,
    queryKey: retentionKey(policyId ?? ''),
    queryFn: async () =>
      unwrap(await api.GET('/api/v2.0/retentions/{id}', { params: { path: { id: String(policyId) } } })),
  });

  /** Saves the policy with these rules and this cron: replaces it, or creates the project's first one. */
  async function save(rules: RuleInput[], cron: string): Promise<void> {
    const body: components['schemas']['RetentionPolicy'] = {
      algorithm: 'or',
      rules,
      trigger: { kind: 'Schedule', settings: { cron } },
      scope: { level: 'project', ref: project.project_id },
    };
    if (policyId !== undefined) {
      unwrap(await api.PUT('/api/v2.0/retentions/{id}', { params: { path: { id: policyId } }, body }));
      await queryClient.invalidateQueries({ queryKey: retentionKey(policyId) });
      return;
    }
    const result = await api.POST('/api/v2.0/retentions', { body });
    unwrap(result);
    const id = result.response.headers.get('Location')?.split('/').pop();
    if (id) {
      setCreated(id);
      await queryClient.invalidateQueries({ queryKey: retentionKey(id) });
    }
    await queryClient.invalidateQueries({ queryKey: projectKey(project.project_id) });
  }

  const saved: RetentionPolicy | undefined = policy.data;
  const rules = saved?.rules ?? [];
  const cron = saved?.trigger.settings.cron ?? '';
  const inputs = () => rules.map(retentionRuleInput);

  const content = (data: RetentionMetadata) => (
    <>
      <div className="toolbar">
        <h4 id="retention-rules-title">Rules</h4>
        {may.change ? (
          <button
            type="button"
            className="button button-primary"
            disabled={rules.length >= MAX_RULES}
            onClick={() => setEditing({ kind: 'add' })}
          >
            Add rule
          </button>
        ) : null}
      </div>
      <p className="hint">
        An artifact stays when a rule retains it; the others in the repositories the rules select are deleted when the
        policy runs. Up to {MAX_RULES} rules.
      </p>
      {rules.length === 0 ? (
        <p>No retention rules: nothing is deleted.</p>
      ) : (
        <ol className="rule-list" aria-labelledby="retention-rules-title">
          {rules.map((rule: RetentionRule, index) => {
            const sentence = retentionSentence(rule);
            return (
              <li key={rule.id} className="rule">
                <span className="rule-text">{sentence}</span>
                {may.change ? (
                  <span className="actions">
                    <button
                      type="button"
                      className="button button-small"
                      aria-label={`Edit rule: ${sentence}`}
                      onClick={() => setEditing({ kind: 'edit', index })}
                    >
                      Edit
                    </button>
                    <button
                      type="button"
                      className="button button-small"
                      aria-label={`Delete rule: ${sentence}`}
                      onClick={() => setEditing({ kind: 'delete', index })}
                    >
                      Delete
                    </button>
                  </span>
                ) : null}
              </li>
            );
          })}
        </ol>
      )}
      {/* Keyed by the saved cron: a save starts the form over from what is stored. */}
      <Schedule key={cron} cron={cron} editable={may.change} onSave={(next) => save(inputs(), next)} />
      {editing?.kind === 'add' ? (
        <RetentionRuleDialog
          metadata={data}
          onClose={() => setEditing(null)}
          onSave={async (rule) => {
            await save([...inputs(), rule], cron);
            toast.success('The retention rule was added.');
          }}
        />
      ) : null}
      {editing?.kind === 'edit' && rules[editing.index] ? (
        <RetentionRuleDialog
          rule={rules[editing.index]}
          metadata={data}
          onClose={() => setEditing(null)}
          onSave={async (rule) => {
            const next = inputs();
            next[editing.index] = { ...rule, id: rules[editing.index]!.id };
            await save(next, cron);
            toast.success('The retention rule was saved.');
          }}
        />
      ) : null}
      {editing?.kind === 'delete' && rules[editing.index] ? (
        <ConfirmDialog
          title="Delete retention rule"
          danger
          confirmLabel="Delete"
          action="delete the retention rule"
          message={<p>Delete the rule “{retentionSentence(rules[editing.index]!)}”?</p>}
          onConfirm={async () => {
            await save(
              inputs().filter((_, i) => i !== editing.index),
              cron,
            );
            toast.success('The retention rule was deleted.');
          }}
          onClose={() => setEditing(null)}
        />
      ) : null}
    </>
  );

  return (
    <div className="section">
      <h3>Tag retention</h3>
      <QueryState query={metadata} action="load the retention rule templates">
        {(data) =>
          policyId === undefined ? (
            content(data)
          ) : (
            <QueryState query={policy} action="load the retention policy">
              {() => content(data)}
            </QueryState>
          )
        }
      </QueryState>
      {policyId !== undefined && policy.isSuccess ? (
        <RetentionRuns policyId={policyId} mayRun={may.change} hasRules={rules.length > 0} />
      ) : null}
    </div>
  );
}

/** The policy's schedule: None, Hourly, Daily, Weekly, or a custom 6-field cron. */
function Schedule({
  cron,
  editable,
  onSave,
}: {
  cron: string;
  editable: boolean;
  onSave: (cron: string) => Promise<void>;
}) {
  const toast = useToast();
  const [kind, setKind] = useState<ScheduleKind>(scheduleKind(cron));
  const [custom, setCustom] = useState(cron);
  const [checked, setChecked] = useState(false);

  const next = cronOf(kind, custom);
  const problem = kind === 'custom' ? cronProblem(next) : undefined;
  const save = useMutation({
    mutationFn: () => onSave(next),
    onSuccess: () => toast.success(`The retention schedule is now ${scheduleText(next).toLowerCase()}.`),
  });

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setChecked(true);
    if (problem) return;
    save.mutate();
  }

  if (!editable) {
    return (
      <p>
        <strong>Schedule:</strong> {scheduleText(cron)}
      </p>
    );
  }
  return (
    <form className="form" onSubmit={submit} noValidate aria-label="Retention schedule">
      <ScheduleField
        kind={kind}
        custom={custom}
        problem={checked ? problem : undefined}
        hints={{
          none: 'The policy runs only when started by hand.',
          custom: 'Six fields, seconds first: "0 0 3 * * *" runs at 03:00 every day.',
          preset: `Cron ${next} (seconds first).`,
        }}
        onKindChange={setKind}
        onCustomChange={setCustom}
      />
      {save.isError ? (
        <p className="form-error" role="alert">
          {errorText(save.error, 'save the retention schedule')}
        </p>
      ) : null}
      <div className="form-actions">
        <button type="submit" className="button" disabled={save.isPending || next === cron}>
          {save.isPending ? 'Saving…' : 'Save schedule'}
        </button>
      </div>
    </form>
  );
}
