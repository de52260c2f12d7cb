import { useState } from 'react';
import { Badge } from '../../components/Badge.js';
import { formatDate } from '../../lib/format.js';
import { ALL_PROJECTS_NAMESPACE, grantCount, humanize, type RobotPermission } from './permissions.js';
import { type Robot, expiryText, isExpired } from './robot-model.js';
import shared from '../../components/common/common.module.css';
import styles from './robots.module.css';

export interface RobotTableProps {
  robots: readonly Robot[];
  /** Which changes to offer; the server checks again. */
  canUpdate: boolean;
  /** Editing also needs what the user may grant; false while that is unknown. */
  canEdit?: boolean;
  canDelete: boolean;
  onEdit: (robot: Robot) => void;
  onRefreshSecret: (robot: Robot) => void;
  onToggleDisabled: (robot: Robot) => void;
  onDelete: (robot: Robot) => void;
  /** When the list is drawn, for marking expired accounts. */
  now?: number;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** What a robot holds, in a few words: "3 permissions", or for a system robot the system part and its projects. */
export function permissionSummary(robot: Pick<Robot, 'level' | 'permissions'>): string {
  const total = grantCount(robot.permissions);
  if (robot.level === 'project') return plural(total, 'permission');
  const system = robot.permissions.filter((p) => p.kind === 'system');
  const projects = robot.permissions.filter((p) => p.kind === 'project');
  const parts: string[] = [];
  const systemCount = grantCount(system);
  if (systemCount > 0) parts.push(plural(systemCount, 'system permission'));
  if (projects.some((p) => p.namespace === ALL_PROJECTS_NAMESPACE)) parts.push('all projects');
  const named = projects.filter((p) => p.namespace !== ALL_PROJECTS_NAMESPACE).map((p) => p.namespace);
  if (named.length > 0) parts.push(named.length <= 3 ? named.join(', ') : plural(named.length, 'project'));
  return parts.join('; ') || 'no permissions';
}

/** Every grant, one per line, for the tooltip of the summary. */
function permissionDetail(permissions: readonly RobotPermission[]): string {
  return permissions
    .map((p) => {
      const scope =
        p.kind === 'system' ? 'System' : p.namespace === ALL_PROJECTS_NAMESPACE ? 'All projects' : p.namespace;
      const access = p.access.map(
        (a) => `${humanize(a.resource)} ${a.action}${a.effect === 'deny' ? ' (denied)' : ''}`,
      );
      return `${scope}: ${access.join(', ')}`;
    })
    .join('\n');
}

/** Robot accounts as a table, with Edit, Refresh secret, Disable/Enable and Delete on each row. */
export function RobotTable({
  robots,
  canUpdate,
  canEdit = canUpdate,
  canDelete,
  onEdit,
  onRefreshSecret,
  onToggleDisabled,
  onDelete,
  now,
}: RobotTableProps) {
  // Without a time from the caller, when the table was first drawn.
  const [drawnAt] = useState(() => Date.now());
  return (
    <div className="table-wrap">
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Status</th>
            <th scope="col">Permissions</th>
            <th scope="col">Expires</th>
            <th scope="col">Description</th>
            <th scope="col">Created</th>
            {canUpdate || canDelete ? <th scope="col">Actions</th> : null}
          </tr>
        </thead>
        <tbody>
          {robots.map((robot) => {
            const expired = isExpired(robot, now ?? drawnAt);
            return (
              <tr key={robot.id}>
                <td className={`mono ${styles.nameCell}`}>{robot.name}</td>
                <td className="nowrap">
                  {robot.disable ? <Badge tone="neutral">Disabled</Badge> : <Badge tone="success">Enabled</Badge>}{' '}
                  {expired ? <Badge tone="danger">Expired</Badge> : null}
                </td>
                <td className={styles.permissionSummary} title={permissionDetail(robot.permissions)}>
                  {permissionSummary(robot)}
                </td>
                <td>{expiryText(robot)}</td>
                <td>{robot.description || <span className="hint">—</span>}</td>
                <td>{formatDate(robot.creation_time)}</td>
                {canUpdate || canDelete ? (
                  <td className="actions">
                    <div className={shared.rowActions}>
                      {canUpdate && robot.editable ? (
                        <>
                          {canEdit ? (
                            <button
                              type="button"
                              className="button button-small"
                              aria-label={`Edit ${robot.name}`}
                              onClick={() => onEdit(robot)}
                            >
                              Edit
                            </button>
                          ) : null}
                          <button
                            type="button"
                            className="button button-small"
                            aria-label={`Refresh secret of ${robot.name}`}
                            onClick={() => onRefreshSecret(robot)}
                          >
                            Refresh secret
                          </button>
                          <button
                            type="button"
                            className="button button-small"
                            aria-label={`${robot.disable ? 'Enable' : 'Disable'} ${robot.name}`}
                            onClick={() => onToggleDisabled(robot)}
                          >
                            {robot.disable ? 'Enable' : 'Disable'}
                          </button>
                        </>
                      ) : null}
                      {canDelete ? (
                        <button
                          type="button"
                          className="button button-small button-danger"
                          aria-label={`Delete ${robot.name}`}
                          onClick={() => onDelete(robot)}
                        >
                          Delete
                        </button>
                      ) : null}
                    </div>
                  </td>
                ) : null}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
