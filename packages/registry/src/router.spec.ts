import { describe, expect, it } from '@jest/globals';
import { OciError, OciErrorCode } from '@wharf/oci';
import { matchRoute } from './router.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const UUID = '0f8b7c1e-3d4a-4b5c-9e6f-1a2b3c4d5e6f';

function nameInvalid(path: string): OciError {
  try {
    matchRoute(path);
  } catch (error) {
    if (error instanceof OciError) return error;
    throw error;
  }
  throw new Error(`expected ${path} to be refused`);
}

describe('matchRoute', () => {
  it('maps the base and catalog endpoints', () => {
    expect(matchRoute('')).toEqual({ kind: 'base' });
    expect(matchRoute('_catalog')).toEqual({ kind: 'catalog' });
  });

  it.each([
    ['library/ubuntu/manifests/latest', { kind: 'manifest', name: 'library/ubuntu', reference: 'latest' }],
    [`a/manifests/${DIGEST}`, { kind: 'manifest', name: 'a', reference: DIGEST }],
    [`a/b/c/blobs/${DIGEST}`, { kind: 'blob', name: 'a/b/c', digest: DIGEST }],
    ['a/b/blobs/uploads/', { kind: 'uploads', name: 'a/b' }],
    ['a/b/blobs/uploads', { kind: 'uploads', name: 'a/b' }],
    [`a/b/blobs/uploads/${UUID}`, { kind: 'upload', name: 'a/b', uuid: UUID }],
    ['org/team/app/tags/list', { kind: 'tags', name: 'org/team/app' }],
    [`a/referrers/${DIGEST}`, { kind: 'referrers', name: 'a', digest: DIGEST }],
  ])('maps %s', (path, route) => {
    expect(matchRoute(path)).toEqual(route);
  });

  it.each([
    ['team/blobs/manifests/latest', { kind: 'manifest', name: 'team/blobs', reference: 'latest' }],
    ['team/manifests/manifests/v1', { kind: 'manifest', name: 'team/manifests', reference: 'v1' }],
    [`team/manifests/blobs/${DIGEST}`, { kind: 'blob', name: 'team/manifests', digest: DIGEST }],
    [`a/blobs/b/blobs/${DIGEST}`, { kind: 'blob', name: 'a/blobs/b', digest: DIGEST }],
    ['x/blobs/uploads/blobs/uploads/', { kind: 'uploads', name: 'x/blobs/uploads' }],
    [`x/blobs/uploads/blobs/uploads/${UUID}`, { kind: 'upload', name: 'x/blobs/uploads', uuid: UUID }],
    [`x/blobs/uploads/blobs/${DIGEST}`, { kind: 'blob', name: 'x/blobs/uploads', digest: DIGEST }],
    ['x/blobs/uploads/manifests/latest', { kind: 'manifest', name: 'x/blobs/uploads', reference: 'latest' }],
    ['x/tags/tags/list', { kind: 'tags', name: 'x/tags' }],
    ['x/tags/manifests/list', { kind: 'manifest', name: 'x/tags', reference: 'list' }],
    [`x/manifests/referrers/${DIGEST}`, { kind: 'referrers', name: 'x/manifests', digest: DIGEST }],
    ['x/referrers/manifests/latest', { kind: 'manifest', name: 'x/referrers', reference: 'latest' }],
  ])('maps %s for a repository whose own path holds an operation word', (path, route) => {
    expect(matchRoute(path)).toEqual(route);
  });

  it.each([
    'library%2fubuntu/manifests/latest',
    'library%2Fubuntu/manifests/latest',
    '%2e%2e/manifests/latest',
    'library/manifests/lat%65st',
    `library/blobs/sha256%3a${'a'.repeat(64)}`,
  ])('refuses any percent-encoding in %s with NAME_INVALID', (path) => {
    const error = nameInvalid(path);
    expect(error.code).toBe(OciErrorCode.NAME_INVALID);
    expect(error.status).toBe(400);
  });

  it.each([
    '../manifests/latest',
    'library/../manifests/latest',
    'library/../../etc/blobs/uploads/',
    './library/tags/list',
    `a/./b/blobs/${DIGEST}`,
    'library/..//tags/list',
  ])('refuses dot segments in the repository name of %s', (path) => {
    expect(nameInvalid(path).code).toBe(OciErrorCode.NAME_INVALID);
  });

  it.each([
    'Library/manifests/latest',
    'library//ubuntu/manifests/latest',
    '/library/manifests/latest',
    'library_/tags/list',
    `${'a'.repeat(256)}/manifests/latest`,
  ])('refuses the invalid repository name in %s', (path) => {
    const error = nameInvalid(path);
    expect(error.code).toBe(OciErrorCode.NAME_INVALID);
    expect(error.detail).toEqual({ name: path.slice(0, path.search(/\/(manifests|tags|blobs)\//)) });
  });

  it.each([
    'library',
    'library/ubuntu',
    'library/ubuntu/',
    'manifests/latest',
    'blobs/uploads/',
    `blobs/${DIGEST}`,
    'tags/list',
    'library/manifests/',
    'library/manifests/latest/',
    'library/manifests/a/b',
    'library/blobs/',
    `library/blobs/${DIGEST}/`,
    `library/blobs/uploads/${UUID}/extra`,
    'library/tags/lists',
    'library/tags/list/',
    'library/tags',
    'library/referrers/',
    '_catalog/',
    '_catalog/x',
    'library/tags/list%00',
    'v2',
  ])('returns null for the unknown path %j', (path) => {
    expect(matchRoute(path)).toBeNull();
  });
});
