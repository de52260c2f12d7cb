import { useQuery } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { useApi } from './client.js';

/** GET /api/v2.0/projects/{id}/summary: repository count, member counts by role, storage quota. */
export function useProjectSummary(projectId: number) {
  const api = useApi();
  const id = String(projectId);
  return useQuery({
    queryKey: ['projects', 'summary', id],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v2.0/projects/{project_name_or_id}/summary', {
          params: { path: { project_name_or_id: id } },
        }),
      ),
  });
}
