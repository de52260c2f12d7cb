import { useState } from 'react';
import { Link } from 'react-router';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { repositoryParam, useApi } from '../../api/client.js';
import { toPage, usePageParams } from '../../api/paging.js';
import { useProject } from '../../api/project.js';
import { repositoryInnerName, repositoryPath } from '../../api/repositories.js';
import { pushCommands, useRegistryHost } from '../../api/system.js';
import { useCurrentUser } from '../../api/session.js';
import { type Repository } from '../../api/types.js';
import { ConfirmDialog } from '../../components/ConfirmDialog.js';
import { CopyButton } from '../../components/CopyButton.js';
import { PagedTable } from '../../components/PagedTable.js';
import { QueryState } from '../../components/QueryState.js';
import { SearchBox } from '../../components/SearchBox.js';
import { useToast } from '../../components/Toast.js';
import { formatDate } from '../../lib/format.js';
import { STALE_MS } from '../../queryClient.js';

/** Roles that may delete repositories: Project Admin and Maintainer (as in Harbor). */
const DELETING_ROLES = new Set([1, 4]);

export function RepositoriesPage() {
  const api = useApi();
  const project = useProject();
  const user = useCurrentUser().data;
  const queryClient = useQueryClient();
  const toast = useToast();
  const { page, pageSize, query: search, setPage, setPageSize, setQuery } = usePageParams();
  const [deleting, setDeleting] = useState<Repository | null>(null);
  const mayDelete = user?.sysadmin_flag === true || DELETING_ROLES.has(project.current_user_role_id ?? 0);
  const host = useRegistryHost();

  const repositories = useQuery({
    queryKey: ['projects', project.name, 'repositories', { page, pageSize, search }],
    queryFn: async () =>
      toPage(
        await api.GET('/api/v2.0/projects/{project_name}/repositories', {
          params: {
            path: { project_name: project.name },
            query: {
              page: page,
              page_size: pageSize,
              ...(search ? { q: `name=~${search}` } : {}),
            },
          },
        }),
        page,
        pageSize,
      ),
    placeholderData: keepPreviousData,
    // An empty project is where the user goes off to push: coming back shows what arrived, not the cached nothing.
    staleTime: (query) => (query.state.data?.total === 0 ? 0 : STALE_MS),
  });

  return (
    <section aria-labelledby="repositories-title">
      <h2 id="repositories-title">Repositories</h2>
      <div className="toolbar">
        <SearchBox label="Search repositories" placeholder="Repository name" value={search} onSearch={setQuery} />
      </div>
      <QueryState
        query={repositories}
        action="load the repositories"
        isEmpty={(data) => data.total === 0 && data.items.length === 0}
        empty={
          search ? (
            <p>No repository matches “{search}”.</p>
          ) : (
            <div className="push-hint">
              <p>This project has no repositories yet. Push an image to create one:</p>
              <ol className="pull-commands">
                {pushCommands(host, project.name).map(({ label, command }) => (
                  <li key={label} className="pull-command">
                    <code>{command}</code>
                    <CopyButton text={command} ariaLabel={`Copy command: ${label}`} />
                  </li>
                ))}
              </ol>
            </div>
          )
        }
      >
        {(data) => (
          <PagedTable
            caption={<>Repositories of project {project.name}</>}
            headers={
              <>
                <th scope="col">Name</th>
                <th scope="col">Artifacts</th>
                <th scope="col">Pulls</th>
                <th scope="col">Last modified</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </>
            }
            columns={5}
            itemCount={data.items.length}
            emptyText="No repositories on this page."
            label="repositories"
            page={page}
            pageSize={pageSize}
            total={data.total}
            onPageChange={setPage}
            onPageSizeChange={setPageSize}
          >
            {data.items.map((repository) => {
              const inner = repositoryInnerName(project.name, repository.name);
              return (
                <tr key={repository.id}>
                  <td>
                    <Link to={repositoryPath(project.project_id, inner)}>{repository.name}</Link>
                  </td>
                  <td>{repository.artifact_count}</td>
                  <td>{repository.pull_count}</td>
                  <td className="nowrap">{formatDate(repository.update_time)}</td>
                  <td className="actions">
                    {mayDelete ? (
                      <button
                        type="button"
                        className="button button-small"
                        aria-label={`Delete repository ${repository.name}`}
                        onClick={() => setDeleting(repository)}
                      >
                        Delete
                      </button>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </PagedTable>
        )}
      </QueryState>
      {deleting ? (
        <ConfirmDialog
          title="Delete repository"
          danger
          confirmLabel="Delete"
          action="delete the repository"
          message={
            <p>
              Delete the repository <strong>{deleting.name}</strong> with all its artifacts and tags? This cannot be
              undone.
            </p>
          }
          onConfirm={async () => {
            unwrap(
              await api.DELETE('/api/v2.0/projects/{project_name}/repositories/{repository_name}', {
                params: {
                  path: {
                    project_name: project.name,
                    repository_name: repositoryParam(repositoryInnerName(project.name, deleting.name)),
                  },
                },
              }),
            );
            toast.success(`Repository ${deleting.name} was deleted.`);
            void queryClient.invalidateQueries({ queryKey: ['projects'] });
          }}
          onClose={() => setDeleting(null)}
        />
      ) : null}
    </section>
  );
}
