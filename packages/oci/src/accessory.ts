import { type ParsedManifest } from './manifest.js';

/**
 * Harbor's accessory types: what a manifest attached to another one (its subject) is. A manifest attaches to a
 * subject through its OCI `subject` field, or through cosign's tag convention (see cosignTagSubject).
 */
export const AccessoryType = {
  CosignSignature: 'signature.cosign',
  NotationSignature: 'signature.notation',
  HarborSbom: 'sbom.harbor',
  NydusAccelerator: 'accelerator.nydus',
  /** Any other manifest with a subject: a generic referrer. */
  Subject: 'subject.accessory',
} as const;
export type AccessoryType = (typeof AccessoryType)[keyof typeof AccessoryType];

/** The layer that holds cosign's simple-signing payload; its annotation holds the signature. */
export const COSIGN_SIMPLESIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** The config (or artifact) type of a signature cosign pushes with a subject (OCI 1.1 mode). */
export const COSIGN_SIGNATURE_ARTIFACT_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
/** The artifact type of a sigstore bundle, which recent cosign attaches as a referrer. */
export const SIGSTORE_BUNDLE_ARTIFACT_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const NOTATION_SIGNATURE_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';
export const HARBOR_SBOM_ARTIFACT_TYPE = 'application/vnd.goharbor.harbor.sbom.v1';
/** The annotation that marks the last layer of a nydus image (the bootstrap). */
export const NYDUS_BOOTSTRAP_ANNOTATION = 'containerd.io/snapshot/nydus-bootstrap';

const IMAGE_CONFIG_TYPES = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);

const TYPE_BY_ARTIFACT_TYPE: ReadonlyMap<string, AccessoryType> = new Map([
  [COSIGN_SIGNATURE_ARTIFACT_TYPE, AccessoryType.CosignSignature],
  [SIGSTORE_BUNDLE_ARTIFACT_TYPE, AccessoryType.CosignSignature],
  [NOTATION_SIGNATURE_ARTIFACT_TYPE, AccessoryType.NotationSignature],
  [HARBOR_SBOM_ARTIFACT_TYPE, AccessoryType.HarborSbom],
]);

/**
 * The type of a manifest with a subject, as Harbor classifies referrers: by its artifactType, else its config media
 * type. An image whose last layer is a nydus bootstrap accelerates its subject.
 */
export function referrerAccessoryType(manifest: ParsedManifest): AccessoryType {
  const type = manifest.artifactType;
  if (type === undefined) return AccessoryType.Subject;
  const known = TYPE_BY_ARTIFACT_TYPE.get(type);
  if (known) return known;
  if (IMAGE_CONFIG_TYPES.has(type)) {
    const last = manifest.layers.at(-1);
    if (last?.annotations?.[NYDUS_BOOTSTRAP_ANNOTATION] !== undefined) return AccessoryType.NydusAccelerator;
  }
  return AccessoryType.Subject;
}

/** What a manifest is attached to, and as what. */
export interface AccessoryLink {
  subject: string;
  type: AccessoryType;
}

/**
 * cosign's tag convention: a manifest tagged `sha256-<hex>.sig` is a signature of the manifest `sha256:<hex>` of the
 * same repository, `.att` an attestation and `.sbom` an SBOM; none of them needs a subject field.
 */
const COSIGN_TAG_RE = /^sha256-([0-9a-f]{64})\.(sig|att|sbom)$/;

/** The subject digest and suffix a cosign convention tag names, or undefined for any other tag. */
export function cosignTagSubject(tag: string): { subject: string; suffix: 'sig' | 'att' | 'sbom' } | undefined {
  const match = COSIGN_TAG_RE.exec(tag);
  if (!match) return undefined;
  return { subject: `sha256:${match[1]}`, suffix: match[2] as 'sig' | 'att' | 'sbom' };
}

/** The accessory a manifest with a subject field is: its subject, and its type as Harbor classifies it. */
export function subjectAccessory(manifest: ParsedManifest): AccessoryLink | undefined {
  if (!manifest.subject) return undefined;
  return { subject: manifest.subject.digest, type: referrerAccessoryType(manifest) };
}

/**
 * The accessory a manifest becomes when it is given `tag`, by cosign's tag convention: a `.sig` tag makes a signature
 * of a manifest that holds a simple-signing layer (as Harbor, which leaves any other `.sig` manifest alone), an `.att`
 * or `.sbom` tag a generic accessory. Undefined for any other tag, or one naming the manifest itself.
 */
export function conventionAccessory(
  tag: string,
  digest: string,
  layerMediaTypes: readonly string[],
): AccessoryLink | undefined {
  const named = cosignTagSubject(tag);
  if (!named || named.subject === digest) return undefined;
  if (named.suffix !== 'sig') return { subject: named.subject, type: AccessoryType.Subject };
  if (!layerMediaTypes.includes(COSIGN_SIMPLESIGNING_MEDIA_TYPE)) return undefined;
  return { subject: named.subject, type: AccessoryType.CosignSignature };
}

/**
 * The accessory a manifest being stored is: by its subject field, else by cosign's convention when it is stored under
 * `tag`. Undefined for a manifest attached to nothing.
 */
export function accessoryOf(manifest: ParsedManifest, digest: string, tag?: string): AccessoryLink | undefined {
  const bySubject = subjectAccessory(manifest);
  if (bySubject || tag === undefined) return bySubject;
  return conventionAccessory(
    tag,
    digest,
    manifest.layers.map((layer) => layer.mediaType),
  );
}
