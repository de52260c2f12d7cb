import { useQuery } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { useApi } from './client.js';
import { type SystemInfo } from './types.js';

/** GET /api/v2.0/systeminfo: registry address, project creation restriction, version. */
export function useSystemInfo() {
  const api = useApi();
  return useQuery({
    queryKey: ['systeminfo'],
    queryFn: async () => unwrap(await api.GET('/api/v2.0/systeminfo')),
    staleTime: 10 * 60_000,
  });
}

/**
 * The registry's address for pull commands: registry_url (the external URL without its scheme), else the host of
 * external_url, else the host the portal was loaded from.
 */
export function registryHost(info: SystemInfo | undefined, fallback: string = window.location.host): string {
  const registry = info?.registry_url?.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  if (registry) return registry;
  if (info?.external_url) {
    try {
      return new URL(info.external_url).host;
    } catch {
      // Not a URL: fall back to where the portal is.
    }
  }
  return fallback;
}

/** `docker pull host/project/repo:tag` or `…@sha256:…`. */
export function pullCommand(host: string, repositoryFullName: string, reference: string): string {
  // A tag never contains ":", a digest always does.
  const separator = reference.includes(':') ? '@' : ':';
  return `docker pull ${host}/${repositoryFullName}${separator}${reference}`;
}

/**
 * The commands that push a local image into a project: log in, tag, push. `REPOSITORY` and `TAG` are for the user
 * to fill in, as Harbor's portal writes them.
 */
export function pushCommands(host: string, projectName: string): { label: string; command: string }[] {
  const target = `${host}/${projectName}/REPOSITORY[:TAG]`;
  return [
    { label: 'Log in', command: `docker login ${host}` },
    { label: 'Tag an image for this project', command: `docker tag SOURCE_IMAGE[:TAG] ${target}` },
    { label: 'Push it', command: `docker push ${target}` },
  ];
}

/**
 * The registry address for push and pull commands: the one the server names (registry_url), so every command on
 * every page names the same address; the page's host only while system information is not known.
 */
export function useRegistryHost(): string {
  return registryHost(useSystemInfo().data);
}
