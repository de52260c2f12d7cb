/*
 * How the Trivy test double reads an image: it pulls it from the registry as Trivy does (Docker token flow after a
 * 401 Bearer challenge, Basic, or a given bearer token), follows an index to linux/amd64, unpacks each layer (gzip
 * or plain tar) and keeps the files package analyzers read, then applies the layers in order (OCI whiteouts and
 * opaque directories included) and reads the OS and its installed packages.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { InstalledPackage, PackageFamily } from './vuln-db.js';

export class DoubleError extends Error {}

export interface ImageReference {
  host: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/** `host[:port]/repo[:tag][@sha256:…]`; the host is required (the double never guesses Docker Hub). */
export function parseImageReference(text: string): ImageReference {
  const match =
    /^([A-Za-z0-9.-]+(?::\d+)?)\/([a-z0-9]+(?:[._/-][a-z0-9]+)*)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/.exec(
      text,
    );
  if (!match) throw new DoubleError(`could not parse reference: ${text}`);
  const [, host, repository, tag, digest] = match;
  if (!tag && !digest) return { host, repository, tag: 'latest' };
  return { host, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

export interface Credentials {
  username?: string;
  password?: string;
  registryToken?: string;
}

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

interface ManifestDescriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { os?: string; architecture?: string };
}

interface Manifest {
  mediaType?: string;
  manifests?: ManifestDescriptor[];
  config?: ManifestDescriptor;
  layers?: ManifestDescriptor[];
}

/** A minimal registry client speaking the distribution API with Trivy's authentication behaviour. */
export class RegistryReader {
  private authorization: string | undefined;

  constructor(
    private readonly ref: ImageReference,
    private readonly credentials: Credentials,
    private readonly insecure: boolean,
  ) {
    if (credentials.registryToken) this.authorization = `Bearer ${credentials.registryToken}`;
  }

  private url(path: string): string {
    // Trivy speaks HTTPS unless told the registry is insecure; the double then speaks plain HTTP (see README).
    return `${this.insecure ? 'http' : 'https'}://${this.ref.host}/v2/${this.ref.repository}/${path}`;
  }

  private async get(path: string, accept?: string): Promise<Response> {
    const headers: Record<string, string> = {};
    if (accept) headers.accept = accept;
    const send = () =>
      fetch(this.url(path), {
        headers: this.authorization ? { ...headers, authorization: this.authorization } : headers,
        redirect: 'follow',
      });
    let response: Response;
    try {
      response = await send();
      if (response.status === 401 && !this.credentials.registryToken) {
        await response.arrayBuffer();
        await this.authenticate(response.headers.get('www-authenticate') ?? '');
        response = await send();
      }
    } catch (error) {
      if (error instanceof DoubleError) throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new DoubleError(`Get "${this.url(path)}": ${cause?.code ?? cause?.message ?? (error as Error).message}`);
    }
    if (!response.ok) {
      const body = await response.text();
      throw new DoubleError(`GET ${this.url(path)}: unexpected status code ${response.status}: ${body.slice(0, 300)}`);
    }
    return response;
  }

  private basic(): string | undefined {
    const { username, password } = this.credentials;
    if (!username && !password) return undefined;
    return `Basic ${Buffer.from(`${username ?? ''}:${password ?? ''}`).toString('base64')}`;
  }

  private async authenticate(challenge: string): Promise<void> {
    const scheme = challenge.split(' ', 1)[0].toLowerCase();
    if (scheme === 'basic') {
      const basic = this.basic();
      if (!basic) throw new DoubleError('UNAUTHORIZED: authentication required');
      this.authorization = basic;
      return;
    }
    if (scheme !== 'bearer') throw new DoubleError(`unsupported authentication challenge: ${challenge}`);
    const params = new Map<string, string>();
    for (const [, key, value] of challenge.slice(6).matchAll(/(\w+)="([^"]*)"/g)) params.set(key, value);
    const realm = params.get('realm');
    if (!realm) throw new DoubleError(`bearer challenge without realm: ${challenge}`);
    const tokenUrl = new URL(realm);
    const service = params.get('service');
    if (service) tokenUrl.searchParams.set('service', service);
    tokenUrl.searchParams.set('scope', params.get('scope') ?? `repository:${this.ref.repository}:pull`);
    const basic = this.basic();
    const response = await fetch(tokenUrl, { headers: basic ? { authorization: basic } : {} });
    if (!response.ok) {
      throw new DoubleError(`GET ${tokenUrl.origin}${tokenUrl.pathname}: UNAUTHORIZED: status ${response.status}`);
    }
    const body = (await response.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new DoubleError('token service answered without a token');
    this.authorization = `Bearer ${token}`;
  }

  async manifest(reference: string): Promise<{ manifest: Manifest; digest: string; bytes: Buffer }> {
    const response = await this.get(`manifests/${reference}`, MANIFEST_ACCEPT);
    const bytes = Buffer.from(await response.arrayBuffer());
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new DoubleError(`manifest digest mismatch: asked ${reference}, got ${digest}`);
    }
    const manifest = JSON.parse(bytes.toString('utf8')) as Manifest;
    return {
      manifest: { ...manifest, mediaType: manifest.mediaType ?? response.headers.get('content-type') ?? '' },
      digest,
      bytes,
    };
  }

  async blob(digest: string): Promise<Buffer> {
    const bytes = Buffer.from(await (await this.get(`blobs/${digest}`)).arrayBuffer());
    const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (actual !== digest) throw new DoubleError(`blob digest mismatch: expected ${digest}, got ${actual}`);
    return bytes;
  }
}

/** Files the analyzers read; everything else in a layer is ignored. */
const TRACKED = [
  /^etc\/os-release$/,
  /^usr\/lib\/os-release$/,
  /^etc\/debian_version$/,
  /^etc\/alpine-release$/,
  /^var\/lib\/dpkg\/status$/,
  /^var\/lib\/dpkg\/status\.d\/[^/]+$/,
  /^lib\/apk\/db\/installed$/,
];

/** What one layer contributes: the tracked files it writes, what it deletes. Cached per DiffID. */
export interface LayerFacts {
  files: Record<string, string>;
  whiteouts: string[];
  opaqueDirs: string[];
}

function normalisePath(name: string): string {
  return name.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
}

function tarString(block: Buffer, offset: number, length: number): string {
  const end = block.indexOf(0, offset);
  return block.toString('utf8', offset, end < 0 || end > offset + length ? offset + length : end);
}

function tarNumber(block: Buffer, offset: number, length: number): number {
  if (block[offset] & 0x80) {
    // base-256 (GNU) for sizes beyond 8 GiB
    let value = 0;
    for (let i = offset + 1; i < offset + length; i++) value = value * 256 + block[i];
    return value;
  }
  const text = tarString(block, offset, length).trim();
  return text ? parseInt(text, 8) : 0;
}

/** Reads a layer tarball (gzip'd or not): the tracked files, whiteouts and opaque directories. */
export function analyzeLayer(blob: Buffer): LayerFacts {
  const tar = blob[0] === 0x1f && blob[1] === 0x8b ? gunzipSync(blob) : blob;
  const facts: LayerFacts = { files: {}, whiteouts: [], opaqueDirs: [] };
  let offset = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const size = tarNumber(header, 124, 12);
    const type = String.fromCharCode(header[156] || 0x30);
    const dataStart = offset + 512;
    const data = tar.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = tarString(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      for (const line of data.toString('utf8').split('\n')) {
        const match = /^\d+ path=(.*)$/.exec(line);
        if (match) paxPath = match[1];
      }
      continue;
    }
    if (type === 'g') continue;
    const prefix = tarString(header, 345, 155);
    const rawName =
      longName ?? paxPath ?? (prefix ? `${prefix}/${tarString(header, 0, 100)}` : tarString(header, 0, 100));
    longName = undefined;
    paxPath = undefined;
    const path = normalisePath(rawName);
    const slash = path.lastIndexOf('/');
    const base = path.slice(slash + 1);
    const dir = slash >= 0 ? path.slice(0, slash) : '';
    if (base === '.wh..wh..opq') {
      facts.opaqueDirs.push(dir);
      continue;
    }
    if (base.startsWith('.wh.')) {
      facts.whiteouts.push(dir ? `${dir}/${base.slice(4)}` : base.slice(4));
      continue;
    }
    if ((type === '0' || type === '7') && TRACKED.some((pattern) => pattern.test(path))) {
      facts.files[path] = data.toString('utf8');
    }
  }
  return facts;
}

export interface OsInfo {
  family: PackageFamily;
  name: string;
}

function parseOsRelease(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match) values.set(match[1], match[2].replace(/^["']|["']$/g, ''));
  }
  return values;
}

/** The OS as Trivy names it: Debian's full version from etc/debian_version, Alpine's from etc/alpine-release. */
export function detectOs(files: Map<string, string>): OsInfo | undefined {
  const release = parseOsRelease(files.get('etc/os-release') ?? files.get('usr/lib/os-release') ?? '');
  const id = release.get('ID');
  const debianVersion = files.get('etc/debian_version')?.trim();
  const alpineRelease = files.get('etc/alpine-release')?.trim();
  if (id === 'debian' || (!id && debianVersion)) {
    const name = debianVersion && /^\d/.test(debianVersion) ? debianVersion : release.get('VERSION_ID');
    return name ? { family: 'debian', name } : undefined;
  }
  if (id === 'alpine' || (!id && alpineRelease)) {
    const name = alpineRelease ?? release.get('VERSION_ID');
    return name ? { family: 'alpine', name } : undefined;
  }
  return undefined;
}

function paragraphs(text: string): Array<Map<string, string>> {
  return text
    .split(/\n\s*\n/)
    .map((block) => {
      const fields = new Map<string, string>();
      let last: string | undefined;
      for (const line of block.split('\n')) {
        if (/^[ \t]/.test(line)) {
          if (last) fields.set(last, `${fields.get(last)}\n${line.trim()}`);
          continue;
        }
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        last = line.slice(0, colon);
        fields.set(last, line.slice(colon + 1).trim());
      }
      return fields;
    })
    .filter((fields) => fields.size > 0);
}

/** dpkg's status database (and distroless `status.d` files): the packages whose Status says installed. */
export function parseDpkgStatus(text: string, requireStatus = true): InstalledPackage[] {
  const packages: InstalledPackage[] = [];
  for (const fields of paragraphs(text)) {
    const name = fields.get('Package');
    const version = fields.get('Version');
    if (!name || !version) continue;
    const status = fields.get('Status');
    if (requireStatus || status !== undefined) {
      if (!status || status.split(/\s+/)[2] !== 'installed') continue;
    }
    const source = /^(\S+)(?:\s+\((\S+)\))?$/.exec(fields.get('Source') ?? '');
    packages.push({
      name,
      version,
      arch: fields.get('Architecture') ?? '',
      srcName: source?.[1] ?? name,
      srcVersion: source?.[2] ?? version,
    });
  }
  return packages;
}

/** apk's installed database: `P:` name, `V:` version, `A:` arch, `o:` origin (the source package). */
export function parseApkInstalled(text: string): InstalledPackage[] {
  const packages: InstalledPackage[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of block.split('\n')) {
      const match = /^([A-Za-z]):(.*)$/.exec(line);
      if (match && !fields.has(match[1])) fields.set(match[1], match[2]);
    }
    const name = fields.get('P');
    const version = fields.get('V');
    if (!name || !version) continue;
    packages.push({
      name,
      version,
      arch: fields.get('A') ?? '',
      srcName: fields.get('o') ?? name,
      srcVersion: version,
    });
  }
  return packages;
}

function packagesOf(files: Map<string, string>): InstalledPackage[] {
  const packages: InstalledPackage[] = [];
  const status = files.get('var/lib/dpkg/status');
  if (status !== undefined) packages.push(...parseDpkgStatus(status));
  for (const [path, text] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    if (path.startsWith('var/lib/dpkg/status.d/')) packages.push(...parseDpkgStatus(text, false));
  }
  const apk = files.get('lib/apk/db/installed');
  if (apk !== undefined) packages.push(...parseApkInstalled(apk));
  return packages;
}

export interface LayerRef {
  digest: string;
  diffId: string;
}

export interface ImageFacts {
  os?: OsInfo;
  packages: InstalledPackage[];
}

/**
 * Applies the layers lowest first: a whiteout or an opaque directory removes what lower layers wrote, a file
 * replaces the lower one. Each package is attributed to the first layer holding it at its version.
 */
export function applyLayers(layers: Array<{ ref: LayerRef; facts: LayerFacts }>): ImageFacts {
  const files = new Map<string, string>();
  const firstLayer = new Map<string, LayerRef>();
  for (const { ref, facts } of layers) {
    for (const dir of facts.opaqueDirs) {
      for (const path of [...files.keys()]) if (path.startsWith(`${dir}/`)) files.delete(path);
    }
    for (const removed of facts.whiteouts) {
      for (const path of [...files.keys()]) {
        if (path === removed || path.startsWith(`${removed}/`)) files.delete(path);
      }
    }
    for (const [path, text] of Object.entries(facts.files)) files.set(path, text);
    for (const pkg of packagesOf(files)) {
      const id = `${pkg.name}@${pkg.version}`;
      if (!firstLayer.has(id)) firstLayer.set(id, ref);
    }
  }
  const packages = packagesOf(files).map((pkg) => {
    const ref = firstLayer.get(`${pkg.name}@${pkg.version}`);
    return ref ? { ...pkg, layer: { Digest: ref.digest, DiffID: ref.diffId } } : pkg;
  });
  return { os: detectOs(files), packages };
}

export interface PulledImage extends ImageFacts {
  /** The digest of what the reference names (an index, when it names one). */
  repoDigest: string;
  imageId: string;
  diffIds: string[];
  config: Record<string, unknown>;
  architecture: string;
}

async function layerFactsCached(
  cacheDir: string | undefined,
  diffId: string,
  load: () => Promise<Buffer>,
): Promise<LayerFacts> {
  const dir = cacheDir ? join(cacheDir, 'fanal', 'wharf-double-layers') : undefined;
  const file = dir ? join(dir, `${diffId.replace(':', '-')}.json`) : undefined;
  if (file) {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as LayerFacts;
    } catch {
      // not cached yet
    }
  }
  const blob = await load();
  const facts = analyzeLayer(blob);
  const actualDiffId = `sha256:${createHash('sha256')
    .update(blob[0] === 0x1f && blob[1] === 0x8b ? gunzipSync(blob) : blob)
    .digest('hex')}`;
  if (actualDiffId !== diffId)
    throw new DoubleError(`layer DiffID mismatch: config says ${diffId}, got ${actualDiffId}`);
  if (dir && file) {
    await mkdir(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(facts));
    await rename(tmp, file);
  }
  return facts;
}

/** Pulls an image (following an index to linux/amd64, else its first image) and reads its OS and packages. */
export async function pullImage(
  ref: ImageReference,
  credentials: Credentials,
  options: { insecure: boolean; cacheDir?: string; log?: (line: string) => void },
): Promise<PulledImage> {
  const reader = new RegistryReader(ref, credentials, options.insecure);
  const top = await reader.manifest(ref.digest ?? ref.tag ?? 'latest');
  let manifest = top.manifest;
  if (INDEX_TYPES.has(manifest.mediaType ?? '') || Array.isArray(manifest.manifests)) {
    const children = manifest.manifests ?? [];
    const child =
      children.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64') ?? children[0];
    if (!child) throw new DoubleError('the image index lists no manifest');
    manifest = (await reader.manifest(child.digest)).manifest;
  }
  if (!manifest.config || !Array.isArray(manifest.layers)) throw new DoubleError('not an image manifest');
  const configBytes = await reader.blob(manifest.config.digest);
  const config = JSON.parse(configBytes.toString('utf8')) as {
    architecture?: string;
    rootfs?: { diff_ids?: string[] };
  } & Record<string, unknown>;
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw new DoubleError(`the config lists ${diffIds.length} DiffIDs for ${manifest.layers.length} layers`);
  }
  const layers: Array<{ ref: LayerRef; facts: LayerFacts }> = [];
  for (const [i, layer] of manifest.layers.entries()) {
    const facts = await layerFactsCached(options.cacheDir, diffIds[i], () => reader.blob(layer.digest));
    layers.push({ ref: { digest: layer.digest, diffId: diffIds[i] }, facts });
  }
  return {
    ...applyLayers(layers),
    repoDigest: top.digest,
    imageId: manifest.config.digest,
    diffIds,
    config,
    architecture: config.architecture ?? '',
  };
}
