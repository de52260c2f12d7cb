import { Outlet, useParams } from 'react-router';
import { ProjectProvider, useProjectQuery } from '../../api/project.js';
import { Badge } from '../../components/Badge.js';
import { PageHeader } from '../../components/PageHeader.js';
import { ErrorState, Loading } from '../../components/QueryState.js';
import { Tabs } from '../../components/Tabs.js';

/** The frame of a project's pages: its name, the section tabs, and the section under /projects/:projectId/…. */
export function ProjectLayout() {
  const { projectId = '' } = useParams();
  const valid = /^\d{1,18}$/.test(projectId);
  const query = useProjectQuery(projectId, valid);

  if (!valid) return <ErrorState error={new Error(`"${projectId}" is not a project id`)} action="open the project" />;
  if (query.isPending) return <Loading label="Loading the project…" />;
  if (query.isError) {
    return <ErrorState error={query.error} action="open the project" onRetry={() => void query.refetch()} />;
  }

  const project = query.data;
  const base = `/projects/${project.project_id}`;
  return (
    <ProjectProvider project={project}>
      <PageHeader
        breadcrumbs={[{ label: 'Projects', to: '/projects' }]}
        title={
          <>
            {project.name}{' '}
            <Badge tone={project.metadata?.public === 'true' ? 'info' : 'neutral'}>
              {project.metadata?.public === 'true' ? 'Public' : 'Private'}
            </Badge>
          </>
        }
      />
      <Tabs
        label="Project sections"
        tabs={[
          { label: 'Summary', to: `${base}/summary` },
          { label: 'Repositories', to: `${base}/repositories` },
          { label: 'Members', to: `${base}/members` },
          { label: 'Robot Accounts', to: `${base}/robots` },
          { label: 'Policy', to: `${base}/policy` },
          { label: 'Logs', to: `${base}/logs` },
          { label: 'Configuration', to: `${base}/configuration` },
        ]}
      />
      <div className="tab-panel">
        <Outlet />
      </div>
    </ProjectProvider>
  );
}
