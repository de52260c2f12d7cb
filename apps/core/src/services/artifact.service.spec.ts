import { describe, expect, it } from '@jest/globals';
import { MediaType, type ParsedManifest } from '@wharf/oci';
import { type ArtifactRecord } from '../repositories/artifact.repository.js';
import { artifactKind, encodeRepositoryName, harborMediaType } from './artifact.service.js';

function record(manifestMediaType: string): ArtifactRecord {
  return {
    id: 1,
    repositoryId: 1,
    projectId: 1,
    digest: `sha256:${'a'.repeat(64)}`,
    manifestMediaType,
    artifactType: null,
    payload: Buffer.from('{}'),
    subjectDigest: null,
    annotations: null,
    accessorySubject: null,
    accessoryType: null,
    pushTime: new Date(0),
    pullTime: null,
  };
}

function image(configMediaType: string, annotations?: Record<string, string>): ParsedManifest {
  return {
    mediaType: MediaType.OciManifest,
    kind: 'image',
    config: { mediaType: configMediaType, digest: `sha256:${'b'.repeat(64)}`, size: 2 },
    layers: [],
    manifests: [],
    annotations,
  };
}

describe('artifact classification', () => {
  it.each([
    [MediaType.OciConfig, 'IMAGE'],
    [MediaType.DockerConfig, 'IMAGE'],
    [MediaType.OciIndex, 'IMAGE'],
    [MediaType.DockerManifestList, 'IMAGE'],
    ['application/vnd.cncf.helm.config.v1+json', 'CHART'],
    ['application/vnd.cnab.manifest.v1', 'CNAB'],
    ['application/vnd.wasm.config.v1+json', 'WASM'],
    ['application/vnd.caicloud.model.config.v1alpha1+json', 'MODEL'],
    ['application/vnd.acme.rocket.launch.config.v2+json', 'ROCKET.LAUNCH'],
    [MediaType.OciEmpty, 'UNKNOWN'],
    ['application/octet-stream', 'UNKNOWN'],
  ])('names %s %s', (mediaType, type) => {
    expect(artifactKind(mediaType)).toBe(type);
  });

  it("takes an image manifest's config media type, and Wasm's when the annotations say so", () => {
    expect(harborMediaType(record(MediaType.OciManifest), image('application/vnd.cncf.helm.config.v1+json'))).toBe(
      'application/vnd.cncf.helm.config.v1+json',
    );
    expect(
      harborMediaType(record(MediaType.OciManifest), image(MediaType.OciConfig, { 'run.oci.handler': 'wasm' })),
    ).toBe('application/vnd.wasm.config.v1+json');
  });

  it("takes an index's own media type unless it declares an artifact type", () => {
    const index: ParsedManifest = { mediaType: MediaType.OciIndex, kind: 'index', layers: [], manifests: [] };
    expect(harborMediaType(record(MediaType.OciIndex), index)).toBe(MediaType.OciIndex);
    const bundle = { ...index, annotations: { 'org.opencontainers.artifactType': 'application/vnd.cnab.manifest.v1' } };
    expect(artifactKind(harborMediaType(record(MediaType.OciIndex), bundle))).toBe('CNAB');
  });
});

describe('encodeRepositoryName', () => {
  it('splits off the project and encodes the rest twice over, as Harbor links do', () => {
    expect(encodeRepositoryName('library/nginx')).toEqual({ project: 'library', repository: 'nginx' });
    expect(encodeRepositoryName('shop/team/api')).toEqual({ project: 'shop', repository: 'team%252Fapi' });
  });
});
