import { useState } from 'react';
import { Link } from 'react-router';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { toPage, usePageParams } from '../../api/paging.js';
import { useCurrentUser } from '../../api/session.js';
import { useSystemInfo } from '../../api/system.js';
import { type ProjectListItem } from '../../api/types.js';
import { Badge } from '../../components/Badge.js';
import { ConfirmDialog } from '../../components/ConfirmDialog.js';
import { PageHeader } from '../../components/PageHeader.js';
import { PagedTable } from '../../components/PagedTable.js';
import { QueryState } from '../../components/QueryState.js';
import { SearchBox } from '../../components/SearchBox.js';
import { useToast } from '../../components/Toast.js';
import { formatDate } from '../../lib/format.js';
import { roleLabel } from '../../lib/roles.js';
import { CreateProjectDialog } from './CreateProjectDialog.js';

function DeleteProjectDialog({ project, onClose }: { project: ProjectListItem; onClose: () => void }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const toast = useToast();
  const id = String(project.project_id);
  const deletable = useQuery({
    queryKey: ['projects', 'deletable', id],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v2.0/projects/{project_name_or_id}/_deletable', {
          params: { path: { project_name_or_id: id } },
        }),
      ),
    staleTime: 0,
  });
  const blocked = deletable.data?.deletable === false;

  return (
    <ConfirmDialog
      title="Delete project"
      danger
      confirmDisabled={blocked}
      confirmLabel="Delete"
      action="delete the project"
      message={
        <>
          <p>
            Delete the project <strong>{project.name}</strong>? This cannot be undone.
          </p>
          {blocked ? (
            <p className="form-error" role="alert">
              This project cannot be deleted yet:{' '}
              {deletable.data?.message?.replace(/\.+$/, '') ?? 'it still holds repositories; delete them first'}.
            </p>
          ) : null}
        </>
      }
      onConfirm={async () => {
        unwrap(
          await api.DELETE('/api/v2.0/projects/{project_name_or_id}', {
            params: { path: { project_name_or_id: id } },
          }),
        );
        toast.success(`Project ${project.name} was deleted.`);
        void queryClient.invalidateQueries({ queryKey: ['projects'] });
      }}
      onClose={onClose}
    />
  );
}

export function ProjectsPage() {
  const api = useApi();
  const queryClient = useQueryClient();
  const toast = useToast();
  const user = useCurrentUser().data;
  const system = useSystemInfo();
  const { page, pageSize, query: search, setPage, setPageSize, setQuery } = usePageParams();
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<ProjectListItem | null>(null);

  const projects = useQuery({
    queryKey: ['projects', 'list', { page, pageSize, search }],
    queryFn: async () =>
      toPage(
        await api.GET('/api/v2.0/projects', {
          params: {
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
  });

  const mayCreate = user?.sysadmin_flag === true || system.data?.project_creation_restriction !== 'adminonly';

  return (
    <section>
      <PageHeader
        title="Projects"
        description="Projects hold repositories, their members and robot accounts."
        actions={
          mayCreate ? (
            <button type="button" className="button button-primary" onClick={() => setCreating(true)}>
              New project
            </button>
          ) : null
        }
      />
      <div className="toolbar">
        <SearchBox label="Search projects" placeholder="Project name" value={search} onSearch={setQuery} />
      </div>
      <QueryState
        query={projects}
        action="load the projects"
        isEmpty={(data) => data.total === 0 && data.items.length === 0}
        empty={search ? <p>No project matches “{search}”.</p> : <p>There are no projects yet.</p>}
      >
        {(data) => (
          <PagedTable
            caption="Projects"
            headers={
              <>
                <th scope="col">Name</th>
                <th scope="col">Access</th>
                <th scope="col">Your role</th>
                <th scope="col">Repositories</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </>
            }
            columns={6}
            itemCount={data.items.length}
            emptyText="No projects on this page."
            label="projects"
            page={page}
            pageSize={pageSize}
            total={data.total}
            onPageChange={setPage}
            onPageSizeChange={setPageSize}
          >
            {data.items.map((project) => (
              <tr key={project.project_id}>
                <td>
                  <Link to={`/projects/${project.project_id}/summary`}>{project.name}</Link>
                </td>
                <td>
                  {project.metadata?.public === 'true' ? <Badge tone="info">Public</Badge> : <Badge>Private</Badge>}
                </td>
                <td className="nowrap">
                  {project.current_user_role_id ? roleLabel(project.current_user_role_id) : '—'}
                </td>
                <td>{project.repo_count}</td>
                <td className="nowrap">{formatDate(project.creation_time)}</td>
                <td className="actions">
                  {user?.sysadmin_flag || project.current_user_role_id === 1 ? (
                    <button
                      type="button"
                      className="button button-small"
                      aria-label={`Delete project ${project.name}`}
                      onClick={() => setDeleting(project)}
                    >
                      Delete
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </PagedTable>
        )}
      </QueryState>
      {creating ? (
        <CreateProjectDialog
          onClose={() => setCreating(false)}
          onCreated={(name) => {
            setCreating(false);
            toast.success(`Project ${name} was created.`);
            void queryClient.invalidateQueries({ queryKey: ['projects'] });
          }}
        />
      ) : null}
      {deleting ? <DeleteProjectDialog project={deleting} onClose={() => setDeleting(null)} /> : null}
    </section>
  );
}
