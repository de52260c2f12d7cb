import { useProject } from '../../api/project.js';
import { projectScope, useCan } from '../../components/common/scope-permissions.js';
import { RobotsPanel } from './RobotsPanel.js';
import shared from '../../components/common/common.module.css';

/** The robot accounts of the project shown (/projects/:projectId/robots). */
export function ProjectRobotsPage() {
  const project = useProject();
  const can = useCan(projectScope(project.project_id));
  return (
    <div>
      <h2>Robot accounts</h2>
      <p className={shared.intro}>
        Accounts for scripts and CI in project {project.name}. They log in as robot${project.name}+name with a secret
        that is shown only when it is created or refreshed.
      </p>
      <RobotsPanel
        scope={{ level: 'project', projectId: project.project_id, projectName: project.name }}
        can={{ create: can('robot', 'create'), update: can('robot', 'update'), delete: can('robot', 'delete') }}
      />
    </div>
  );
}
