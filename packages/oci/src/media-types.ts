export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  OciLayerTarGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerManifestSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerManifestSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** Manifest media types this registry stores and serves. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MediaType.OciManifest,
  MediaType.OciIndex,
  MediaType.DockerManifest,
  MediaType.DockerManifestList,
];

export const INDEX_MEDIA_TYPES: readonly string[] = [MediaType.OciIndex, MediaType.DockerManifestList];

/** RFC 6838 type/subtype, without parameters. */
const MEDIA_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export function isValidMediaType(value: string): boolean {
  return MEDIA_TYPE_RE.test(value);
}

/** The media type of a Content-Type header value, without parameters, lower-cased. */
export function baseMediaType(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const base = contentType.split(';', 1)[0].trim().toLowerCase();
  return base === '' ? undefined : base;
}

/**
 * Whether an Accept header admits a media type. No header (or an empty one) admits everything. As RFC 9110
 * says, the most specific matching range decides (the exact type, then type/any, then any/any), and q=0 refuses.
 */
export function acceptAllows(accept: string | string[] | undefined, mediaType: string): boolean {
  const values = Array.isArray(accept) ? accept.join(',') : accept;
  if (values === undefined || values.trim() === '') return true;
  const [type] = mediaType.split('/');
  let best = 0;
  let allowed = false;
  for (const entry of values.split(',')) {
    const [rawRange, ...params] = entry.split(';');
    const range = rawRange.trim().toLowerCase();
    const specificity = range === mediaType ? 3 : range === `${type}/*` ? 2 : range === '*/*' ? 1 : 0;
    if (specificity === 0 || specificity < best) continue;
    const refused = params.some((p) => /^\s*q\s*=\s*0(?:\.0*)?\s*$/.test(p));
    if (specificity > best) {
      best = specificity;
      allowed = !refused;
    } else {
      allowed = allowed && !refused;
    }
  }
  return allowed;
}
