import { useApi } from '../../api/client.js';
import { toPage } from '../../api/paging.js';
import { useProject } from '../../api/project.js';
import { LogList } from './LogList.js';
import shared from '../../components/common/common.module.css';

/** The audit log of the project shown (/projects/:projectId/logs), newest first. */
export function ProjectLogsPage() {
  const api = useApi();
  const project = useProject();
  return (
    <div>
      <h2>Logs</h2>
      <p className={shared.intro}>Every change made in project {project.name}, and every pull, newest first.</p>
      <LogList
        what={`the log of project ${project.name}`}
        queryKey={['projects', project.name, 'logs']}
        fetchPage={async ({ q, page, pageSize }) =>
          toPage(
            await api.GET('/api/v2.0/projects/{project_name}/logs', {
              params: {
                path: { project_name: project.name },
                query: { ...(q ? { q } : {}), sort: '-op_time', page, page_size: pageSize },
              },
            }),
            page,
            pageSize,
          )
        }
      />
    </div>
  );
}
