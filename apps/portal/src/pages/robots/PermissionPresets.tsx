import { useId, useState } from 'react';
import { PermissionPicker, permissionLabel } from './PermissionPicker.js';
import {
  PROJECT_PRESETS,
  type Permission,
  type PresetId,
  permissionKey,
  presetAvailable,
  presetOf,
} from './permissions.js';
import styles from './robots.module.css';

export interface ProjectPermissionChooserProps {
  legend: string;
  /** What the portal offers and the user may grant (see offeredPermissions). */
  offered: readonly Permission[];
  /** Selected `resource:action` keys. */
  selected: ReadonlySet<string>;
  onChange: (selected: Set<string>) => void;
}

/**
 * A robot's project permissions as a choice of presets (pull; push and pull; everything), with "Custom" opening the
 * full picker. A preset the user may not grant in full is shown but cannot be chosen.
 */
export function ProjectPermissionChooser({ legend, offered, selected, onChange }: ProjectPermissionChooserProps) {
  const name = useId();
  const [mode, setMode] = useState<PresetId | 'custom'>(() => presetOf(selected, offered) ?? 'custom');
  const granted = offered.filter((p) => selected.has(permissionKey(p)));

  return (
    <fieldset className={styles.radioGroup}>
      <legend>{legend}</legend>
      {PROJECT_PRESETS.map((preset) => {
        const id = `${name}-${preset.id}`;
        const available = presetAvailable(preset, offered);
        return (
          <div className="field-inline" key={preset.id}>
            <input
              id={id}
              type="radio"
              name={name}
              checked={mode === preset.id}
              disabled={!available}
              aria-describedby={`${id}-hint`}
              onChange={() => {
                setMode(preset.id);
                onChange(preset.keys(offered));
              }}
            />
            <label htmlFor={id}>{preset.label}</label>
            <span className={`hint ${styles.presetHint}`} id={`${id}-hint`}>
              {available ? preset.description : 'You may not grant all of these permissions.'}
            </span>
          </div>
        );
      })}
      <div className="field-inline">
        <input
          id={`${name}-custom`}
          type="radio"
          name={name}
          checked={mode === 'custom'}
          onChange={() => setMode('custom')}
        />
        <label htmlFor={`${name}-custom`}>Custom</label>
        <span className={`hint ${styles.presetHint}`}>Choose each permission.</span>
      </div>
      {mode === 'custom' ? (
        <PermissionPicker legend="Custom permissions" available={offered} selected={selected} onChange={onChange} />
      ) : (
        <p className="hint" aria-live="polite">
          Grants {granted.length === 0 ? 'nothing' : granted.map(permissionLabel).join(', ')}.
        </p>
      )}
    </fieldset>
  );
}
