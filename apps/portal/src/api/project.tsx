import { createContext, useContext, type ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { useApi } from './client.js';
import { type Project } from './types.js';

/** Query key of one project by id; invalidate it after changing the project. */
export function projectKey(projectId: string | number) {
  return ['projects', 'detail', String(projectId)] as const;
}

/** GET /api/v2.0/projects/{id}. */
export function useProjectQuery(projectId: string, enabled = true) {
  const api = useApi();
  return useQuery({
    enabled,
    queryKey: projectKey(projectId),
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v2.0/projects/{project_name_or_id}', {
          params: { path: { project_name_or_id: projectId } },
        }),
      ),
  });
}

const ProjectContext = createContext<Project | null>(null);

export function ProjectProvider({ project, children }: { project: Project; children: ReactNode }) {
  return <ProjectContext.Provider value={project}>{children}</ProjectContext.Provider>;
}

/**
 * The project whose pages are shown (under /projects/:projectId/…), already loaded by the project layout. API paths
 * that take `{project_name}` need `project.name`; those with `{project_name_or_id}` can take `String(project.project_id)`.
 */
export function useProject(): Project {
  const project = useContext(ProjectContext);
  if (!project) throw new Error('useProject() is only available on the pages of a project');
  return project;
}
