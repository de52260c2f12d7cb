import { type QueryClient, useMutation, useQuery, useQueryClient, type UseQueryResult } from '@tanstack/react-query';
import { unwrap, WharfApiError } from '@wharf/api-client';
import { useApi } from './client.js';
import { type CurrentUser } from './types.js';

export const CURRENT_USER_KEY = ['users', 'current'] as const;
const SESSION_ENDED_KEY = ['session', 'ended'] as const;
const LOGIN_MUTATION_KEY = ['session', 'login'] as const;

function isCurrentUserQuery(query: { queryKey: readonly unknown[] }): boolean {
  return query.queryKey.length === 2 && query.queryKey[0] === 'users' && query.queryKey[1] === 'current';
}

/**
 * Called for every failed query or change: a 401 outside the login itself means the session ended (expired, or
 * logged out elsewhere). The portal then forgets the user, which sends it to the login page with a notice.
 */
export function handleSessionError(queryClient: QueryClient, error: unknown, key?: readonly unknown[]): void {
  if (!(error instanceof WharfApiError) || error.status !== 401) return;
  if (key && key[0] === LOGIN_MUTATION_KEY[0] && key[1] === LOGIN_MUTATION_KEY[1]) return;
  if (queryClient.getQueryData(CURRENT_USER_KEY)) {
    resetSession(queryClient, null);
    queryClient.setQueryData(SESSION_ENDED_KEY, true);
  }
}

/** Whether the last session ended by itself (not by "Log out"), until the next login. */
export function sessionEnded(queryClient: QueryClient): boolean {
  return queryClient.getQueryData<boolean>(SESSION_ENDED_KEY) === true;
}

/** Forgets everything fetched in a session, and sets who is signed in now (null: nobody). */
export function resetSession(queryClient: QueryClient, user: CurrentUser | null): void {
  queryClient.removeQueries({ predicate: (query) => !isCurrentUserQuery(query) });
  queryClient.setQueryData(CURRENT_USER_KEY, user);
}

/**
 * The signed-in user (GET /api/v2.0/users/current), or null when there is no session. The first answer of a
 * session also gives the client the CSRF token it needs for changes, so the app asks for it before anything else.
 */
export function useCurrentUser(): UseQueryResult<CurrentUser | null> {
  const api = useApi();
  const queryClient = useQueryClient();
  return useQuery({
    queryKey: CURRENT_USER_KEY,
    queryFn: async () => {
      try {
        return unwrap(await api.GET('/api/v2.0/users/current'));
      } catch (error) {
        if (!(error instanceof WharfApiError) || error.status !== 401) throw error;
        // Someone was signed in and no longer is: the session ended (expired, or logged out elsewhere).
        if (queryClient.getQueryData(CURRENT_USER_KEY)) queryClient.setQueryData(SESSION_ENDED_KEY, true);
        return null;
      }
    },
    // Anonymous users may browse public projects, so a session that ended shows up only here: look now and then.
    staleTime: 60_000,
    refetchInterval: 5 * 60_000,
    refetchOnWindowFocus: true,
    retry: false,
  });
}

/** Whether the signed-in user is a system administrator (false while unknown). */
export function useIsAdmin(): boolean {
  return useCurrentUser().data?.sysadmin_flag === true;
}

/** Opens a session; afterwards the current user is fetched anew. */
export function useLogin() {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationKey: LOGIN_MUTATION_KEY,
    mutationFn: async ({ principal, password }: { principal: string; password: string }) => {
      await api.login(principal, password);
      return unwrap(await api.GET('/api/v2.0/users/current'));
    },
    onSuccess: (user) => resetSession(queryClient, user),
  });
}

/** Ends the session and forgets everything fetched with it. */
export function useLogout() {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: () => api.logout(),
    onSettled: () => resetSession(queryClient, null),
  });
}
