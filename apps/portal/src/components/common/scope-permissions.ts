import { useQuery, type UseQueryResult } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { useCurrentUser } from '../../api/session.js';

export interface HeldPermission {
  resource: string;
  action: string;
}

/** `/project/3` for a project id, `/system` for the whole installation. */
export function projectScope(projectId: number): string {
  return `/project/${projectId}`;
}
export const SYSTEM_SCOPE = '/system';

/**
 * What the signed-in user may do in a scope (GET /users/current/permissions?relative=true): resources relative to
 * the scope, the project itself as "project" (Harbor answers "."). Used to offer only the actions a user may take.
 */
export function useScopePermissions(scope: string): UseQueryResult<HeldPermission[]> {
  const api = useApi();
  return useQuery({
    queryKey: ['users', 'current', 'permissions', scope],
    queryFn: async () => {
      const held = unwrap(
        await api.GET('/api/v2.0/users/current/permissions', { params: { query: { scope, relative: 'true' } } }),
      );
      return held.map((p) => (p.resource === '.' ? { resource: 'project', action: p.action } : p));
    },
    staleTime: 60_000,
  });
}

/**
 * Whether the signed-in user may take `action` on `resource` in the scope: always for a system administrator, else
 * as the server's permission answer says (false while it is unknown, so nothing is offered that would be refused).
 */
export function useCan(scope: string): (resource: string, action: string) => boolean {
  const admin = useCurrentUser().data?.sysadmin_flag === true;
  const held = useScopePermissions(scope).data;
  return (resource, action) => admin || (held?.some((p) => p.resource === resource && p.action === action) ?? false);
}
