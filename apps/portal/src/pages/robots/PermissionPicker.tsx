import { useId } from 'react';
import {
  groupByResource,
  humanize,
  permissionKey,
  restrictSelection,
  sortActions,
  type Permission,
} from './permissions.js';
import styles from './robots.module.css';

export interface PermissionPickerProps {
  /** What the permissions are for: "Project permissions". */
  legend: string;
  /** What the user may grant here; nothing else can be selected. */
  available: readonly Permission[];
  /** Selected `resource:action` keys. */
  selected: ReadonlySet<string>;
  onChange: (selected: Set<string>) => void;
  disabled?: boolean;
}

/** The accessible name of one permission's checkbox: "Repository: Pull". */
export function permissionLabel(permission: Permission): string {
  return `${humanize(permission.resource)}: ${humanize(permission.action)}`;
}

/**
 * Resources × actions as checkboxes, as Harbor's portal offers them for a robot account, with "Select all" and
 * "Unselect all". Only what `available` lists is offered, and every change is restricted to it, so a selection
 * never holds more than the user may grant.
 */
export function PermissionPicker({ legend, available, selected, onChange, disabled }: PermissionPickerProps) {
  const hintId = useId();
  const rows = groupByResource(available);
  const actions = sortActions(available.map((p) => p.action));
  const chosen = restrictSelection(selected, available);

  function toggle(permission: Permission, on: boolean) {
    const next = new Set(chosen);
    if (on) next.add(permissionKey(permission));
    else next.delete(permissionKey(permission));
    onChange(restrictSelection(next, available));
  }

  return (
    <fieldset className={styles.picker} disabled={disabled} aria-describedby={hintId}>
      <legend>{legend}</legend>
      {available.length === 0 ? (
        <p className="hint" id={hintId}>
          There are no permissions you may grant here.
        </p>
      ) : (
        <>
          <div className={styles.pickerTools}>
            <button
              type="button"
              className="button button-small"
              onClick={() => onChange(new Set(available.map(permissionKey)))}
              disabled={disabled || chosen.size === available.length}
            >
              Select all
            </button>
            <button
              type="button"
              className="button button-small"
              onClick={() => onChange(new Set())}
              disabled={disabled || chosen.size === 0}
            >
              Unselect all
            </button>
            <span className="hint" id={hintId} aria-live="polite">
              {chosen.size} of {available.length} selected
            </span>
          </div>
          <div className="table-wrap">
            <table className={`table ${styles.pickerTable}`}>
              <thead>
                <tr>
                  <th scope="col">Resource</th>
                  {actions.map((action) => (
                    <th scope="col" key={action}>
                      {humanize(action)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.resource}>
                    <th scope="row">{humanize(row.resource)}</th>
                    {actions.map((action) => {
                      if (!row.actions.includes(action)) return <td key={action} aria-hidden="true" />;
                      const permission = { resource: row.resource, action };
                      return (
                        <td key={action}>
                          <label className={styles.checkCell}>
                            <input
                              type="checkbox"
                              checked={chosen.has(permissionKey(permission))}
                              onChange={(e) => toggle(permission, e.target.checked)}
                            />
                            <span className="visually-hidden">{permissionLabel(permission)}</span>
                          </label>
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </fieldset>
  );
}
