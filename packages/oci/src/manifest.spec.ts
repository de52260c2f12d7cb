import { describe, expect, it } from '@jest/globals';
import { digestOf } from './digest.js';
import { OciError, OciErrorCode } from './errors.js';
import { type Descriptor, isForeignLayer, parseManifest } from './manifest.js';
import { MediaType } from './media-types.js';

const NONDISTRIBUTABLE_LAYER = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';

function descriptor(mediaType: string, content: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mediaType, digest: digestOf(content), size: Buffer.byteLength(content), ...extra };
}

const config = descriptor(MediaType.OciConfig, '{"architecture":"amd64","os":"linux"}');
const layer = descriptor(MediaType.OciLayerTarGzip, 'layer bytes');

function ociImage(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer], ...extra };
}

function ociIndex(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [
      descriptor(MediaType.OciManifest, 'amd64 manifest', { platform: { architecture: 'amd64', os: 'linux' } }),
      descriptor(MediaType.OciManifest, 'arm64 manifest', {
        platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
      }),
    ],
    ...extra,
  };
}

function body(json: unknown): Buffer {
  return Buffer.from(JSON.stringify(json));
}

function refusal(json: unknown, contentType: string | undefined): OciError {
  const raw = Buffer.isBuffer(json) ? json : body(json);
  try {
    parseManifest(raw, contentType);
  } catch (error) {
    if (error instanceof OciError) return error;
    throw error;
  }
  throw new Error('expected the manifest to be refused');
}

describe('parseManifest: image manifests', () => {
  it('reads an OCI image manifest: config, layers, and the config type as artifact type', () => {
    const parsed = parseManifest(body(ociImage()), MediaType.OciManifest);
    expect(parsed).toMatchObject({
      mediaType: MediaType.OciManifest,
      kind: 'image',
      config,
      layers: [layer],
      manifests: [],
      artifactType: MediaType.OciConfig,
    });
    expect(parsed.subject).toBeUndefined();
  });

  it('reads a Docker schema 2 manifest', () => {
    const json = {
      schemaVersion: 2,
      mediaType: MediaType.DockerManifest,
      config: descriptor(MediaType.DockerConfig, '{}'),
      layers: [descriptor('application/vnd.docker.image.rootfs.diff.tar.gzip', 'layer')],
    };
    const parsed = parseManifest(body(json), MediaType.DockerManifest);
    expect(parsed.kind).toBe('image');
    expect(parsed.mediaType).toBe(MediaType.DockerManifest);
    expect(parsed.layers).toHaveLength(1);
  });

  it('takes the media type from the Content-Type when the body does not declare one', () => {
    const { mediaType: _omitted, ...json } = ociImage();
    expect(parseManifest(body(json), MediaType.OciManifest).mediaType).toBe(MediaType.OciManifest);
  });

  it('takes the media type from the body when no Content-Type was sent', () => {
    expect(parseManifest(body(ociImage()), undefined).mediaType).toBe(MediaType.OciManifest);
  });

  it('recognises an OCI image manifest by its shape when neither body nor header names a type', () => {
    const { mediaType: _omitted, ...json } = ociImage();
    expect(parseManifest(body(json), undefined)).toMatchObject({ mediaType: MediaType.OciManifest, kind: 'image' });
  });

  it('keeps layer descriptor fields: urls, annotations, artifactType', () => {
    const rich = descriptor(NONDISTRIBUTABLE_LAYER, 'windows base', {
      urls: ['https://example.com/layer.tar.gz'],
      annotations: { 'org.example.note': 'x' },
    });
    const parsed = parseManifest(body(ociImage({ layers: [rich] })), MediaType.OciManifest);
    expect(parsed.layers[0]).toEqual(rich);
  });

  it('accepts an image manifest with an empty layers array (an artifact with no blobs)', () => {
    expect(parseManifest(body(ociImage({ layers: [] })), MediaType.OciManifest).layers).toEqual([]);
  });

  it.each([
    ['an OCI manifest', MediaType.OciManifest, config],
    ['a Docker manifest', MediaType.DockerManifest, descriptor(MediaType.DockerConfig, '{}')],
  ])('refuses %s whose layers are missing or null', (_label, mediaType, configDescriptor) => {
    const { layers: _none, ...missing } = ociImage({ mediaType, config: configDescriptor });
    for (const json of [missing, { ...missing, layers: null }]) {
      const error = refusal(json, mediaType);
      expect(error.code).toBe(OciErrorCode.MANIFEST_INVALID);
      expect(error.message).toMatch(/^layers is required/);
    }
  });

  it('refuses an image manifest that also lists manifests, and an index with image fields', () => {
    expect(refusal(ociImage({ manifests: [] }), MediaType.OciManifest).message).toMatch(/must not have manifests/);
    expect(refusal(ociIndex({ config }), MediaType.OciIndex).message).toMatch(/must not have config/);
    expect(refusal(ociIndex({ layers: [] }), MediaType.OciIndex).message).toMatch(/must not have layers/);
  });

  it('keeps the manifest annotations', () => {
    const parsed = parseManifest(
      body(ociImage({ annotations: { 'org.opencontainers.image.created': 'now' } })),
      undefined,
    );
    expect(parsed.annotations).toEqual({ 'org.opencontainers.image.created': 'now' });
  });
});

describe('parseManifest: indexes', () => {
  it('reads an OCI index and its child descriptors with platforms', () => {
    const json = ociIndex();
    const parsed = parseManifest(body(json), MediaType.OciIndex);
    expect(parsed.kind).toBe('index');
    expect(parsed.layers).toEqual([]);
    expect(parsed.config).toBeUndefined();
    expect(parsed.manifests).toEqual(json.manifests);
    expect(parsed.manifests[1]?.platform).toEqual({ architecture: 'arm64', os: 'linux', variant: 'v8' });
    expect(parsed.artifactType).toBeUndefined();
  });

  it('reads a Docker manifest list', () => {
    const json = { ...ociIndex(), mediaType: MediaType.DockerManifestList };
    expect(parseManifest(body(json), MediaType.DockerManifestList).kind).toBe('index');
  });

  it('recognises an index by its shape when nothing names its type', () => {
    const { mediaType: _omitted, ...json } = ociIndex();
    expect(parseManifest(body(json), undefined)).toMatchObject({ mediaType: MediaType.OciIndex, kind: 'index' });
  });

  it('accepts an empty index', () => {
    expect(parseManifest(body(ociIndex({ manifests: [] })), MediaType.OciIndex).manifests).toEqual([]);
  });

  it('refuses an index without a manifests array', () => {
    const { manifests: _none, ...json } = ociIndex();
    const error = refusal(json, MediaType.OciIndex);
    expect(error.code).toBe(OciErrorCode.MANIFEST_INVALID);
    expect(error.message).toMatch(/manifests/);
    expect(refusal(ociIndex({ manifests: {} }), MediaType.OciIndex).code).toBe(OciErrorCode.MANIFEST_INVALID);
  });

  it('refuses a child platform without os or architecture', () => {
    const child = descriptor(MediaType.OciManifest, 'm', { platform: { architecture: 'amd64' } });
    const error = refusal(ociIndex({ manifests: [child] }), MediaType.OciIndex);
    expect(error.code).toBe(OciErrorCode.MANIFEST_INVALID);
    expect(error.message).toMatch(/manifests\[0\]\.platform/);
  });

  it('keeps the artifactType an index declares', () => {
    const parsed = parseManifest(body(ociIndex({ artifactType: 'application/vnd.example.sbom' })), MediaType.OciIndex);
    expect(parsed.artifactType).toBe('application/vnd.example.sbom');
  });
});

describe('parseManifest: refusals', () => {
  it.each([
    ['not JSON', Buffer.from('{"schemaVersion":2,')],
    ['a JSON array', body([ociImage()])],
    ['JSON null', Buffer.from('null')],
    ['a JSON string', body('manifest')],
  ])('refuses a body that is %s', (_label, raw) => {
    expect(refusal(raw, MediaType.OciManifest).code).toBe(OciErrorCode.MANIFEST_INVALID);
  });

  it('refuses Docker schema 1 by its schemaVersion, whatever the Content-Type says', () => {
    const schema1 = { schemaVersion: 1, name: 'library/busybox', tag: 'latest', fsLayers: [], history: [] };
    for (const contentType of [MediaType.DockerManifestSchema1Signed, MediaType.OciManifest, undefined]) {
      const error = refusal(schema1, contentType);
      expect(error.code).toBe(OciErrorCode.MANIFEST_INVALID);
      expect(error.message).toMatch(/schema 1/);
    }
  });

  it('refuses a schema 1 Content-Type even on a schema 2 body', () => {
    for (const contentType of [MediaType.DockerManifestSchema1, MediaType.DockerManifestSchema1Signed]) {
      const { mediaType: _omitted, ...json } = ociImage();
      expect(refusal(json, contentType).message).toMatch(/schema 1/);
    }
  });

  it.each([
    ['missing', undefined],
    ['a string', '2'],
    ['3', 3],
  ])('refuses a schemaVersion that is %s', (_label, schemaVersion) => {
    const error = refusal(ociImage({ schemaVersion }), MediaType.OciManifest);
    expect(error.code).toBe(OciErrorCode.MANIFEST_INVALID);
    expect(error.message).toMatch(/schemaVersion/);
  });

  it('refuses a body mediaType that disagrees with the Content-Type', () => {
    const error = refusal(ociImage(), MediaType.DockerManifest);
    expect(error.code).toBe(OciErrorCode.MANIFEST_INVALID);
    expect(error.message).toContain(MediaType.OciManifest);
    expect(error.message).toContain(MediaType.DockerManifest);
    expect(refusal(ociIndex(), MediaType.OciManifest).code).toBe(OciErrorCode.MANIFEST_INVALID);
  });

  it('refuses a mediaType that is not a string', () => {
    expect(refusal(ociImage({ mediaType: 42 }), undefined).message).toMatch(/mediaType must be a string/);
  });

  it('refuses media types that are not manifests', () => {
    const { mediaType: _omitted, ...json } = ociImage();
    expect(refusal(json, 'application/json').message).toMatch(/unsupported manifest media type/);
    expect(refusal(ociImage({ mediaType: MediaType.OciConfig }), undefined).code).toBe(OciErrorCode.MANIFEST_INVALID);
  });

  it('refuses a body whose type cannot be told at all', () => {
    expect(refusal({ schemaVersion: 2 }, undefined).message).toMatch(/\(none\)/);
  });

  it('refuses an image manifest without a config', () => {
    const { config: _none, ...json } = ociImage();
    const error = refusal(json, MediaType.OciManifest);
    expect(error.code).toBe(OciErrorCode.MANIFEST_INVALID);
    expect(error.message).toMatch(/^config/);
  });

  it('refuses layers that are not an array', () => {
    expect(refusal(ociImage({ layers: layer }), MediaType.OciManifest).message).toMatch(/layers must be an array/);
  });

  it.each([
    ['not an object', 'sha256:abc'],
    ['without a mediaType', { digest: layer.digest, size: 1 }],
    ['with a malformed mediaType', { ...layer, mediaType: 'tar' }],
    ['without a size', { mediaType: layer.mediaType, digest: layer.digest }],
    ['with a negative size', { ...layer, size: -1 }],
    ['with a fractional size', { ...layer, size: 1.5 }],
    ['with a size given as a string', { ...layer, size: '11' }],
    ['with a size beyond safe integers', { ...layer, size: 2 ** 53 }],
    ['with urls that are not strings', { ...layer, urls: [1] }],
    ['with urls that are not an array', { ...layer, urls: 'https://example.com' }],
    ['with annotations that are not strings', { ...layer, annotations: { a: 1 } }],
    ['with annotations that are an array', { ...layer, annotations: ['a'] }],
    ['with a malformed artifactType', { ...layer, artifactType: 'sbom' }],
  ])('refuses a layer descriptor %s as MANIFEST_INVALID naming it', (_label, bad) => {
    const error = refusal(ociImage({ layers: [layer, bad] }), MediaType.OciManifest);
    expect(error.code).toBe(OciErrorCode.MANIFEST_INVALID);
    expect(error.message).toMatch(/^layers\[1\]/);
  });

  it.each([
    ['missing', undefined],
    ['malformed', 'sha256:1234'],
    ['of an unsupported algorithm', `md5:${'0'.repeat(32)}`],
  ])('refuses a descriptor whose digest is %s as DIGEST_INVALID', (_label, digest) => {
    const error = refusal(ociImage({ config: { ...config, digest } }), MediaType.OciManifest);
    expect(error.code).toBe(OciErrorCode.DIGEST_INVALID);
    expect(error.message).toMatch(/^config\.digest/);
  });

  it('refuses manifest annotations that are not strings', () => {
    expect(refusal(ociImage({ annotations: { created: 1 } }), undefined).message).toMatch(/^annotations/);
  });
});

describe('parseManifest: subject and artifactType', () => {
  const subject = descriptor(MediaType.OciManifest, 'the signed image');

  it('keeps a subject and the declared artifactType over the config type', () => {
    const emptyConfig = { mediaType: MediaType.OciEmpty, digest: digestOf('{}'), size: 2 };
    const json = ociImage({ config: emptyConfig, artifactType: 'application/vnd.example.signature', subject });
    const parsed = parseManifest(body(json), MediaType.OciManifest);
    expect(parsed.subject).toEqual(subject);
    expect(parsed.artifactType).toBe('application/vnd.example.signature');
  });

  it('falls back to the config media type for an image without artifactType', () => {
    const helmConfig = descriptor('application/vnd.cncf.helm.config.v1+json', '{}');
    expect(parseManifest(body(ociImage({ config: helmConfig })), undefined).artifactType).toBe(
      'application/vnd.cncf.helm.config.v1+json',
    );
  });

  it('keeps a subject on an index', () => {
    expect(parseManifest(body(ociIndex({ subject })), MediaType.OciIndex).subject).toEqual(subject);
  });

  it.each([
    ['not an object', 'sha256:abc'],
    ['without a digest', { mediaType: MediaType.OciManifest, size: 1 }],
    ['with a bad size', { ...subject, size: -5 }],
  ])('refuses a subject that is %s', (_label, bad) => {
    const error = refusal(ociImage({ subject: bad }), MediaType.OciManifest);
    expect([OciErrorCode.MANIFEST_INVALID, OciErrorCode.DIGEST_INVALID]).toContain(error.code);
    expect(error.message).toMatch(/^subject/);
  });

  it.each([
    ['not a string', 42],
    ['not a media type', 'signature'],
    ['empty', ''],
  ])('refuses an artifactType that is %s', (_label, artifactType) => {
    const error = refusal(ociImage({ artifactType }), MediaType.OciManifest);
    expect(error.code).toBe(OciErrorCode.MANIFEST_INVALID);
    expect(error.message).toMatch(/^artifactType/);
    expect(refusal(ociIndex({ artifactType }), MediaType.OciIndex).message).toMatch(/^artifactType/);
  });
});

describe('isForeignLayer', () => {
  const withUrls = (mediaType: string, urls?: string[]): Descriptor => ({
    mediaType,
    digest: digestOf(mediaType),
    size: 10,
    ...(urls ? { urls } : {}),
  });

  it('treats Docker foreign and OCI non-distributable layers with URLs as living elsewhere', () => {
    expect(isForeignLayer(withUrls(MediaType.DockerForeignLayer, ['https://example.com/l']))).toBe(true);
    expect(isForeignLayer(withUrls(NONDISTRIBUTABLE_LAYER, ['https://example.com/l']))).toBe(true);
  });

  it('expects the bytes in the registry when a foreign layer has no URLs', () => {
    expect(isForeignLayer(withUrls(MediaType.DockerForeignLayer))).toBe(false);
    expect(isForeignLayer(withUrls(MediaType.DockerForeignLayer, []))).toBe(false);
  });

  it('expects the bytes in the registry for an ordinary layer even if it lists URLs', () => {
    expect(isForeignLayer(withUrls(MediaType.OciLayerTarGzip, ['https://example.com/l']))).toBe(false);
  });
});
