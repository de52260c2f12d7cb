import { parseDigest } from './digest.js';
import { OciError, OciErrorCode } from './errors.js';
import { INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, MediaType, isValidMediaType } from './media-types.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  artifactType?: string;
  platform?: Platform;
}

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
}

export interface ParsedManifest {
  mediaType: string;
  kind: 'image' | 'index';
  /** The config descriptor of an image manifest. */
  config?: Descriptor;
  /** Layers of an image manifest (blobs that must exist unless they are foreign). */
  layers: Descriptor[];
  /** Children of an index (manifests that must exist in the repository). */
  manifests: Descriptor[];
  subject?: Descriptor;
  /** The artifact type the referrers API reports: `artifactType`, else an image's config media type. */
  artifactType?: string;
  annotations?: Record<string, string>;
}

function invalid(message: string, detail?: unknown): OciError {
  return new OciError(OciErrorCode.MANIFEST_INVALID, message, detail);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw invalid(`${where} must be an object of strings`);
  }
  // JSON may escape a NUL (\u0000); no annotation needs one, and PostgreSQL, which keeps them, cannot hold one.
  if (Object.entries(value).some(([key, v]) => key.includes('\0') || (v as string).includes('\0'))) {
    throw invalid(`${where} must not hold a NUL character`);
  }
  return value as Record<string, string>;
}

function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isRecord(value)) throw invalid(`${where} must be a descriptor object`);
  const { mediaType, digest, size, urls, annotations, artifactType, platform } = value;
  if (typeof mediaType !== 'string' || !isValidMediaType(mediaType)) {
    throw invalid(`${where}.mediaType must be a media type`);
  }
  if (typeof digest !== 'string' || !parseDigest(digest)) {
    throw new OciError(OciErrorCode.DIGEST_INVALID, `${where}.digest is not a valid digest`, { digest });
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${where}.size must be a non-negative integer`);
  }
  const descriptor: Descriptor = { mediaType, digest, size };
  if (urls !== undefined) {
    if (!Array.isArray(urls) || urls.some((u) => typeof u !== 'string')) throw invalid(`${where}.urls must be strings`);
    descriptor.urls = urls as string[];
  }
  const parsedAnnotations = stringMap(annotations, `${where}.annotations`);
  if (parsedAnnotations) descriptor.annotations = parsedAnnotations;
  if (artifactType !== undefined) {
    if (typeof artifactType !== 'string' || !isValidMediaType(artifactType)) {
      throw invalid(`${where}.artifactType must be a media type`);
    }
    descriptor.artifactType = artifactType;
  }
  if (platform !== undefined) {
    if (!isRecord(platform) || typeof platform.architecture !== 'string' || typeof platform.os !== 'string') {
      throw invalid(`${where}.platform must name an architecture and an os`);
    }
    descriptor.platform = platform as unknown as Platform;
  }
  return descriptor;
}

function parseDescriptors(value: unknown, where: string): Descriptor[] {
  if (value === undefined || value === null) throw invalid(`${where} is required (an array, which may be empty)`);
  if (!Array.isArray(value)) throw invalid(`${where} must be an array`);
  return value.map((item, i) => parseDescriptor(item, `${where}[${i}]`));
}

/**
 * Parses and validates a manifest as pushed. The media type comes from the body's `mediaType` when present
 * (it must then agree with the Content-Type), else from the Content-Type. Schema 1 and unknown types are refused.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!isRecord(json)) throw invalid('manifest must be a JSON object');
  if (
    json.schemaVersion === 1 ||
    contentType === MediaType.DockerManifestSchema1 ||
    contentType === MediaType.DockerManifestSchema1Signed
  ) {
    throw invalid('Docker image manifest schema 1 is not supported; push schema 2 or an OCI manifest');
  }
  if (json.schemaVersion !== 2) throw invalid('schemaVersion must be 2');

  const declared = json.mediaType;
  if (declared !== undefined && typeof declared !== 'string') throw invalid('mediaType must be a string');
  if (declared !== undefined && contentType !== undefined && declared !== contentType) {
    throw invalid(`mediaType ${declared} does not match the Content-Type ${contentType}`);
  }
  const mediaType = declared ?? contentType ?? inferMediaType(json);
  if (mediaType === undefined || !MANIFEST_MEDIA_TYPES.includes(mediaType)) {
    throw invalid(`unsupported manifest media type: ${mediaType ?? '(none)'}`);
  }

  const subject = json.subject === undefined ? undefined : parseDescriptor(json.subject, 'subject');
  const annotations = stringMap(json.annotations, 'annotations');
  let artifactType: string | undefined;
  if (json.artifactType !== undefined) {
    if (typeof json.artifactType !== 'string' || !isValidMediaType(json.artifactType)) {
      throw invalid('artifactType must be a media type');
    }
    artifactType = json.artifactType;
  }

  if (INDEX_MEDIA_TYPES.includes(mediaType)) {
    // A document that is both an index and an image could be read as either by different clients (image-spec
    // 1.0.2): an index carries no image fields.
    for (const field of ['config', 'layers']) {
      if (json[field] !== undefined) throw invalid(`an index must not have ${field}`);
    }
    const manifests = parseDescriptors(json.manifests, 'manifests');
    return { mediaType, kind: 'index', layers: [], manifests, subject, artifactType, annotations };
  }
  if (json.manifests !== undefined) throw invalid('an image manifest must not have manifests');
  const config = parseDescriptor(json.config, 'config');
  // Required by the image-spec for OCI and Docker image manifests alike; an artifact with no blobs lists none ([]).
  const layers = parseDescriptors(json.layers, 'layers');
  return {
    mediaType,
    kind: 'image',
    config,
    layers,
    manifests: [],
    subject,
    artifactType: artifactType ?? config.mediaType,
    annotations,
  };
}

/** An OCI manifest may omit mediaType; its shape then tells what it is. */
function inferMediaType(json: Record<string, unknown>): string | undefined {
  if (Array.isArray(json.manifests)) return MediaType.OciIndex;
  if (isRecord(json.config)) return MediaType.OciManifest;
  return undefined;
}

/** Layers whose bytes live elsewhere (foreign / non-distributable layers with URLs) need not be in the registry. */
export function isForeignLayer(descriptor: Descriptor): boolean {
  return (
    (descriptor.urls?.length ?? 0) > 0 &&
    (descriptor.mediaType === MediaType.DockerForeignLayer || descriptor.mediaType.includes('nondistributable'))
  );
}
