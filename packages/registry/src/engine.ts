import {
  type ManifestReference,
  type NewManifest,
  ReferencesGoneError,
  type RegistryRepository,
  StorageLimitExceededError,
} from '@wharf/db';
import {
  accessoryOf,
  type Descriptor,
  MediaType,
  OciError,
  OciErrorCode,
  acceptAllows,
  baseMediaType,
  digestOf,
  isForeignLayer,
  isValidRepositoryName,
  isValidTag,
  parseDigest,
  type ParsedManifest,
  parseManifest,
  requireDigest,
} from '@wharf/oci';
import { type StorageDriver } from '@wharf/storage';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { type PullRecorder } from './events/pull-recorder.js';
import { type ManifestCache } from './manifest-cache.js';
import {
  bodyStream,
  contentLength,
  hasBody,
  chunkRange,
  parsePagination,
  parseRange,
  queryOf,
  readBody,
  single,
} from './http.js';
import { type RegistryRoute } from './router.js';
import { type BlobStore, blobDataPath } from './uploads/blob-store.js';
import { type RegistryWriter } from './writer.js';

export interface EngineOptions {
  maxManifestBytes: number;
  /** Redirect blob GETs to the storage backend when it can presign a URL. */
  redirect: boolean;
  /** Advertised to clients that open an upload session (OCI-Chunk-Min-Length), when the storage wants one. */
  chunkMinLength?: number;
  defaultPageSize: number;
  maxPageSize: number;
}

/** What a handler knows of the request beyond Fastify's objects: the route and who is acting. */
export interface OperationContext {
  request: FastifyRequest;
  reply: FastifyReply;
  actor?: string;
  /** The verified claims of the bearer token that allowed the request, when it came with one. */
  claims?: Readonly<Record<string, unknown>>;
  /** Whether the caller may pull from another repository (for cross-repository mounts). */
  canPull(repository: string): Promise<boolean>;
}

/** A transfer whose peer neither sends nor reads anything for this long is cut, freeing its session and files. */
const IDLE_CONNECTION_MS = 120_000;

/** Cuts an upload whose client has gone silent, so its session lease is given back instead of renewed forever. */
function limitIdleUpload(request: FastifyRequest): void {
  request.raw.setTimeout(IDLE_CONNECTION_MS, () => {
    request.raw.destroy(new Error(`no data from the client for ${IDLE_CONNECTION_MS / 1000} s`));
  });
}

function manifestPath(name: string, reference: string): string {
  return `/v2/${name}/manifests/${reference}`;
}

function blobLocation(name: string, digest: string): string {
  return `/v2/${name}/blobs/${digest}`;
}

function uploadLocation(name: string, id: string): string {
  return `/v2/${name}/blobs/uploads/${id}`;
}

/** `Range: 0-<last byte>`; an empty upload reports `0-0` as distribution does, which clients expect. */
function rangeHeader(size: number): string {
  return `0-${Math.max(0, size - 1)}`;
}

/** A descriptor must state the size of the content it points at, as stored. */
function checkSize(where: string, descriptor: Descriptor, stored: number): void {
  if (descriptor.size === stored) return;
  throw new OciError(
    OciErrorCode.SIZE_INVALID,
    `${where} states ${descriptor.size} bytes, but ${descriptor.digest} holds ${stored}`,
    { digest: descriptor.digest, size: descriptor.size, stored },
  );
}

type Reference = { digest: string } | { tag: string };

function parseReference(reference: string, onInvalid: OciErrorCode): Reference {
  if (reference.includes(':')) {
    if (!parseDigest(reference)) throw new OciError(OciErrorCode.DIGEST_INVALID, `invalid digest: ${reference}`);
    return { digest: reference };
  }
  if (!isValidTag(reference)) throw new OciError(onInvalid, `invalid tag: ${reference}`, { tag: reference });
  return { tag: reference };
}

/** The handlers of the OCI Distribution API, named after the operations they serve. */
export class RegistryEngine {
  constructor(
    private readonly repository: RegistryRepository,
    private readonly blobs: BlobStore,
    private readonly storage: StorageDriver,
    private readonly pulls: PullRecorder,
    private readonly writer: RegistryWriter,
    private readonly options: EngineOptions,
    private readonly cache?: ManifestCache,
  ) {}

  async dispatch(route: RegistryRoute, method: string, ctx: OperationContext): Promise<void> {
    switch (route.kind) {
      case 'base':
        if (method !== 'GET' && method !== 'HEAD') break;
        ctx.reply.type('application/json').send(Buffer.from('{}'));
        return;
      case 'catalog':
        if (method !== 'GET') break;
        return this.getCatalog(ctx);
      case 'tags':
        if (method !== 'GET') break;
        return this.getTags(ctx, route.name);
      case 'referrers':
        if (method !== 'GET') break;
        return this.getReferrers(ctx, route.name, route.digest);
      case 'manifest':
        if (method === 'GET' || method === 'HEAD') return this.getManifest(ctx, route.name, route.reference, method);
        if (method === 'PUT') return this.putManifest(ctx, route.name, route.reference);
        if (method === 'DELETE') return this.deleteManifest(ctx, route.name, route.reference);
        break;
      case 'blob':
        if (method === 'GET' || method === 'HEAD') return this.getBlob(ctx, route.name, route.digest, method);
        if (method === 'DELETE') return this.deleteBlob(ctx, route.name, route.digest);
        break;
      case 'uploads':
        if (method === 'POST') return this.postBlobUpload(ctx, route.name);
        break;
      case 'upload':
        if (method === 'GET') return this.getBlobUpload(ctx, route.name, route.uuid);
        if (method === 'PATCH') return this.patchBlobUpload(ctx, route.name, route.uuid);
        if (method === 'PUT') return this.putBlobUpload(ctx, route.name, route.uuid);
        if (method === 'DELETE') return this.deleteBlobUpload(ctx, route.name, route.uuid);
        break;
    }
    throw new OciError(OciErrorCode.UNSUPPORTED, `${method} is not supported on this endpoint`, undefined, 405);
  }

  // ---- content discovery -------------------------------------------------------------------------

  private async getCatalog({ request, reply }: OperationContext): Promise<void> {
    const { n, last } = parsePagination(queryOf(request), this.options.defaultPageSize, this.options.maxPageSize);
    if (last !== undefined && !isValidRepositoryName(last)) {
      throw new OciError(OciErrorCode.NAME_INVALID, 'last must be a repository name', { last });
    }
    const repositories = n === 0 ? [] : await this.repository.listRepositories(n + 1, last);
    const page = repositories.slice(0, n);
    if (repositories.length > n) {
      reply.header('Link', `</v2/_catalog?n=${n}&last=${encodeURIComponent(page[page.length - 1])}>; rel="next"`);
    }
    reply.type('application/json').send(Buffer.from(JSON.stringify({ repositories: page })));
  }

  private async getTags({ request, reply }: OperationContext, name: string): Promise<void> {
    const { n, last } = parsePagination(queryOf(request), this.options.defaultPageSize, this.options.maxPageSize);
    if (last !== undefined && !isValidTag(last)) {
      throw new OciError(OciErrorCode.UNSUPPORTED, 'last must be a tag', { last }, 400);
    }
    let page = this.cache?.getTagPage(name, n, last);
    if (!page) {
      const token = this.cache?.token(name);
      const stored = await this.repository.listTags(name, n, last);
      if (stored === null) {
        throw new OciError(OciErrorCode.NAME_UNKNOWN, 'repository name not known to registry', { name });
      }
      page = {
        body: Buffer.from(`{"name":${JSON.stringify(name)},"tags":${stored.tagsJson}}`),
        nextLast: stored.more ? stored.last : null,
      };
      if (token !== undefined) this.cache?.setTagPage(name, n, last, page, token);
    }
    if (page.nextLast !== null) {
      reply.header('Link', `</v2/${name}/tags/list?n=${n}&last=${encodeURIComponent(page.nextLast)}>; rel="next"`);
    }
    reply.type('application/json').send(page.body);
  }

  private async getReferrers({ request, reply }: OperationContext, name: string, digest: string): Promise<void> {
    requireDigest(digest);
    const artifactType = single(queryOf(request), 'artifactType');
    let referrers = await this.repository.listReferrers(name, digest);
    if (artifactType !== undefined) {
      referrers = referrers.filter((r) => r.artifactType === artifactType);
      reply.header('OCI-Filters-Applied', 'artifactType');
    }
    const manifests = referrers.map((r) => ({
      mediaType: r.mediaType,
      digest: r.digest,
      size: r.size,
      ...(r.artifactType ? { artifactType: r.artifactType } : {}),
      ...(r.annotations ? { annotations: r.annotations } : {}),
    }));
    reply
      .type(MediaType.OciIndex)
      .send(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests })));
  }

  // ---- manifests ---------------------------------------------------------------------------------

  private async getManifest(ctx: OperationContext, name: string, reference: string, method: 'GET' | 'HEAD') {
    const ref = parseReference(reference, OciErrorCode.MANIFEST_UNKNOWN);
    const byDigest = 'digest' in ref;
    let manifest = this.cache?.get(name, reference);
    if (!manifest) {
      const token = this.cache?.token(name);
      const stored = await this.repository.getManifest(name, reference, byDigest, true);
      if (stored?.payload) {
        manifest = { ...stored, payload: stored.payload };
        if (token !== undefined) this.cache?.set(name, reference, manifest, token);
      }
    }
    if (!manifest) {
      throw new OciError(OciErrorCode.MANIFEST_UNKNOWN, 'manifest unknown', { name, reference });
    }
    if (!acceptAllows(ctx.request.headers.accept, manifest.mediaType)) {
      throw new OciError(
        OciErrorCode.MANIFEST_UNKNOWN,
        `the manifest is ${manifest.mediaType}, which the request's Accept header does not allow`,
        { name, reference, mediaType: manifest.mediaType },
      );
    }
    if (this.writer.policies.guardsReads) {
      await this.writer.policies.beforeManifestGet({
        repository: name,
        reference,
        digest: manifest.digest,
        mediaType: manifest.mediaType,
        method,
        actor: ctx.actor,
        claims: ctx.claims,
        userAgent: ctx.request.headers['user-agent'],
      });
    }
    const { reply } = ctx;
    reply.header('Content-Type', manifest.mediaType);
    reply.header('Docker-Content-Digest', manifest.digest);
    reply.header('ETag', `"${manifest.digest}"`);
    reply.header('Content-Length', String(manifest.size));
    if (method === 'HEAD') {
      reply.send();
      return;
    }
    this.pulls.record({
      type: 'PULL_ARTIFACT',
      repository: name,
      digest: manifest.digest,
      tag: byDigest ? undefined : reference,
      mediaType: manifest.mediaType,
      size: manifest.size,
      actor: ctx.actor,
    });
    reply.send(manifest.payload);
  }

  /**
   * Stores a manifest. A push the database refuses for taking its project past the storage limit (two pushes that
   * each passed the policy check, and together do not fit) is refused like the policy refuses one: 403 DENIED. One
   * whose blobs or children garbage collection took after they were checked is answered as if they had been missing
   * then, so that the client pushes them again.
   */
  private async storeManifest(manifest: NewManifest): Promise<void> {
    try {
      await this.repository.putManifest(manifest);
    } catch (error) {
      if (error instanceof StorageLimitExceededError) throw new OciError(OciErrorCode.DENIED, error.message);
      if (error instanceof ReferencesGoneError) {
        throw new OciError(OciErrorCode.MANIFEST_BLOB_UNKNOWN, error.message, { digests: error.digests });
      }
      throw error;
    }
  }

  private async putManifest(ctx: OperationContext, name: string, reference: string): Promise<void> {
    const ref = parseReference(reference, OciErrorCode.MANIFEST_INVALID);
    const limit = this.options.maxManifestBytes;
    const body = await readBody(
      ctx.request,
      limit,
      () => new OciError(OciErrorCode.MANIFEST_INVALID, `manifest exceeds the ${limit}-byte limit`, { limit }, 413),
    );
    const digest = 'digest' in ref ? ref.digest : digestOf(body);
    if ('digest' in ref) {
      const parsed = requireDigest(ref.digest);
      const actual = digestOf(body, parsed.algorithm);
      if (actual !== ref.digest) {
        throw new OciError(OciErrorCode.DIGEST_INVALID, `manifest digest ${actual} does not match ${ref.digest}`, {
          expected: ref.digest,
          actual,
        });
      }
    }
    const manifest = parseManifest(body, baseMediaType(ctx.request.headers['content-type']));

    const { references, requiredBlobs, requiredManifests } = await this.storedReferences(name, manifest);
    const tag = 'tag' in ref ? ref.tag : undefined;
    await this.writer.policies.beforeManifestPut({
      repository: name,
      digest,
      tag,
      size: body.length,
      manifest,
      actor: ctx.actor,
    });

    await this.storeManifest({
      repository: name,
      digest,
      mediaType: manifest.mediaType,
      artifactType: manifest.artifactType,
      payload: body,
      subjectDigest: manifest.subject?.digest,
      annotations: manifest.annotations,
      accessory: accessoryOf(manifest, digest, tag),
      references,
      requiredBlobs,
      requiredManifests,
      tag,
      actor: ctx.actor,
      beforeTagMove: tag === undefined ? undefined : this.writer.beforeTagMove(name, tag, digest, ctx.actor),
    });
    // The change notice reaches this process too, but a client that reads right after writing must see it now.
    this.cache?.invalidate(name);
    const { reply } = ctx;
    reply.header('Location', manifestPath(name, digest));
    reply.header('Docker-Content-Digest', digest);
    if (manifest.subject) reply.header('OCI-Subject', manifest.subject.digest);
    reply.code(201).send();
  }

  /**
   * Holds each descriptor of a manifest to what it points at, as stored in the repository: a config or layer to a
   * blob of exactly the size it states (a foreign layer, whose bytes live elsewhere, may be absent), an index's child
   * to a manifest of the size and media type it states. A descriptor that understates a blob would have quota count
   * the stated size. The subject need not exist: a referrer may be pushed before its subject. Returns the references
   * to record, each sized by what is stored, and the stored blobs and children the manifest needs to stay stored.
   */
  private async storedReferences(
    name: string,
    manifest: ParsedManifest,
  ): Promise<{ references: ManifestReference[]; requiredBlobs: string[]; requiredManifests: string[] }> {
    const blobReferences = [
      ...(manifest.config ? [{ kind: 'config' as const, where: 'config', descriptor: manifest.config }] : []),
      ...manifest.layers.map((descriptor, i) => ({ kind: 'layer' as const, where: `layers[${i}]`, descriptor })),
    ];
    const children = manifest.manifests.map((descriptor, i) => ({ where: `manifests[${i}]`, descriptor }));
    const [blobs, manifests] = await Promise.all([
      this.repository.storedBlobs(name, [...new Set(blobReferences.map((r) => r.descriptor.digest))]),
      this.repository.storedManifests(name, [...new Set(children.map((c) => c.descriptor.digest))]),
    ]);
    const missingBlobs = [
      ...new Set(
        blobReferences
          .filter(({ descriptor }) => !blobs.has(descriptor.digest) && !isForeignLayer(descriptor))
          .map(({ descriptor }) => descriptor.digest),
      ),
    ];
    if (missingBlobs.length > 0) {
      throw new OciError(OciErrorCode.MANIFEST_BLOB_UNKNOWN, `blob unknown to registry: ${missingBlobs[0]}`, {
        digests: missingBlobs,
      });
    }
    const missingManifests = [
      ...new Set(
        children.filter(({ descriptor }) => !manifests.has(descriptor.digest)).map((c) => c.descriptor.digest),
      ),
    ];
    if (missingManifests.length > 0) {
      throw new OciError(OciErrorCode.MANIFEST_BLOB_UNKNOWN, `manifest unknown to registry: ${missingManifests[0]}`, {
        digests: missingManifests,
      });
    }
    const references: ManifestReference[] = [];
    for (const { kind, where, descriptor } of blobReferences) {
      const stored = blobs.get(descriptor.digest);
      if (stored !== undefined) checkSize(where, descriptor, stored);
      references.push({
        kind,
        digest: descriptor.digest,
        mediaType: descriptor.mediaType,
        size: stored ?? descriptor.size,
      });
    }
    for (const { where, descriptor } of children) {
      const stored = manifests.get(descriptor.digest)!;
      if (descriptor.mediaType !== stored.mediaType) {
        throw new OciError(
          OciErrorCode.MANIFEST_INVALID,
          `${where} states media type ${descriptor.mediaType}, but ${descriptor.digest} is stored as ${stored.mediaType}`,
          { digest: descriptor.digest, mediaType: descriptor.mediaType, stored: stored.mediaType },
        );
      }
      checkSize(where, descriptor, stored.size);
      references.push({ kind: 'manifest', digest: descriptor.digest, mediaType: stored.mediaType, size: stored.size });
    }
    return { references, requiredBlobs: [...blobs.keys()], requiredManifests: [...manifests.keys()] };
  }

  private async deleteManifest(ctx: OperationContext, name: string, reference: string): Promise<void> {
    const ref = parseReference(reference, OciErrorCode.MANIFEST_UNKNOWN);
    const deleted =
      'digest' in ref
        ? await this.writer.deleteManifest(name, ref.digest, { actor: ctx.actor })
        : await this.writer.deleteTag(name, ref.tag, { actor: ctx.actor });
    this.cache?.invalidate(name);
    if (!deleted) throw new OciError(OciErrorCode.MANIFEST_UNKNOWN, 'manifest unknown', { name, reference });
    ctx.reply.code(202).send();
  }

  // ---- blobs -------------------------------------------------------------------------------------

  private async getBlob(ctx: OperationContext, name: string, rawDigest: string, method: 'GET' | 'HEAD') {
    const digest = requireDigest(rawDigest);
    const size = await this.repository.blobInRepository(name, digest.digest);
    if (size === null) throw new OciError(OciErrorCode.BLOB_UNKNOWN, 'blob unknown to registry', { digest: rawDigest });
    const { reply, request } = ctx;
    reply.header('Docker-Content-Digest', digest.digest);
    reply.header('ETag', `"${digest.digest}"`);
    reply.header('Accept-Ranges', 'bytes');
    reply.header('Cache-Control', 'max-age=31536000');
    const path = blobDataPath(digest);
    if (method === 'HEAD') {
      reply.header('Content-Type', 'application/octet-stream');
      reply.header('Content-Length', String(size));
      reply.send();
      return;
    }
    if (this.options.redirect) {
      const url = await this.storage.redirectURL(path, { method: 'GET', expiresInSeconds: 1200 });
      if (url) {
        reply.redirect(url, 307);
        return;
      }
    }
    const range = parseRange(request.headers.range, size);
    reply.header('Content-Type', 'application/octet-stream');
    const start = range?.start ?? 0;
    const length = range ? range.end - range.start + 1 : size;
    if (range) {
      reply.code(206);
      reply.header('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    }
    reply.header('Content-Length', String(length));
    if (length === 0) {
      reply.send(Buffer.alloc(0));
      return;
    }
    if (this.storage.sendTo) {
      await this.sendDirect(reply, path, start, length);
      return;
    }
    reply.send(await this.storage.reader(path, start, length));
  }

  /**
   * Writes the response without Fastify's stream plumbing: headers, then the driver copies the bytes straight
   * into the socket through reused buffers. A failure after the headers went out can only cut the connection.
   */
  private async sendDirect(reply: FastifyReply, path: string, start: number, length: number): Promise<void> {
    const sendTo = this.storage.sendTo!.bind(this.storage);
    // Once the status line is out nothing can be reported any more: make sure the bytes are there first.
    if (!(await this.storage.stat(path))) {
      throw new OciError(OciErrorCode.BLOB_UNKNOWN, 'blob content is missing from storage', { path });
    }
    const response = reply.raw;
    reply.hijack();
    response.setTimeout(IDLE_CONNECTION_MS, () => response.destroy());
    response.writeHead(reply.statusCode, reply.getHeaders() as Record<string, string>);
    try {
      await sendTo(path, start, length, response);
      response.end();
    } catch (error) {
      reply.log.warn({ err: error, path }, 'blob download ended early');
      response.destroy();
    }
  }

  private async deleteBlob(ctx: OperationContext, name: string, rawDigest: string): Promise<void> {
    const digest = requireDigest(rawDigest);
    const deleted = await this.repository.unlinkBlob(name, digest.digest, ctx.actor);
    if (!deleted) throw new OciError(OciErrorCode.BLOB_UNKNOWN, 'blob unknown to registry', { digest: rawDigest });
    ctx.reply.code(202).send();
  }

  // ---- uploads -----------------------------------------------------------------------------------

  private async postBlobUpload(ctx: OperationContext, name: string): Promise<void> {
    const { request, reply } = ctx;
    const query = queryOf(request);
    const mount = single(query, 'mount');
    const from = single(query, 'from');
    const digestParam = single(query, 'digest');

    if (mount !== undefined && from !== undefined) {
      const digest = requireDigest(mount);
      // A `from` that is no repository name cannot hold the blob; it is never looked up (a NUL would fail the query).
      if (from !== name && isValidRepositoryName(from) && (await ctx.canPull(from))) {
        const size = await this.repository.blobInRepository(from, digest.digest);
        // False when garbage collection deleted the blob meanwhile.
        if (size !== null && (await this.blobs.mount(name, digest.digest, size, ctx.actor))) {
          reply.header('Location', blobLocation(name, digest.digest));
          reply.header('Docker-Content-Digest', digest.digest);
          reply.code(201).send();
          return;
        }
      }
      // Not mountable: fall through to an ordinary upload session, as the spec asks.
    } else if (digestParam !== undefined) {
      const digest = requireDigest(digestParam);
      limitIdleUpload(request);
      await this.blobs.putMonolithic(name, digest, bodyStream(request), contentLength(request), ctx.actor);
      reply.header('Location', blobLocation(name, digest.digest));
      reply.header('Docker-Content-Digest', digest.digest);
      reply.code(201).send();
      return;
    }
    if (hasBody(request)) {
      // A session-opening POST carries no data; drain anything sent so the connection stays usable.
      for await (const _chunk of bodyStream(request)) void _chunk;
    }
    const session = await this.blobs.startUpload(name);
    reply.header('Location', uploadLocation(name, session.id));
    reply.header('Range', rangeHeader(0));
    reply.header('Docker-Upload-UUID', session.id);
    if (this.options.chunkMinLength) reply.header('OCI-Chunk-Min-Length', String(this.options.chunkMinLength));
    reply.code(202).send();
  }

  private async getBlobUpload(ctx: OperationContext, name: string, id: string): Promise<void> {
    const session = await this.blobs.status(name, id);
    const { reply } = ctx;
    reply.header('Location', uploadLocation(name, id));
    reply.header('Range', rangeHeader(session.size));
    reply.header('Docker-Upload-UUID', id);
    reply.code(204).send();
  }

  private async patchBlobUpload(ctx: OperationContext, name: string, id: string): Promise<void> {
    const { request, reply } = ctx;
    const range = chunkRange(request);
    const length = contentLength(request);
    limitIdleUpload(request);
    const session = await this.blobs.append(name, id, bodyStream(request), {
      start: range?.start,
      length: range?.length ?? length,
    });
    reply.header('Location', uploadLocation(name, id));
    reply.header('Range', rangeHeader(session.size));
    reply.header('Docker-Upload-UUID', id);
    reply.code(202).send();
  }

  private async putBlobUpload(ctx: OperationContext, name: string, id: string): Promise<void> {
    const { request, reply } = ctx;
    const digest = requireDigest(single(queryOf(request), 'digest'));
    const range = chunkRange(request);
    const length = contentLength(request);
    const body = hasBody(request) ? bodyStream(request) : undefined;
    if (body) limitIdleUpload(request);
    await this.blobs.complete(
      name,
      id,
      digest,
      body,
      { start: range?.start, length: range?.length ?? length },
      ctx.actor,
    );
    reply.header('Location', blobLocation(name, digest.digest));
    reply.header('Docker-Content-Digest', digest.digest);
    reply.code(201).send();
  }

  private async deleteBlobUpload(ctx: OperationContext, name: string, id: string): Promise<void> {
    await this.blobs.cancel(name, id);
    ctx.reply.code(204).send();
  }
}
