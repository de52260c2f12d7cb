import { type ReactNode } from 'react';
import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { type WharfClient } from '@wharf/api-client';
import { ApiProvider } from './api/client.js';
import { ToastProvider } from './components/Toast.js';

/** Everything a page needs around it: the API client, the query cache and notices. Tests use it with a router. */
export function AppProviders({
  client,
  queryClient,
  children,
}: {
  client: WharfClient;
  queryClient: QueryClient;
  children: ReactNode;
}) {
  return (
    <ApiProvider client={client}>
      <QueryClientProvider client={queryClient}>
        <ToastProvider>{children}</ToastProvider>
      </QueryClientProvider>
    </ApiProvider>
  );
}
