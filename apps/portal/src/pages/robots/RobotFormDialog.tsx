import { type FormEvent, useId, useState } from 'react';
import { unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { FormDialog } from '../../components/FormDialog.js';
import { errorText } from '../../lib/errors.js';
import { PermissionPicker, permissionLabel } from './PermissionPicker.js';
import { ProjectPermissionChooser } from './PermissionPresets.js';
import { ProjectChooser } from './ProjectChooser.js';
import {
  PROJECT_PRESETS,
  type Permission,
  type ProjectCoverage,
  type RobotAccess,
  type RobotPermission,
  coverageOf,
  keptAccess,
  offeredPermissions,
  permissionKey,
  presetAvailable,
  restrictSelection,
  selectionOf,
  systemRobotPermissions,
  toAccess,
  uniformProjectAccess,
} from './permissions.js';
import {
  NEVER_EXPIRES,
  ROBOT_DESCRIPTION_MAX,
  type Robot,
  parseDurationDays,
  robotNameProblem,
} from './robot-model.js';
import styles from './robots.module.css';

/** Where robot accounts live: in one project, or in the whole installation. */
export type RobotScope = { level: 'project'; projectId: number; projectName: string } | { level: 'system' };

/** What the user may grant, already narrowed to what they hold (see grantablePermissions). */
export interface GrantableCatalog {
  system: readonly Permission[];
  project: readonly Permission[];
}

export interface RobotFormDialogProps {
  scope: RobotScope;
  catalog: GrantableCatalog;
  /** The robot to edit; absent to create one. */
  robot?: Robot;
  onClose: () => void;
  /** After creation, with the login name and the secret to show once. */
  onCreated?: (created: { name: string; secret: string }) => void;
  /** After an edit was saved. */
  onSaved?: (robot: Robot) => void;
}

const DEFAULT_DAYS = '30';

function permissionOf(robot: Robot | undefined, kind: 'system' | 'project'): RobotPermission | undefined {
  return robot?.permissions.find((p) => p.kind === kind);
}

/** The robot's allowed grants that the user cannot grant, as labels: saving without them takes them away. */
function ungrantable(robot: Robot | undefined, catalog: GrantableCatalog, keepProject: boolean): string[] {
  if (!robot) return [];
  const offered = {
    system: new Set(catalog.system.map(permissionKey)),
    project: new Set(catalog.project.map(permissionKey)),
  };
  const labels = new Set<string>();
  for (const permission of robot.permissions) {
    if (permission.kind === 'project' && keepProject) continue;
    for (const access of permission.access) {
      if (access.effect === 'deny') continue;
      if (!offered[permission.kind].has(permissionKey(access))) labels.add(permissionLabel(access));
    }
  }
  return [...labels];
}

/** A new robot's project permissions: the smallest preset the user may grant, else nothing. */
function defaultSelection(offered: readonly Permission[]): Set<string> {
  const preset = PROJECT_PRESETS.find((p) => presetAvailable(p, offered));
  return preset ? preset.keys(offered) : new Set();
}

/**
 * Creates a robot account, or edits one: name (on creation), description, expiration, and the permissions, offered
 * only as far as the user may grant them. A system robot also gets system permissions and the projects its project
 * permissions cover (all, chosen ones, or none).
 */
export function RobotFormDialog({ scope, catalog, robot, onClose, onCreated, onSaved }: RobotFormDialogProps) {
  const api = useApi();
  const ids = { name: useId(), description: useId(), days: useId() };
  const editing = robot !== undefined;
  const system = scope.level === 'system';
  // A system robot whose projects hold different access cannot be shown in one picker: its project part is kept.
  const keepProject = system && editing && !uniformProjectAccess(robot.permissions);
  const offered = {
    system: offeredPermissions('system', catalog.system),
    project: offeredPermissions('project', catalog.project),
  };
  // What the robot holds of Harbor's features that the portal does not offer: saving keeps it.
  const kept = {
    system: keptAccess(permissionOf(robot, 'system')?.access ?? [], catalog.system, offered.system),
    project: keptAccess(permissionOf(robot, 'project')?.access ?? [], catalog.project, offered.project),
  };

  const [name, setName] = useState('');
  const [description, setDescription] = useState(robot?.description ?? '');
  const [never, setNever] = useState(robot ? robot.duration === NEVER_EXPIRES : false);
  const [days, setDays] = useState(
    robot && robot.duration !== null && robot.duration > 0 ? String(robot.duration) : DEFAULT_DAYS,
  );
  const [systemSelected, setSystemSelected] = useState<Set<string>>(() =>
    restrictSelection(selectionOf(permissionOf(robot, 'system')?.access ?? []), offered.system),
  );
  const [projectSelected, setProjectSelected] = useState<Set<string>>(() =>
    robot
      ? restrictSelection(selectionOf(permissionOf(robot, 'project')?.access ?? []), offered.project)
      : defaultSelection(offered.project),
  );
  const [coverage, setCoverage] = useState<ProjectCoverage>(() =>
    robot ? coverageOf(robot.permissions) : { kind: 'all' },
  );
  const [submitted, setSubmitted] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const nameProblem = editing ? undefined : robotNameProblem(name.trim());
  const duration = never ? ({ days: NEVER_EXPIRES } as const) : parseDurationDays(days);
  const durationProblem = 'problem' in duration ? duration.problem : undefined;
  const lost = ungrantable(robot, catalog, keepProject);
  const keptLabels = [...new Set([...kept.system, ...(keepProject ? [] : kept.project)].map(permissionLabel))];

  function permissions(): RobotPermission[] {
    const projectAccess: RobotAccess[] = [...toAccess(projectSelected, offered.project), ...kept.project];
    if (scope.level === 'project') {
      return projectAccess.length > 0 ? [{ kind: 'project', namespace: scope.projectName, access: projectAccess }] : [];
    }
    const systemAccess = [...toAccess(systemSelected, offered.system), ...kept.system];
    if (keepProject && robot) {
      const unchanged = robot.permissions.filter((p) => p.kind === 'project');
      return [...systemRobotPermissions(systemAccess, { kind: 'none' }, []), ...unchanged];
    }
    return systemRobotPermissions(systemAccess, coverage, projectAccess);
  }

  const chosen = permissions();
  const permissionProblem =
    chosen.length === 0
      ? system
        ? 'Choose at least one system permission, or project permissions and the projects they cover.'
        : 'Choose at least one permission.'
      : system && !keepProject && coverage.kind === 'selected' && coverage.projects.length === 0
        ? 'Choose the projects the project permissions cover, or cover all projects.'
        : undefined;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSubmitted(true);
    setError(null);
    if (nameProblem || durationProblem || permissionProblem || 'problem' in duration) return;
    setBusy(true);
    try {
      if (robot) {
        unwrap(
          await api.PUT('/api/v2.0/robots/{robot_id}', {
            params: { path: { robot_id: String(robot.id) } },
            body: {
              name: robot.name,
              level: robot.level,
              description: description.trim(),
              disable: robot.disable,
              duration: duration.days,
              permissions: chosen,
            },
          }),
        );
        onSaved?.(robot);
      } else {
        const created = unwrap(
          await api.POST('/api/v2.0/robots', {
            body: {
              name: name.trim(),
              description: description.trim(),
              level: scope.level,
              disable: false,
              duration: duration.days,
              permissions: chosen,
            },
          }),
        );
        onCreated?.({ name: created.name, secret: created.secret });
      }
      onClose();
    } catch (failure) {
      setError(errorText(failure, editing ? 'save the robot account' : 'create the robot account'));
      setBusy(false);
    }
  }

  const formId = useId();
  const show = (problem: string | undefined) => (submitted ? problem : undefined);

  return (
    <FormDialog
      title={editing ? `Edit ${robot.name}` : 'New robot account'}
      submitLabel={editing ? 'Save' : 'Create'}
      busyLabel="Saving…"
      formId={formId}
      wide
      onClose={onClose}
      onSubmit={(e) => void submit(e)}
      error={error}
      busy={busy}
    >
      {editing ? (
        <p>
          Account <strong className="mono">{robot.name}</strong>
        </p>
      ) : (
        <div className="field">
          <label htmlFor={ids.name}>Name</label>
          <input
            id={ids.name}
            type="text"
            value={name}
            autoComplete="off"
            maxLength={255}
            aria-invalid={show(nameProblem) ? true : undefined}
            aria-describedby={`${ids.name}-hint`}
            onChange={(e) => setName(e.target.value)}
          />
          <span className="hint" id={`${ids.name}-hint`}>
            Lower-case letters and digits, optionally separated by ".", "_" or "-". The account logs in as{' '}
            <span className="mono">
              robot${scope.level === 'project' ? `${scope.projectName}+` : ''}
              {name.trim() || 'name'}
            </span>
            .
          </span>
          {show(nameProblem) ? (
            <p className="field-error" role="alert">
              {nameProblem}
            </p>
          ) : null}
        </div>
      )}

      <div className="field">
        <label htmlFor={ids.description}>Description</label>
        <textarea
          id={ids.description}
          rows={2}
          maxLength={ROBOT_DESCRIPTION_MAX}
          value={description}
          onChange={(e) => setDescription(e.target.value)}
        />
      </div>

      <fieldset className={styles.radioGroup}>
        <legend>Expiration</legend>
        <div className="field-inline">
          <input
            id={`${ids.days}-never`}
            type="radio"
            name={`${ids.days}-expiry`}
            checked={never}
            onChange={() => setNever(true)}
          />
          <label htmlFor={`${ids.days}-never`}>Never expires</label>
        </div>
        <div className="field-inline">
          <input
            id={`${ids.days}-after`}
            type="radio"
            name={`${ids.days}-expiry`}
            checked={!never}
            onChange={() => setNever(false)}
          />
          <label htmlFor={`${ids.days}-after`}>Expires after</label>
          <label htmlFor={ids.days} className="visually-hidden">
            Days until expiry
          </label>
          <input
            id={ids.days}
            type="number"
            min={1}
            step={1}
            className={styles.inlineNumber}
            value={days}
            disabled={never}
            aria-invalid={show(durationProblem) ? true : undefined}
            onChange={(e) => setDays(e.target.value)}
          />
          <span aria-hidden="true">days</span>
        </div>
        {editing ? <span className="hint">Days are counted from the creation of the account.</span> : null}
        {show(durationProblem) ? (
          <p className="field-error" role="alert">
            {durationProblem}
          </p>
        ) : null}
      </fieldset>

      {system ? (
        <PermissionPicker
          legend="System permissions"
          available={offered.system}
          selected={systemSelected}
          onChange={setSystemSelected}
        />
      ) : null}

      {system && keepProject ? (
        <p className="hint">
          This account holds different permissions in different projects; they stay as they are. Only its system
          permissions, description and expiration can be changed here.
        </p>
      ) : null}

      {system && !keepProject ? (
        <fieldset className={styles.radioGroup}>
          <legend>Project permissions cover</legend>
          {(
            [
              ['all', 'All projects, including future ones'],
              ['selected', 'Chosen projects'],
              ['none', 'No projects'],
            ] as const
          ).map(([kind, label]) => (
            <div className="field-inline" key={kind}>
              <input
                id={`${formId}-coverage-${kind}`}
                type="radio"
                name={`${formId}-coverage`}
                checked={coverage.kind === kind}
                onChange={() =>
                  setCoverage(
                    kind === 'selected'
                      ? { kind, projects: coverage.kind === 'selected' ? coverage.projects : [] }
                      : { kind },
                  )
                }
              />
              <label htmlFor={`${formId}-coverage-${kind}`}>{label}</label>
            </div>
          ))}
          {coverage.kind === 'selected' ? (
            <ProjectChooser
              chosen={coverage.projects}
              onChange={(projects) => setCoverage({ kind: 'selected', projects })}
            />
          ) : null}
        </fieldset>
      ) : null}

      {!system || (!keepProject && coverage.kind !== 'none') ? (
        <ProjectPermissionChooser
          legend={system ? 'Project permissions, in each project covered' : 'Permissions'}
          offered={offered.project}
          selected={projectSelected}
          onChange={setProjectSelected}
        />
      ) : null}

      {keptLabels.length > 0 ? (
        <p className="hint" role="note">
          This account also holds permissions for features Wharf does not have ({keptLabels.join(', ')}); saving keeps
          them.
        </p>
      ) : null}

      {lost.length > 0 ? (
        <p className="form-error" role="note">
          This account holds permissions you cannot grant ({lost.join(', ')}). Saving takes them away.
        </p>
      ) : null}
      {show(permissionProblem) ? (
        <p className="field-error" role="alert">
          {permissionProblem}
        </p>
      ) : null}
    </FormDialog>
  );
}
