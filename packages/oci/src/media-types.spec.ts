import { describe, expect, it } from '@jest/globals';
import {
  INDEX_MEDIA_TYPES,
  MANIFEST_MEDIA_TYPES,
  MediaType,
  acceptAllows,
  baseMediaType,
  isValidMediaType,
} from './media-types.js';

describe('manifest media type lists', () => {
  it('serve OCI and Docker schema 2 manifests and indexes, never schema 1', () => {
    expect([...MANIFEST_MEDIA_TYPES].sort()).toEqual(
      [MediaType.OciManifest, MediaType.OciIndex, MediaType.DockerManifest, MediaType.DockerManifestList].sort(),
    );
    expect(MANIFEST_MEDIA_TYPES).not.toContain(MediaType.DockerManifestSchema1);
    expect(MANIFEST_MEDIA_TYPES).not.toContain(MediaType.DockerManifestSchema1Signed);
    expect([...INDEX_MEDIA_TYPES].sort()).toEqual([MediaType.OciIndex, MediaType.DockerManifestList].sort());
  });
});

describe('isValidMediaType', () => {
  it.each([
    MediaType.OciManifest,
    MediaType.DockerForeignLayer,
    'application/json',
    'application/vnd.cncf.helm.config.v1+json',
    'text/plain',
  ])('accepts %s', (value) => {
    expect(isValidMediaType(value)).toBe(true);
  });

  it.each([
    '',
    'application',
    'application/',
    '/json',
    'application/json; charset=utf-8',
    'application/json/extra',
    'application /json',
    '-application/json',
    `application/${'x'.repeat(128)}`,
  ])('refuses %j', (value) => {
    expect(isValidMediaType(value)).toBe(false);
  });
});

describe('baseMediaType', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['  ;charset=utf-8', undefined],
    ['application/json', 'application/json'],
    ['application/json; charset=utf-8', 'application/json'],
    ['  Application/VND.OCI.Image.Manifest.v1+JSON  ', MediaType.OciManifest],
  ])('reads %j as %j', (header, expected) => {
    expect(baseMediaType(header)).toBe(expected);
  });
});

describe('acceptAllows', () => {
  const index = MediaType.OciIndex;

  it('allows anything when the client sent no Accept header or an empty one', () => {
    expect(acceptAllows(undefined, index)).toBe(true);
    expect(acceptAllows('', index)).toBe(true);
    expect(acceptAllows('  ', index)).toBe(true);
  });

  it('allows an exactly listed type, case-insensitively and with parameters', () => {
    expect(acceptAllows(index, index)).toBe(true);
    expect(acceptAllows(`${MediaType.OciManifest}, ${index.toUpperCase()};q=0.9`, index)).toBe(true);
  });

  it('refuses a type the client did not list', () => {
    expect(acceptAllows(`${MediaType.OciManifest}, ${MediaType.DockerManifest}`, index)).toBe(false);
  });

  it('reads a header split over several lines', () => {
    expect(acceptAllows([MediaType.DockerManifest, index], index)).toBe(true);
    expect(acceptAllows([MediaType.DockerManifest, MediaType.OciManifest], index)).toBe(false);
  });

  it('allows */* and the matching type/* wildcard but not another type wildcard', () => {
    expect(acceptAllows('*/*', index)).toBe(true);
    expect(acceptAllows('application/*', index)).toBe(true);
    expect(acceptAllows('text/*', index)).toBe(false);
  });

  it('treats q=0 as a refusal, and any other weight as acceptance', () => {
    expect(acceptAllows(`${index};q=0`, index)).toBe(false);
    expect(acceptAllows(`${index}; q=0.000`, index)).toBe(false);
    expect(acceptAllows('*/*;q=0', index)).toBe(false);
    expect(acceptAllows(`${index};q=0.001`, index)).toBe(true);
    expect(acceptAllows(`${index};q=1`, index)).toBe(true);
  });

  it('skips empty entries', () => {
    expect(acceptAllows(`, ,${index},`, index)).toBe(true);
  });

  // RFC 9110 §12.5.1: the most specific range decides, so an explicit q=0 beats a wildcard.
  it('refuses a type the client refused by name even when a wildcard is also listed', () => {
    expect(acceptAllows(`*/*, ${index};q=0`, index)).toBe(false);
    expect(acceptAllows(`application/*, ${index};q=0`, index)).toBe(false);
  });
});
