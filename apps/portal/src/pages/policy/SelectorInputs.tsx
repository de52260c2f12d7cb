import { useId } from 'react';
import { type FieldProblems, type SelectorFields } from './rules.js';

/** The repository and tag selectors of a rule: matching or excluding a doublestar pattern each. */
export function SelectorInputs<F extends SelectorFields>({
  fields,
  problems,
  onChange,
}: {
  fields: F;
  /** Problems to show, by field (empty until the user tried to save). */
  problems: FieldProblems;
  onChange: (fields: F) => void;
}) {
  const ids = { repoDecoration: useId(), repoPattern: useId(), tagDecoration: useId(), tagPattern: useId() };
  return (
    <>
      <div className="field">
        <span className="field-label" id={`${ids.repoPattern}-group`}>
          Repositories
        </span>
        <div className="field-row" role="group" aria-labelledby={`${ids.repoPattern}-group`}>
          <label htmlFor={ids.repoDecoration} className="visually-hidden">
            Repositories matching or excluding
          </label>
          <select
            id={ids.repoDecoration}
            value={fields.repositoryDecoration}
            onChange={(e) =>
              onChange({ ...fields, repositoryDecoration: e.target.value as SelectorFields['repositoryDecoration'] })
            }
          >
            <option value="repoMatches">matching</option>
            <option value="repoExcludes">excluding</option>
          </select>
          <label htmlFor={ids.repoPattern} className="visually-hidden">
            Repository pattern
          </label>
          <input
            id={ids.repoPattern}
            type="text"
            autoComplete="off"
            spellCheck={false}
            value={fields.repositoryPattern}
            aria-invalid={problems.repositoryPattern ? true : undefined}
            aria-describedby={`${ids.repoPattern}-help`}
            onChange={(e) => onChange({ ...fields, repositoryPattern: e.target.value })}
          />
        </div>
        {problems.repositoryPattern ? (
          <p id={`${ids.repoPattern}-help`} className="field-error" role="alert">
            {problems.repositoryPattern}
          </p>
        ) : (
          <span id={`${ids.repoPattern}-help`} className="hint">
            The name inside the project. ** for all, app/* for those under app, {'{web,api}'} for either.
          </span>
        )}
      </div>
      <div className="field">
        <span className="field-label" id={`${ids.tagPattern}-group`}>
          Tags
        </span>
        <div className="field-row" role="group" aria-labelledby={`${ids.tagPattern}-group`}>
          <label htmlFor={ids.tagDecoration} className="visually-hidden">
            Tags matching or excluding
          </label>
          <select
            id={ids.tagDecoration}
            value={fields.tagDecoration}
            onChange={(e) => onChange({ ...fields, tagDecoration: e.target.value as SelectorFields['tagDecoration'] })}
          >
            <option value="matches">matching</option>
            <option value="excludes">excluding</option>
          </select>
          <label htmlFor={ids.tagPattern} className="visually-hidden">
            Tag pattern
          </label>
          <input
            id={ids.tagPattern}
            type="text"
            autoComplete="off"
            spellCheck={false}
            value={fields.tagPattern}
            aria-invalid={problems.tagPattern ? true : undefined}
            aria-describedby={`${ids.tagPattern}-help`}
            onChange={(e) => onChange({ ...fields, tagPattern: e.target.value })}
          />
        </div>
        {problems.tagPattern ? (
          <p id={`${ids.tagPattern}-help`} className="field-error" role="alert">
            {problems.tagPattern}
          </p>
        ) : (
          <span id={`${ids.tagPattern}-help`} className="hint">
            ** for all, release-* for those starting with release-, {'{latest,stable}'} for either.
          </span>
        )}
      </div>
    </>
  );
}
