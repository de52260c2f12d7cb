import { OciError, OciErrorCode, isValidRepositoryName } from '@wharf/oci';

export type RegistryRoute =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; uuid: string }
  | { kind: 'referrers'; name: string; digest: string };

/** The methods each kind of route answers, for a 405's Allow header. */
export const ROUTE_METHODS: Record<RegistryRoute['kind'], readonly string[]> = {
  base: ['GET', 'HEAD'],
  catalog: ['GET'],
  tags: ['GET'],
  manifest: ['GET', 'HEAD', 'PUT', 'DELETE'],
  blob: ['GET', 'HEAD', 'DELETE'],
  uploads: ['POST'],
  upload: ['GET', 'PATCH', 'PUT', 'DELETE'],
  referrers: ['GET'],
};

// `.+` is greedy, so a repository whose own path holds `blobs` or `manifests` still parses on the last one.
const PATTERNS: [RegExp, (m: RegExpExecArray) => RegistryRoute][] = [
  [/^(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploads', name: m[1] })],
  [/^(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: 'upload', name: m[1], uuid: m[2] })],
  [/^(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: m[1], digest: m[2] })],
  [/^(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[1], reference: m[2] })],
  [/^(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: m[1] })],
  [/^(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: 'referrers', name: m[1], digest: m[2] })],
];

/**
 * Maps the path after `/v2/` to an operation. Percent-encoding never appears in a valid name, tag or digest, so
 * any `%` is refused outright: that closes encoded-slash and encoded-dot tricks before anything is decoded.
 * Returns null for paths that are not registry routes.
 */
export function matchRoute(rawPath: string): RegistryRoute | null {
  if (rawPath === '') return { kind: 'base' };
  if (rawPath === '_catalog') return { kind: 'catalog' };
  for (const [pattern, build] of PATTERNS) {
    const m = pattern.exec(rawPath);
    if (!m) continue;
    const route = build(m);
    if (rawPath.includes('%') || !('name' in route) || !isValidRepositoryName(route.name)) {
      throw new OciError(OciErrorCode.NAME_INVALID, 'invalid repository name', { name: m[1] });
    }
    return route;
  }
  return null;
}
