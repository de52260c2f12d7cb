import { describe, expect, it } from '@jest/globals';
import {
  AccessoryType,
  COSIGN_SIMPLESIGNING_MEDIA_TYPE,
  accessoryOf,
  conventionAccessory,
  cosignTagSubject,
  referrerAccessoryType,
} from './accessory.js';
import { digestOf } from './digest.js';
import { type ParsedManifest } from './manifest.js';
import { MediaType } from './media-types.js';

const subject = digestOf('subject manifest');
const hex = subject.slice('sha256:'.length);

function manifest(extra: Partial<ParsedManifest> = {}): ParsedManifest {
  return { mediaType: MediaType.OciManifest, kind: 'image', layers: [], manifests: [], ...extra };
}

function layer(mediaType: string, annotations?: Record<string, string>) {
  return { mediaType, digest: digestOf(mediaType), size: 1, ...(annotations ? { annotations } : {}) };
}

describe('referrerAccessoryType', () => {
  it.each([
    ['application/vnd.dev.cosign.artifact.sig.v1+json', AccessoryType.CosignSignature],
    ['application/vnd.dev.sigstore.bundle.v0.3+json', AccessoryType.CosignSignature],
    ['application/vnd.cncf.notary.signature', AccessoryType.NotationSignature],
    ['application/vnd.goharbor.harbor.sbom.v1', AccessoryType.HarborSbom],
    ['application/spdx+json', AccessoryType.Subject],
    [MediaType.OciConfig, AccessoryType.Subject],
  ])('classifies the artifact type %s as %s', (artifactType, type) => {
    expect(referrerAccessoryType(manifest({ artifactType }))).toBe(type);
  });

  it('classifies an image whose last layer is a nydus bootstrap as an accelerator', () => {
    const bootstrap = layer(MediaType.OciLayerTarGzip, { 'containerd.io/snapshot/nydus-bootstrap': 'true' });
    const plain = layer(MediaType.OciLayerTarGzip);
    expect(referrerAccessoryType(manifest({ artifactType: MediaType.OciConfig, layers: [plain, bootstrap] }))).toBe(
      AccessoryType.NydusAccelerator,
    );
    expect(referrerAccessoryType(manifest({ artifactType: MediaType.OciConfig, layers: [bootstrap, plain] }))).toBe(
      AccessoryType.Subject,
    );
  });
});

describe("cosign's tag convention", () => {
  it('reads the subject and suffix from a convention tag only', () => {
    expect(cosignTagSubject(`sha256-${hex}.sig`)).toEqual({ subject, suffix: 'sig' });
    expect(cosignTagSubject(`sha256-${hex}.att`)).toEqual({ subject, suffix: 'att' });
    expect(cosignTagSubject(`sha256-${hex}.sbom`)).toEqual({ subject, suffix: 'sbom' });
    for (const tag of [
      `sha256-${hex}`,
      `sha256-${hex}.sig.1`,
      `sha512-${hex}.sig`,
      `sha256-${hex.slice(1)}.sig`,
      'v1',
    ]) {
      expect(cosignTagSubject(tag)).toBeUndefined();
    }
  });

  it('makes a .sig manifest a cosign signature only when it holds a simple-signing layer', () => {
    const me = digestOf('the signature');
    expect(conventionAccessory(`sha256-${hex}.sig`, me, [COSIGN_SIMPLESIGNING_MEDIA_TYPE])).toEqual({
      subject,
      type: AccessoryType.CosignSignature,
    });
    expect(conventionAccessory(`sha256-${hex}.sig`, me, [MediaType.OciLayerTarGzip])).toBeUndefined();
    expect(conventionAccessory(`sha256-${hex}.att`, me, [])).toEqual({ subject, type: AccessoryType.Subject });
    expect(conventionAccessory(`sha256-${hex}.sig`, subject, [COSIGN_SIMPLESIGNING_MEDIA_TYPE])).toBeUndefined();
  });

  it('prefers the subject field to the tag', () => {
    const other = digestOf('other');
    const withSubject = manifest({
      artifactType: 'application/vnd.cncf.notary.signature',
      subject: { mediaType: MediaType.OciManifest, digest: other, size: 1 },
      layers: [layer(COSIGN_SIMPLESIGNING_MEDIA_TYPE)],
    });
    expect(accessoryOf(withSubject, digestOf('x'), `sha256-${hex}.sig`)).toEqual({
      subject: other,
      type: AccessoryType.NotationSignature,
    });
    const bare = manifest({ layers: [layer(COSIGN_SIMPLESIGNING_MEDIA_TYPE)] });
    expect(accessoryOf(bare, digestOf('x'), `sha256-${hex}.sig`)).toEqual({
      subject,
      type: AccessoryType.CosignSignature,
    });
    expect(accessoryOf(bare, digestOf('x'))).toBeUndefined();
  });
});
