import { MutationCache, QueryCache, QueryClient } from '@tanstack/react-query';
import { WharfApiError } from '@wharf/api-client';
import { handleSessionError } from './api/session.js';

/** Whether a failed request is worth repeating by itself: not when the server said no (4xx). */
function shouldRetry(failures: number, error: unknown): boolean {
  if (error instanceof WharfApiError && error.status < 500) return false;
  return failures < 2;
}

/** How long a list is shown from the cache before it is asked for again. */
export const STALE_MS = 15_000;

/** The portal's query cache: a 401 anywhere ends the session; lists stay fresh for 15 s. */
export function createQueryClient(): QueryClient {
  const client: QueryClient = new QueryClient({
    queryCache: new QueryCache({ onError: (error) => handleSessionError(client, error) }),
    mutationCache: new MutationCache({
      onError: (error, _variables, _context, mutation) =>
        handleSessionError(client, error, mutation.options.mutationKey),
    }),
    defaultOptions: {
      queries: { retry: shouldRetry, staleTime: STALE_MS, refetchOnWindowFocus: false },
      mutations: { retry: false },
    },
  });
  return client;
}
