import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

/**
 * Test images written as OCI image layouts straight from Node: no Docker, no network, and the
 * same seed always yields the same bytes and digests, so a test can recompute what a registry
 * must give back.
 */

export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_EMPTY_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json';
export const OCI_REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/** A fixed timestamp keeps configs byte-identical across runs. */
const FIXED_CREATED = '2024-01-01T00:00:00Z';
const CHUNK = 1024 * 1024;
const TAR_BLOCK = 512;
const MAX_LAYER_SIZE = 8 * 1024 * 1024 * 1024;

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface LayerInfo extends Descriptor {
  /** Digest of the uncompressed tar, as listed in the config's rootfs.diff_ids. */
  diffId: string;
  /** Path of the single regular file inside the layer, and its length. */
  filePath: string;
  fileSize: number;
}

export interface ImageInfo {
  manifest: Descriptor;
  config: Descriptor;
  layers: LayerInfo[];
  platform: Platform;
  /** Every blob the image needs (config and layers), manifest excluded. */
  blobDigests: string[];
}

export interface IndexInfo {
  index: Descriptor;
  images: ImageInfo[];
}

export interface ArtifactInfo {
  manifest: Descriptor;
  artifactType: string;
  subject: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  blobDigests: string[];
}

export interface ImageOptions {
  /** Any string; the same seed (and sizes) gives the same digests. */
  seed: string;
  /** Size in bytes of the random file inside each layer; one layer per entry. */
  layerSizes: number[];
  /**
   * Layers written before into the same layout (`writeLayer`), put below the image's own: images that share them
   * share base layers, as images built FROM the same base do.
   */
  baseLayers?: LayerInfo[];
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface ArtifactOptions {
  seed: string;
  subject: Descriptor;
  artifactType?: string;
  /** Size of the artifact's single payload blob. */
  payloadSize?: number;
  annotations?: Record<string, string>;
}

/** Deterministic pseudo-random bytes: AES-256-CTR over zeros, keyed by the seed. */
class SeededStream {
  private readonly cipher;

  constructor(seed: string) {
    const key = createHash('sha256').update(`wharf-testkit:${seed}`).digest();
    this.cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }

  next(length: number): Buffer {
    return this.cipher.update(Buffer.alloc(length));
  }
}

/** `size` deterministic pseudo-random bytes for the given seed. */
export function seededBytes(seed: string, size: number): Buffer {
  assertSize(size, 'size');
  return new SeededStream(seed).next(size);
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function assertSize(size: number, what: string, max = MAX_LAYER_SIZE): void {
  if (!Number.isSafeInteger(size) || size < 0 || size > max) {
    throw new RangeError(`${what} must be an integer between 0 and ${max}, got ${size}`);
  }
}

function assertSeed(seed: string): void {
  if (typeof seed !== 'string' || seed.length === 0) {
    throw new TypeError('seed must be a non-empty string');
  }
}

function octal(value: number, width: number): string {
  // ustar numeric fields: zero-padded octal, NUL-terminated, in `width` bytes.
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function tarHeader(name: string, size: number, type: 'file' | 'directory'): Buffer {
  if (Buffer.byteLength(name) > 100) {
    throw new RangeError(`tar entry name longer than 100 bytes: ${name}`);
  }
  const header = Buffer.alloc(TAR_BLOCK);
  header.write(name, 0, 100, 'utf8');
  header.write(octal(type === 'directory' ? 0o755 : 0o644, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  header.write(octal(size, 12), 124, 'ascii');
  header.write(octal(Date.parse(FIXED_CREATED) / 1000, 12), 136, 'ascii');
  header.write('        ', 148, 'ascii');
  header.write(type === 'directory' ? '5' : '0', 156, 'ascii');
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  header.write('root', 265, 'ascii');
  header.write('root', 297, 'ascii');
  let checksum = 0;
  for (const byte of header) checksum += byte;
  header.write(checksum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return header;
}

/**
 * Writes one OCI image layout directory. Blobs are content-addressed, so several images, indexes
 * and artifacts can share one layout; `save()` writes index.json with the tagged descriptors.
 */
export class OciLayoutWriter {
  private readonly refs = new Map<string, Descriptor>();

  private constructor(readonly path: string) {}

  static async create(path: string): Promise<OciLayoutWriter> {
    await mkdir(join(path, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(path, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    return new OciLayoutWriter(path);
  }

  blobPath(digest: string): string {
    return join(this.path, 'blobs', ...splitDigest(digest));
  }

  async writeBlob(mediaType: string, data: Buffer | string): Promise<Descriptor> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const digest = sha256Digest(bytes);
    await writeFile(this.blobPath(digest), bytes);
    return { mediaType, digest, size: bytes.length };
  }

  async writeJson(mediaType: string, value: unknown): Promise<Descriptor> {
    return this.writeBlob(mediaType, JSON.stringify(value));
  }

  /** A gzip'd tar holding one directory and one file of `fileSize` seeded random bytes. */
  async writeLayer(seed: string, fileSize: number, name: string): Promise<LayerInfo> {
    assertSize(fileSize, 'layer size');
    const directory = `wharf-${name}`;
    const filePath = `${directory}/data.bin`;
    const tmp = join(this.path, 'blobs', `.tmp-${randomBytes(8).toString('hex')}`);
    const uncompressed = createHash('sha256');
    const compressed = createHash('sha256');
    let compressedSize = 0;
    function* tar(): Generator<Buffer> {
      yield tarHeader(`${directory}/`, 0, 'directory');
      yield tarHeader(filePath, fileSize, 'file');
      const random = new SeededStream(`${seed}/${name}`);
      for (let left = fileSize; left > 0; left -= CHUNK) {
        yield random.next(Math.min(CHUNK, left));
      }
      // The payload padding plus the two zero blocks that end a tar archive.
      yield Buffer.alloc(((TAR_BLOCK - (fileSize % TAR_BLOCK)) % TAR_BLOCK) + 2 * TAR_BLOCK);
    }
    try {
      await pipeline(
        tar(),
        new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            uncompressed.update(chunk);
            callback(null, chunk);
          },
        }),
        createGzip({ level: 6 }),
        new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            compressed.update(chunk);
            compressedSize += chunk.length;
            callback(null, chunk);
          },
        }),
        createWriteStream(tmp),
      );
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    const digest = `sha256:${compressed.digest('hex')}`;
    await rename(tmp, this.blobPath(digest));
    return {
      mediaType: OCI_LAYER_GZIP_MEDIA_TYPE,
      digest,
      size: compressedSize,
      diffId: `sha256:${uncompressed.digest('hex')}`,
      filePath,
      fileSize,
    };
  }

  async addImage(options: ImageOptions): Promise<ImageInfo> {
    assertSeed(options.seed);
    if (!Array.isArray(options.layerSizes)) {
      throw new TypeError('layerSizes must be an array of byte counts');
    }
    const platform = options.platform ?? { architecture: 'amd64', os: 'linux' };
    const layers: LayerInfo[] = [...(options.baseLayers ?? [])];
    for (const [i, size] of options.layerSizes.entries()) {
      layers.push(await this.writeLayer(options.seed, size, `layer${i}`));
    }
    const config = await this.writeJson(OCI_CONFIG_MEDIA_TYPE, {
      created: FIXED_CREATED,
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: { Labels: { 'org.wharf.test.seed': options.seed } },
      rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
      history: layers.map((layer, i) => ({ created: FIXED_CREATED, created_by: `wharf-testkit layer ${i}` })),
    });
    const manifest = await this.writeJson(OCI_MANIFEST_MEDIA_TYPE, {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      config: toDescriptor(config),
      layers: layers.map(toDescriptor),
      ...(options.annotations ? { annotations: options.annotations } : {}),
    });
    return {
      manifest: { ...manifest, platform },
      config,
      layers,
      platform,
      blobDigests: [config.digest, ...layers.map((layer) => layer.digest)],
    };
  }

  async addIndex(images: ImageInfo[], annotations?: Record<string, string>): Promise<IndexInfo> {
    if (images.length === 0) throw new RangeError('an index needs at least one image');
    const index = await this.writeJson(OCI_INDEX_MEDIA_TYPE, {
      schemaVersion: 2,
      mediaType: OCI_INDEX_MEDIA_TYPE,
      manifests: images.map((image) => ({ ...toDescriptor(image.manifest), platform: image.platform })),
      ...(annotations ? { annotations } : {}),
    });
    return { index, images };
  }

  /** An OCI 1.1 artifact: an image manifest with `artifactType`, the empty config and a `subject`. */
  async addArtifact(options: ArtifactOptions): Promise<ArtifactInfo> {
    assertSeed(options.seed);
    const artifactType = options.artifactType ?? 'application/vnd.wharf.test.sbom+json';
    const payloadSize = options.payloadSize ?? 256;
    assertSize(payloadSize, 'payloadSize');
    const config = await this.writeBlob(OCI_EMPTY_MEDIA_TYPE, '{}');
    const payload = await this.writeBlob(artifactType, seededBytes(`${options.seed}/artifact`, payloadSize));
    const subject = toDescriptor(options.subject);
    const manifest = await this.writeJson(OCI_MANIFEST_MEDIA_TYPE, {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      artifactType,
      config,
      layers: [payload],
      subject,
      annotations: { 'org.opencontainers.image.created': FIXED_CREATED, ...options.annotations },
    });
    return {
      manifest: { ...manifest, artifactType },
      artifactType,
      subject,
      config,
      layers: [payload],
      blobDigests: [config.digest, payload.digest],
    };
  }

  /** Names a manifest or index in index.json, the way `oci:LAYOUT:REF` addresses it. */
  tag(ref: string, descriptor: Descriptor): void {
    if (!/^[A-Za-z0-9._:@/+-]+$/.test(ref)) throw new TypeError(`invalid reference name: ${ref}`);
    this.refs.set(ref, descriptor);
  }

  async save(): Promise<void> {
    const manifests = [...this.refs].map(([ref, descriptor]) => ({
      ...toDescriptor(descriptor),
      ...(descriptor.platform && descriptor.mediaType === OCI_MANIFEST_MEDIA_TYPE
        ? { platform: descriptor.platform }
        : {}),
      annotations: { ...descriptor.annotations, [OCI_REF_NAME_ANNOTATION]: ref },
    }));
    await writeFile(join(this.path, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
  }
}

function toDescriptor(descriptor: Descriptor): Descriptor {
  return {
    mediaType: descriptor.mediaType,
    digest: descriptor.digest,
    size: descriptor.size,
    ...(descriptor.artifactType ? { artifactType: descriptor.artifactType } : {}),
  };
}

function splitDigest(digest: string): [string, string] {
  const match = /^(sha256):([a-f0-9]{64})$/.exec(digest);
  if (!match) throw new TypeError(`unsupported digest: ${digest}`);
  return [match[1], match[2]];
}

export interface TestImageLayout extends ImageInfo {
  path: string;
  ref: string;
}

export interface MultiArchLayout extends IndexInfo {
  path: string;
  ref: string;
}

export interface ArtifactLayout {
  path: string;
  image: ImageInfo;
  artifact: ArtifactInfo;
  /** index.json names the image `imageRef` and the artifact `artifactRef`. */
  imageRef: string;
  artifactRef: string;
}

/** One single-platform image in a fresh layout at `path`, tagged `ref` (default `latest`). */
export async function buildImageLayout(
  path: string,
  options: ImageOptions & { ref?: string },
): Promise<TestImageLayout> {
  const layout = await OciLayoutWriter.create(path);
  const image = await layout.addImage(options);
  const ref = options.ref ?? 'latest';
  layout.tag(ref, image.manifest);
  await layout.save();
  return { path, ref, ...image };
}

/** An index over one image per platform (default linux/amd64 and linux/arm64), tagged `ref`. */
export async function buildMultiArchLayout(
  path: string,
  options: { seed: string; layerSizes: number[]; platforms?: Platform[]; ref?: string },
): Promise<MultiArchLayout> {
  const platforms = options.platforms ?? [
    { architecture: 'amd64', os: 'linux' },
    { architecture: 'arm64', os: 'linux', variant: 'v8' },
  ];
  const layout = await OciLayoutWriter.create(path);
  const images: ImageInfo[] = [];
  for (const platform of platforms) {
    const variant = platform.variant ? `/${platform.variant}` : '';
    images.push(
      await layout.addImage({
        seed: `${options.seed}/${platform.os}/${platform.architecture}${variant}`,
        layerSizes: options.layerSizes,
        platform,
      }),
    );
  }
  const info = await layout.addIndex(images);
  const ref = options.ref ?? 'latest';
  layout.tag(ref, info.index);
  await layout.save();
  return { path, ref, ...info };
}

/** An image plus an artifact whose `subject` is that image, e.g. for the referrers API. */
export async function buildArtifactLayout(
  path: string,
  options: ImageOptions & { artifactType?: string; payloadSize?: number },
): Promise<ArtifactLayout> {
  const layout = await OciLayoutWriter.create(path);
  const image = await layout.addImage(options);
  const artifact = await layout.addArtifact({
    seed: options.seed,
    subject: image.manifest,
    artifactType: options.artifactType,
    payloadSize: options.payloadSize,
  });
  layout.tag('image', image.manifest);
  layout.tag('artifact', artifact.manifest);
  await layout.save();
  return { path, image, artifact, imageRef: 'image', artifactRef: 'artifact' };
}

/** Every blob in a layout (manifests included) by digest, with its path on disk. */
export async function listLayoutBlobs(path: string): Promise<Map<string, string>> {
  const blobs = new Map<string, string>();
  const root = join(path, 'blobs');
  for (const algorithm of await readdir(root)) {
    if (algorithm.startsWith('.')) continue;
    const dir = join(root, algorithm);
    if (!(await stat(dir)).isDirectory()) continue;
    for (const encoded of await readdir(dir)) {
      blobs.set(`${algorithm}:${encoded}`, join(dir, encoded));
    }
  }
  return blobs;
}

/** Hashes a file in a stream; returns `sha256:<hex>`. */
export async function digestFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) {
    hash.update(chunk as Buffer);
  }
  return `sha256:${hash.digest('hex')}`;
}

/** Reads a blob of a layout; throws if it is missing. */
export async function readLayoutBlob(path: string, digest: string): Promise<Buffer> {
  return readFile(join(path, 'blobs', ...splitDigest(digest)));
}

/** Reads a layout's index.json. */
export async function readLayoutIndex(path: string): Promise<{ schemaVersion: number; manifests: Descriptor[] }> {
  const parsed = JSON.parse(await readFile(join(path, 'index.json'), 'utf8')) as {
    schemaVersion: number;
    manifests: Descriptor[];
  };
  if (parsed.schemaVersion !== 2 || !Array.isArray(parsed.manifests)) {
    throw new TypeError(`${path}/index.json is not an OCI image index`);
  }
  return parsed;
}

/** Removes a layout directory (or any temp dir) without failing when it is already gone. */
export async function removeLayout(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}
