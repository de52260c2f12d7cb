import { useState, type FormEvent } from 'react';
import { useMutation } from '@tanstack/react-query';
import { type components } from '@wharf/api-client';
import { FormDialog } from '../../components/FormDialog.js';
import { errorText } from '../../lib/errors.js';
import { SelectorInputs } from './SelectorInputs.js';
import {
  NEW_IMMUTABLE_FIELDS,
  immutableFields,
  immutableProblems,
  immutableRuleOf,
  immutableSentence,
  type ImmutableRule,
  type SelectorFields,
} from './rules.js';

/** Adds an immutability rule, or edits one: which tags of which repositories can no longer move or go. */
export function ImmutableRuleDialog({
  rule,
  onSave,
  onClose,
}: {
  rule?: ImmutableRule;
  onSave: (rule: components['schemas']['ImmutableRuleInput']) => Promise<void>;
  onClose: () => void;
}) {
  const [fields, setFields] = useState<SelectorFields>(rule ? immutableFields(rule) : NEW_IMMUTABLE_FIELDS);
  const [checked, setChecked] = useState(false);
  const problems = immutableProblems(fields);

  const save = useMutation({
    mutationFn: () => onSave(immutableRuleOf(fields)),
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
      title={rule ? 'Edit immutability rule' : 'Add immutability rule'}
      submitLabel={rule ? 'Save' : 'Add'}
      busyLabel="Saving…"
      busy={save.isPending}
      error={save.isError ? errorText(save.error, 'save the immutability rule') : null}
      onSubmit={submit}
      onClose={onClose}
      wide
    >
      <SelectorInputs fields={fields} problems={checked ? problems : {}} onChange={setFields} />
      {Object.keys(problems).length === 0 ? (
        <p className="hint" aria-live="polite">
          {immutableSentence(immutableRuleOf(fields))}: they can be neither pushed over nor deleted.
        </p>
      ) : null}
    </FormDialog>
  );
}
