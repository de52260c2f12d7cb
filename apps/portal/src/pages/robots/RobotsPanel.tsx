import { useState } from 'react';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { toPage, usePageParams } from '../../api/paging.js';
import { useIsAdmin } from '../../api/session.js';
import { ConfirmDialog } from '../../components/ConfirmDialog.js';
import { Pagination } from '../../components/Pagination.js';
import { QueryState } from '../../components/QueryState.js';
import { SearchBox } from '../../components/SearchBox.js';
import { useToast } from '../../components/Toast.js';
import { projectScope, useScopePermissions } from '../../components/common/scope-permissions.js';
import { errorText } from '../../lib/errors.js';
import { type GrantableCatalog, RobotFormDialog, type RobotScope } from './RobotFormDialog.js';
import { RefreshSecretDialog } from './RefreshSecretDialog.js';
import { RobotTable } from './RobotTable.js';
import { SecretDialog } from './SecretDialog.js';
import { grantablePermissions } from './permissions.js';
import { type Robot } from './robot-model.js';

export const ROBOTS_KEY = ['robots'] as const;

/** `q` of the robot list for a scope, with an optional fuzzy name filter (escaped so "," cannot split it). */
export function robotListQuery(scope: RobotScope, name: string): string {
  const terms = scope.level === 'project' ? ['Level=project', `ProjectID=${scope.projectId}`] : ['Level=system'];
  if (name) terms.push(`name=~${encodeURIComponent(name)}`);
  return terms.join(',');
}

/**
 * What the signed-in user may grant robots in `scope`: the permission catalog (GET /permissions) narrowed to what
 * they hold there. System administrators hold everything; others only what their project role gives, and nothing
 * system-wide. Undefined while loading.
 */
export function useGrantableCatalog(
  scope: RobotScope,
  enabled: boolean,
): { catalog?: GrantableCatalog; error?: unknown } {
  const api = useApi();
  const admin = useIsAdmin();
  const catalog = useQuery({
    queryKey: ['permissions'],
    queryFn: async () => unwrap(await api.GET('/api/v2.0/permissions')),
    enabled,
    staleTime: 5 * 60_000,
  });
  const held = useScopePermissions(scope.level === 'project' ? projectScope(scope.projectId) : '/system');
  if (catalog.isError) return { error: catalog.error };
  if (!admin && held.isError) return { error: held.error };
  if (!catalog.data || (!admin && !held.data)) return {};
  return {
    catalog: {
      system: admin ? grantablePermissions(catalog.data.system ?? []) : [],
      project: grantablePermissions(catalog.data.project ?? [], admin ? undefined : held.data),
    },
  };
}

export interface RobotsPanelProps {
  scope: RobotScope;
  /** What the user may do with robots of the scope; the server checks again. */
  can: { create: boolean; update: boolean; delete: boolean };
}

type Dialog =
  | { kind: 'create' }
  | { kind: 'edit'; robot: Robot }
  | { kind: 'refresh'; robot: Robot }
  | { kind: 'disable'; robot: Robot }
  | { kind: 'delete'; robot: Robot }
  | { kind: 'secret'; name: string; secret: string; title: string };

/**
 * The robot accounts of a project or of the system: a searchable, paged list with New robot account, Edit, Refresh
 * secret, Disable/Enable and Delete. The secret of a new or refreshed account is shown once.
 */
export function RobotsPanel({ scope, can }: RobotsPanelProps) {
  const api = useApi();
  const toast = useToast();
  const queryClient = useQueryClient();
  const { page, pageSize, query: search, setPage, setPageSize, setQuery } = usePageParams();
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const scopeKey = scope.level === 'project' ? `project-${scope.projectId}` : 'system';

  const robots = useQuery({
    queryKey: [...ROBOTS_KEY, scopeKey, page, pageSize, search],
    queryFn: async () =>
      toPage(
        await api.GET('/api/v2.0/robots', {
          params: {
            query: { q: robotListQuery(scope, search), page, page_size: pageSize },
          },
        }),
        page,
        pageSize,
      ),
    placeholderData: keepPreviousData,
  });
  const grantable = useGrantableCatalog(scope, can.create || can.update);

  const refresh = () => queryClient.invalidateQueries({ queryKey: [...ROBOTS_KEY, scopeKey] });

  async function setDisabled(robot: Robot, disable: boolean) {
    unwrap(
      await api.PUT('/api/v2.0/robots/{robot_id}', {
        params: { path: { robot_id: String(robot.id) } },
        body: {
          name: robot.name,
          level: robot.level,
          description: robot.description,
          disable,
          permissions: robot.permissions,
        },
      }),
    );
    await refresh();
    toast.success(`${robot.name} ${disable ? 'disabled' : 'enabled'}.`);
  }

  async function remove(robot: Robot) {
    unwrap(await api.DELETE('/api/v2.0/robots/{robot_id}', { params: { path: { robot_id: String(robot.id) } } }));
    await refresh();
    toast.success(`${robot.name} deleted.`);
  }

  const catalogNotice = grantable.error ? (
    <p className="form-error" role="alert">
      {errorText(grantable.error, 'read the permissions you may grant')}
    </p>
  ) : null;

  return (
    <section aria-label="Robot accounts">
      <div className="toolbar">
        <SearchBox label="Search robot accounts" placeholder="Name" value={search} onSearch={setQuery} />
        {can.create ? (
          <button
            type="button"
            className="button button-primary"
            disabled={!grantable.catalog}
            onClick={() => setDialog({ kind: 'create' })}
          >
            New robot account
          </button>
        ) : null}
      </div>
      {catalogNotice}
      <QueryState
        query={robots}
        action="load the robot accounts"
        loadingLabel="Loading robot accounts…"
        isEmpty={(data) => data.total === 0 && data.items.length === 0}
        empty={
          search ? (
            <p>No robot account matches “{search}”.</p>
          ) : (
            <p>
              There are no robot accounts yet.
              {can.create ? ' Robot accounts let scripts and CI push and pull with their own secret.' : ''}
            </p>
          )
        }
      >
        {(data) => (
          <>
            {data.items.length === 0 ? (
              <p className="hint">No robot accounts on this page.</p>
            ) : (
              <RobotTable
                robots={data.items}
                now={robots.dataUpdatedAt || undefined}
                canUpdate={can.update}
                canEdit={can.update && grantable.catalog !== undefined}
                canDelete={can.delete}
                onEdit={(robot) => setDialog({ kind: 'edit', robot })}
                onRefreshSecret={(robot) => setDialog({ kind: 'refresh', robot })}
                onToggleDisabled={(robot) =>
                  robot.disable
                    ? void setDisabled(robot, false).catch((error: unknown) =>
                        toast.error(errorText(error, `enable ${robot.name}`)),
                      )
                    : setDialog({ kind: 'disable', robot })
                }
                onDelete={(robot) => setDialog({ kind: 'delete', robot })}
              />
            )}
            <Pagination
              page={page}
              pageSize={pageSize}
              total={data.total}
              onPageChange={setPage}
              onPageSizeChange={setPageSize}
              label="robot accounts"
            />
          </>
        )}
      </QueryState>

      {dialog?.kind === 'create' && grantable.catalog ? (
        <RobotFormDialog
          scope={scope}
          catalog={grantable.catalog}
          onClose={() => setDialog((d) => (d?.kind === 'create' ? null : d))}
          onCreated={({ name, secret }) => {
            void refresh();
            setDialog({ kind: 'secret', name, secret, title: `Robot account ${name} created` });
          }}
        />
      ) : null}
      {dialog?.kind === 'edit' && grantable.catalog ? (
        <RobotFormDialog
          scope={scope}
          catalog={grantable.catalog}
          robot={dialog.robot}
          onClose={() => setDialog(null)}
          onSaved={(robot) => {
            void refresh();
            toast.success(`${robot.name} saved.`);
          }}
        />
      ) : null}
      {dialog?.kind === 'refresh' ? (
        <RefreshSecretDialog
          robot={dialog.robot}
          onClose={() => setDialog((d) => (d?.kind === 'refresh' ? null : d))}
          onGenerated={(secret) =>
            setDialog({ kind: 'secret', name: dialog.robot.name, secret, title: `New secret of ${dialog.robot.name}` })
          }
          onChosen={() => toast.success(`The secret of ${dialog.robot.name} was changed.`)}
        />
      ) : null}
      {dialog?.kind === 'secret' ? (
        <SecretDialog name={dialog.name} secret={dialog.secret} title={dialog.title} onClose={() => setDialog(null)} />
      ) : null}
      {dialog?.kind === 'disable' ? (
        <ConfirmDialog
          title="Disable robot account"
          message={
            <p>
              Disable <strong>{dialog.robot.name}</strong>? It can no longer log in or pull and push until it is enabled
              again.
            </p>
          }
          confirmLabel="Disable"
          danger
          action={`disable ${dialog.robot.name}`}
          onConfirm={() => setDisabled(dialog.robot, true)}
          onClose={() => setDialog(null)}
        />
      ) : null}
      {dialog?.kind === 'delete' ? (
        <ConfirmDialog
          title="Delete robot account"
          message={
            <p>
              Delete <strong>{dialog.robot.name}</strong>? Its secret stops working at once. This cannot be undone.
            </p>
          }
          confirmLabel="Delete"
          danger
          action={`delete ${dialog.robot.name}`}
          onConfirm={() => remove(dialog.robot)}
          onClose={() => setDialog(null)}
        />
      ) : null}
    </section>
  );
}
