import { createContext, useContext, type ReactNode } from 'react';
import { createWharfClient, type WharfClient } from '@wharf/api-client';

const ApiContext = createContext<WharfClient | null>(null);

/** The client the portal uses in a browser: same origin as the page, the session cookie travels by itself. */
export function createBrowserClient(): WharfClient {
  return createWharfClient({ baseUrl: window.location.origin });
}

export function ApiProvider({ client, children }: { client: WharfClient; children: ReactNode }) {
  return <ApiContext.Provider value={client}>{children}</ApiContext.Provider>;
}

/** The typed Wharf client of the portal (`api.GET('/api/v2.0/projects', …)`). */
export function useApi(): WharfClient {
  const client = useContext(ApiContext);
  if (!client) throw new Error('useApi() needs an <ApiProvider> above it');
  return client;
}

/**
 * The value to give openapi-fetch for a `{repository_name}` path parameter. Harbor takes a repository name inside a
 * project URL-encoded twice (`team/api` → `team%252Fapi`); openapi-fetch encodes path parameters once itself.
 */
export function repositoryParam(name: string): string {
  return encodeURIComponent(name);
}
