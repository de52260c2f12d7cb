import { type ReactElement } from 'react';
import { render, type RenderResult } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router';
import { type QueryClient } from '@tanstack/react-query';
import { createWharfClient, type WharfClient } from '@wharf/api-client';
import { AppProviders } from '../App.js';
import { createQueryClient } from '../queryClient.js';
import { CURRENT_USER_KEY } from '../api/session.js';
import { ProjectProvider } from '../api/project.js';
import { type CurrentUser, type Project } from '../api/types.js';
import { BASE_URL, createFetchDouble, type FetchDouble } from './fetch-double.js';

export const ADMIN: CurrentUser = {
  user_id: 1,
  username: 'admin',
  email: 'admin@example.com',
  realname: 'Administrator',
  comment: '',
  sysadmin_flag: true,
  admin_role_in_auth: false,
  creation_time: '2026-01-01T00:00:00Z',
  update_time: '2026-01-01T00:00:00Z',
};

export const DEVELOPER: CurrentUser = {
  ...ADMIN,
  user_id: 7,
  username: 'dev',
  email: 'dev@example.com',
  realname: 'Dev Eloper',
  sysadmin_flag: false,
};

export const PROJECT: Project = {
  project_id: 3,
  name: 'shop',
  owner_id: 1,
  owner_name: 'admin',
  creation_time: '2026-02-01T10:00:00Z',
  update_time: '2026-02-01T10:00:00Z',
  repo_count: 2,
  current_user_role_id: 1,
  current_user_role_ids: [1],
  metadata: { public: 'false' },
};

export interface RenderOptions {
  /** The address the router starts at. */
  at?: string;
  /** The route pattern the element is mounted on, e.g. `/projects/:projectId/members`. Defaults to `at`. */
  path?: string;
  /** Who is signed in (null: nobody); the admin by default. Set without any request. */
  user?: CurrentUser | null;
  /** The HTTP test double; a fresh one by default. */
  server?: FetchDouble;
  /** For a page of a project: the project the project layout would give it (useProject()). */
  project?: Project;
  /** Extra routes next to the page, e.g. where it navigates to. */
  routes?: ReactElement;
}

export interface Rendered extends RenderResult {
  server: FetchDouble;
  client: WharfClient;
  queryClient: QueryClient;
}

/** Renders an element inside the portal's providers and a memory router, talking to a fetch test double. */
export function renderWithApp(element: ReactElement, options: RenderOptions = {}): Rendered {
  const at = options.at ?? '/';
  const server = options.server ?? createFetchDouble();
  const client = createWharfClient({ baseUrl: BASE_URL, fetch: server.fetch });
  const queryClient = createQueryClient();
  queryClient.setDefaultOptions({
    ...queryClient.getDefaultOptions(),
    queries: { ...queryClient.getDefaultOptions().queries, retry: false },
  });
  const user = options.user === undefined ? ADMIN : options.user;
  queryClient.setQueryData(CURRENT_USER_KEY, user);
  const result = render(
    <AppProviders client={client} queryClient={queryClient}>
      <MemoryRouter initialEntries={[at]}>
        <Routes>
          <Route
            path={options.path ?? at.split('?')[0]}
            element={options.project ? <ProjectProvider project={options.project}>{element}</ProjectProvider> : element}
          />
          {options.routes}
        </Routes>
      </MemoryRouter>
    </AppProviders>,
  );
  return { ...result, server, client, queryClient };
}
