import { useId, useState, type FormEvent } from 'react';
import { useMutation } from '@tanstack/react-query';
import { type components } from '@wharf/api-client';
import { FormDialog } from '../../components/FormDialog.js';
import { errorText } from '../../lib/errors.js';
import { SelectorInputs } from './SelectorInputs.js';
import {
  NEW_RETENTION_FIELDS,
  retentionFields,
  retentionProblems,
  retentionRuleOf,
  retentionSentence,
  takesParam,
  templateLabel,
  type RetentionFields,
  type RetentionMetadata,
  type RetentionRule,
  type RetentionTemplate,
} from './rules.js';

/** Adds a retention rule, or edits one: the template with its number, the repositories, the tags. */
export function RetentionRuleDialog({
  rule,
  metadata,
  onSave,
  onClose,
}: {
  /** The rule to edit; a new rule when absent. */
  rule?: RetentionRule;
  metadata: RetentionMetadata;
  onSave: (rule: components['schemas']['RetentionRule']) => Promise<void>;
  onClose: () => void;
}) {
  const ids = { template: useId(), param: useId(), untagged: useId() };
  const [fields, setFields] = useState<RetentionFields>(rule ? retentionFields(rule) : NEW_RETENTION_FIELDS);
  const [checked, setChecked] = useState(false);
  const withParam = takesParam(metadata, fields.template);
  const problems = retentionProblems(fields, withParam);
  const shown = checked ? problems : {};
  const unit = metadata.templates.find((t) => t.rule_template === fields.template)?.params[0]?.unit;

  const save = useMutation({
    mutationFn: () => onSave(retentionRuleOf(fields, withParam)),
    onSuccess: onClose,
  });

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setChecked(true);
    if (Object.keys(problems).length > 0) return;
    save.mutate();
  }

  return (
    <FormDialog
      title={rule ? 'Edit retention rule' : 'Add retention rule'}
      submitLabel={rule ? 'Save' : 'Add'}
      busyLabel="Saving…"
      busy={save.isPending}
      error={save.isError ? errorText(save.error, 'save the retention rule') : null}
      onSubmit={submit}
      onClose={onClose}
      wide
    >
      <div className="field">
        <label htmlFor={ids.template}>Retain</label>
        <select
          id={ids.template}
          value={fields.template}
          onChange={(e) => setFields({ ...fields, template: e.target.value as RetentionTemplate })}
        >
          {metadata.templates.map((template) => (
            <option key={template.rule_template} value={template.rule_template}>
              {templateLabel(template.rule_template, template.display_text)}
            </option>
          ))}
        </select>
      </div>
      {withParam ? (
        <div className="field">
          <label htmlFor={ids.param}>{unit === 'DAYS' ? 'Days' : 'Count'}</label>
          <input
            id={ids.param}
            type="text"
            inputMode="numeric"
            value={fields.param}
            aria-invalid={shown.param ? true : undefined}
            aria-describedby={shown.param ? `${ids.param}-error` : undefined}
            onChange={(e) => setFields({ ...fields, param: e.target.value })}
          />
          {shown.param ? (
            <p id={`${ids.param}-error`} className="field-error" role="alert">
              {shown.param}
            </p>
          ) : null}
        </div>
      ) : null}
      <SelectorInputs fields={fields} problems={shown} onChange={setFields} />
      <div className="field field-inline">
        <input
          id={ids.untagged}
          type="checkbox"
          checked={fields.untagged}
          onChange={(e) => setFields({ ...fields, untagged: e.target.checked })}
        />
        <label htmlFor={ids.untagged}>
          {fields.tagDecoration === 'excludes' ? 'Exclude untagged artifacts' : 'Include untagged artifacts'}
        </label>
      </div>
      {Object.keys(problems).length === 0 ? (
        <p className="hint" aria-live="polite">
          {retentionSentence(retentionRuleOf(fields, withParam))}.
        </p>
      ) : null}
    </FormDialog>
  );
}
