import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  type CompletedPart,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { assertByteRange, assertStoragePath, storagePathSegments } from './paths.js';
import {
  type DeleteFailure,
  type FileInfo,
  type FileWriter,
  type ListedFile,
  type RedirectOptions,
  type StorageDriver,
  PathNotFoundError,
  StorageError,
} from './types.js';
import { MiB, S3_DEFAULT_CHUNK_SIZE, S3_MIN_PART_SIZE, type S3StorageOptions } from './s3.options.js';
import { WriterOperations } from './writer-operations.js';

export { S3_DEFAULT_CHUNK_SIZE, S3_MIN_PART_SIZE, type S3StorageOptions } from './s3.options.js';

/** S3's largest part, and the largest object a single CopyObject may copy. */
const S3_MAX_PART_SIZE = 5 * 1024 * MiB;
const S3_MAX_PARTS = 10_000;
/** The most keys one DeleteObjects request may name. */
const S3_MAX_DELETE_KEYS = 1000;
/** SigV4 presigned URLs live at most seven days. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

interface S3ErrorShape {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function s3Error(error: unknown): S3ErrorShape {
  return typeof error === 'object' && error !== null ? error : {};
}

function isNotFound(error: unknown): boolean {
  const { name, $metadata } = s3Error(error);
  if (name === 'NoSuchBucket') return false;
  return name === 'NoSuchKey' || name === 'NotFound' || $metadata?.httpStatusCode === 404;
}

/** The backend lacks the operation (S3-compatible servers implement subsets of the API). */
function isUnsupported(error: unknown): boolean {
  const { name, $metadata } = s3Error(error);
  return name === 'NotImplemented' || name === 'MethodNotAllowed' || $metadata?.httpStatusCode === 501;
}

function validateOptions(options: S3StorageOptions): { chunkSize: number; prefix: string } {
  const problems: string[] = [];
  if (typeof options.bucket !== 'string' || options.bucket === '' || options.bucket.includes('/')) {
    problems.push('bucket must be a non-empty bucket name');
  }
  if (typeof options.region !== 'string' || options.region === '') {
    problems.push('region must be a non-empty string');
  }
  if (options.endpoint !== undefined) {
    const protocol = URL.canParse(options.endpoint) ? new URL(options.endpoint).protocol : '';
    if (protocol !== 'http:' && protocol !== 'https:') problems.push('endpoint must be an http(s) URL');
  }
  if ((options.accessKey === undefined) !== (options.secretKey === undefined)) {
    problems.push('accessKey and secretKey must be given together');
  }
  const chunkSize = options.chunkSize ?? S3_DEFAULT_CHUNK_SIZE;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < S3_MIN_PART_SIZE || chunkSize > S3_MAX_PART_SIZE) {
    problems.push(`chunkSize must be an integer between ${S3_MIN_PART_SIZE} and ${S3_MAX_PART_SIZE} bytes`);
  }
  if (typeof options.redirect !== 'boolean') problems.push('redirect must be a boolean');
  let prefix = '';
  const root = (options.rootDirectory ?? '').replace(/^\/+|\/+$/g, '');
  if (root !== '') {
    try {
      prefix = `${storagePathSegments(root).join('/')}/`;
    } catch {
      problems.push('rootDirectory must be a relative, "/"-separated path without "." or ".." segments');
    }
  }
  if (problems.length > 0) throw new StorageError(`invalid s3 storage options: ${problems.join('; ')}`);
  return { chunkSize, prefix };
}

/** Splits [0, size) into the fewest ranges of at most 5 GiB, of near-equal size (so each is >= 5 MiB). */
function copyRanges(size: number): Array<[start: number, end: number]> {
  const count = Math.max(1, Math.ceil(size / S3_MAX_PART_SIZE));
  const ranges: Array<[number, number]> = [];
  let start = 0;
  for (let index = 0; index < count; index++) {
    const length = Math.floor(size / count) + (index < size % count ? 1 : 0);
    ranges.push([start, start + length - 1]);
    start += length;
  }
  return ranges;
}

/** The first `limit` bytes of a stream; the rest is not read. */
function takeBytes(source: Readable, limit: number): Readable {
  async function* generate() {
    let remaining = limit;
    try {
      for await (const chunk of source) {
        const bytes = chunk as Buffer;
        if (bytes.length >= remaining) {
          yield bytes.subarray(0, remaining);
          return;
        }
        remaining -= bytes.length;
        yield bytes;
      }
    } finally {
      source.destroy();
    }
  }
  return Readable.from(generate(), { objectMode: false });
}

interface ObjectHead {
  size: number;
  etag: string | undefined;
  modTime: Date;
}

/** The raw object operations shared by the driver and its writers, on one bucket. */
class S3Objects {
  /** Cleared the first time the backend answers UploadPartCopy with "not implemented". */
  private partCopySupported = true;

  constructor(
    readonly client: S3Client,
    readonly bucket: string,
  ) {}

  async head(key: string): Promise<ObjectHead | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: out.ContentLength ?? 0, etag: out.ETag, modTime: out.LastModified ?? new Date(0) };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /** The object's bytes in [start, end] (inclusive), or all of it. Throws the SDK's errors. */
  async body(key: string, range?: { start: number; end?: number; ifMatch?: string }): Promise<Readable> {
    const { body, contentLength } = await this.get(key, range);
    const wanted = range?.end === undefined ? undefined : range.end - range.start + 1;
    // Some S3-compatible servers ignore a range's end (e.g. "bytes=0-0"); never hand out more than asked.
    return wanted !== undefined && contentLength !== undefined && contentLength > wanted
      ? takeBytes(body, wanted)
      : body;
  }

  private async get(key: string, range?: { start: number; end?: number; ifMatch?: string }) {
    const out = await this.client.send(
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Range: range ? `bytes=${range.start}-${range.end ?? ''}` : undefined,
        IfMatch: range?.ifMatch,
      }),
    );
    if (!(out.Body instanceof Readable)) throw new StorageError(`s3 returned no readable body for ${key}`);
    return { body: out.Body, contentLength: out.ContentLength };
  }

  async bytes(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.body(key)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async put(key: string, content: Buffer): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: content, ContentLength: content.length }),
    );
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async createUpload(key: string): Promise<string> {
    const out = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }));
    if (!out.UploadId) throw new StorageError(`s3 returned no upload id for ${key}`);
    return out.UploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer | Readable, length: number) {
    const out = await this.client.send(
      new UploadPartCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: partNumber,
        Body: body,
        ContentLength: length,
      }),
    );
    return { PartNumber: partNumber, ETag: out.ETag };
  }

  /**
   * Adds the whole of source object `sourceKey` to an upload as its next parts, server-side where
   * the backend supports UploadPartCopy and by streaming the bytes through otherwise.
   */
  async copyIntoUpload(
    sourceKey: string,
    source: ObjectHead,
    key: string,
    uploadId: string,
    firstPartNumber: number,
  ): Promise<CompletedPart[]> {
    const parts: CompletedPart[] = [];
    for (const [start, end] of copyRanges(source.size)) {
      const partNumber = firstPartNumber + parts.length;
      if (this.partCopySupported) {
        try {
          const out = await this.client.send(
            new UploadPartCopyCommand({
              Bucket: this.bucket,
              Key: key,
              UploadId: uploadId,
              PartNumber: partNumber,
              CopySource: this.copySource(sourceKey),
              CopySourceRange: `bytes=${start}-${end}`,
              CopySourceIfMatch: source.etag,
            }),
          );
          parts.push({ PartNumber: partNumber, ETag: out.CopyPartResult?.ETag });
          continue;
        } catch (error) {
          if (!isUnsupported(error)) throw error;
          this.partCopySupported = false;
        }
      }
      const body = await this.body(sourceKey, { start, end, ifMatch: source.etag });
      parts.push(await this.uploadPart(key, uploadId, partNumber, body, end - start + 1));
    }
    return parts;
  }

  async completeUpload(key: string, uploadId: string, parts: CompletedPart[]): Promise<void> {
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
    } catch (error) {
      // Already gone, or a backend without Abort (it then keeps the parts until its own cleanup).
      if (s3Error(error).name === 'NoSuchUpload' || isUnsupported(error) || isNotFound(error)) return;
      throw error;
    }
  }

  /** Aborts uploads of key left behind by writers that never closed (a crashed process). */
  async abortStrayUploads(key: string): Promise<void> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      let out;
      try {
        out = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: key,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        );
      } catch (error) {
        if (isUnsupported(error)) return;
        throw error;
      }
      for (const upload of out.Uploads ?? []) {
        if (upload.Key === key && upload.UploadId) await this.abortUpload(key, upload.UploadId);
      }
      if (!out.IsTruncated) return;
      keyMarker = out.NextKeyMarker;
      uploadIdMarker = out.NextUploadIdMarker;
    } while (keyMarker !== undefined);
  }

  /** Copies an object within the bucket; objects over 5 GiB need a multipart copy. */
  async copy(sourceKey: string, source: ObjectHead, key: string): Promise<void> {
    if (source.size <= S3_MAX_PART_SIZE) {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: key,
          CopySource: this.copySource(sourceKey),
          CopySourceIfMatch: source.etag,
        }),
      );
      return;
    }
    const uploadId = await this.createUpload(key);
    try {
      const parts = await this.copyIntoUpload(sourceKey, source, key, uploadId, 1);
      await this.completeUpload(key, uploadId, parts);
    } catch (error) {
      await this.abortUpload(key, uploadId).catch(() => undefined);
      throw error;
    }
  }

  /** Keys under a prefix, page by page. */
  async *listKeys(prefix: string, delimiter?: string) {
    let continuationToken: string | undefined;
    do {
      const out = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          Delimiter: delimiter,
          ContinuationToken: continuationToken,
        }),
      );
      yield {
        keys: (out.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [object.Key])),
        prefixes: (out.CommonPrefixes ?? []).flatMap((common) => (common.Prefix === undefined ? [] : [common.Prefix])),
      };
      continuationToken = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
  }

  /** Objects under a prefix with their sizes and times, page by page, from a flat listing (no delimiter). */
  async *listObjects(prefix: string) {
    let continuationToken: string | undefined;
    do {
      const out = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: continuationToken }),
      );
      yield (out.Contents ?? []).flatMap((object) =>
        object.Key === undefined
          ? []
          : [{ key: object.Key, size: object.Size ?? 0, modTime: object.LastModified ?? new Date(0) }],
      );
      continuationToken = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
  }

  async deleteKeys(keys: string[]): Promise<void> {
    const failed = await this.deleteObjects(keys);
    if (failed.length > 0) {
      throw new StorageError(`s3 could not delete ${failed.length} object(s), first: ${failed[0]?.key ?? '?'}`);
    }
  }

  /**
   * Deletes keys with DeleteObjects, up to 1,000 a request; resolves to the keys S3 reported it could not delete (a
   * key that was not there is deleted as far as anyone can tell). A request that fails as a whole rejects.
   */
  async deleteObjects(keys: string[]): Promise<Array<{ key: string; reason: string }>> {
    const failed: Array<{ key: string; reason: string }> = [];
    for (let start = 0; start < keys.length; start += S3_MAX_DELETE_KEYS) {
      const page = keys.slice(start, start + S3_MAX_DELETE_KEYS);
      const out = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          // Quiet: only the keys that failed are answered.
          Delete: { Objects: page.map((Key) => ({ Key })), Quiet: true },
        }),
      );
      for (const error of out.Errors ?? []) {
        if (error.Code === 'NoSuchKey') continue;
        failed.push({ key: error.Key ?? '', reason: `${error.Code ?? 'error'}: ${error.Message ?? 'not deleted'}` });
      }
    }
    return failed;
  }

  /** The x-amz-copy-source value: reserved characters stay literal, as both S3 and simpler servers decode them. */
  private copySource(key: string): string {
    const encoded = encodeURI(key).replace(
      /[?#+]/g,
      (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`,
    );
    return `${this.bucket}/${encoded}`;
  }
}

/** A blob store on Amazon S3 or an S3-compatible server. */
export class S3Driver implements StorageDriver {
  readonly name = 's3';
  readonly chunkSize: number;
  private readonly prefix: string;
  private readonly redirect: boolean;
  private readonly client: S3Client;
  private readonly objects: S3Objects;

  constructor(options: S3StorageOptions) {
    const { chunkSize, prefix } = validateOptions(options);
    this.chunkSize = chunkSize;
    this.prefix = prefix;
    this.redirect = options.redirect;
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle ?? false,
      credentials:
        options.accessKey !== undefined && options.secretKey !== undefined
          ? { accessKeyId: options.accessKey, secretAccessKey: options.secretKey }
          : undefined,
      // The default trailing-checksum encoding is not understood by every S3-compatible server, and
      // blob content is verified by digest anyway.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.objects = new S3Objects(this.client, options.bucket);
  }

  /** Closes the client's idle connections. */
  destroy(): void {
    this.client.destroy();
  }

  private key(path: string): string {
    return this.prefix + storagePathSegments(path).join('/');
  }

  private pathOf(key: string): string {
    return key.slice(this.prefix.length);
  }

  async stat(path: string): Promise<FileInfo | null> {
    const head = await this.objects.head(this.key(path));
    return head ? { path, size: head.size, modTime: head.modTime } : null;
  }

  async reader(path: string, offset = 0, length?: number): Promise<Readable> {
    assertByteRange(offset, length);
    const key = this.key(path);
    if (length === 0) {
      if ((await this.objects.head(key)) === null) throw new PathNotFoundError(path);
      return Readable.from([]);
    }
    const range =
      offset === 0 && length === undefined
        ? undefined
        : { start: offset, end: length === undefined ? undefined : offset + length - 1 };
    try {
      return await this.objects.body(key, range);
    } catch (error) {
      if (isNotFound(error)) throw new PathNotFoundError(path);
      // The object exists but the offset is at or past its end: nothing to read, as on a file.
      if (s3Error(error).name === 'InvalidRange' || s3Error(error).$metadata?.httpStatusCode === 416) {
        return Readable.from([]);
      }
      throw error;
    }
  }

  async getContent(path: string): Promise<Buffer> {
    try {
      return await this.objects.bytes(this.key(path));
    } catch (error) {
      if (isNotFound(error)) throw new PathNotFoundError(path);
      throw error;
    }
  }

  async putContent(path: string, content: Buffer): Promise<void> {
    // A PUT replaces an object atomically on S3.
    await this.objects.put(this.key(path), content);
  }

  /** Parts are uploaded one after another, so an object always holds a prefix of its bytes (WriterOptions.inOrder). */
  async writer(path: string, append: boolean): Promise<FileWriter> {
    const key = this.key(path);
    if (!append) return new S3FileWriter(this.objects, key, this.chunkSize, null);
    const head = await this.objects.head(key);
    if (head === null) throw new PathNotFoundError(path);
    return new S3FileWriter(this.objects, key, this.chunkSize, {
      head,
      // A small object cannot be an upload part on its own (except the last), so it is carried
      // in the writer's buffer instead; it is at most 5 MiB.
      content: head.size < S3_MIN_PART_SIZE ? await this.getContent(path) : null,
    });
  }

  async list(path: string): Promise<string[]> {
    const prefix = `${this.key(path)}/`;
    const children = new Set<string>();
    const addChild = (childKey: string) => {
      if (childKey.length > prefix.length) children.add(this.pathOf(childKey));
    };
    for await (const page of this.objects.listKeys(prefix, '/')) {
      for (const key of page.keys) addChild(key);
      for (const common of page.prefixes) addChild(common.slice(0, -1));
    }
    if (children.size === 0) {
      // Some S3-compatible servers leave out common prefixes nested more than one level down; a
      // flat listing finds them. On S3 proper an empty delimited listing means an empty prefix.
      for await (const page of this.objects.listKeys(prefix)) {
        for (const key of page.keys) {
          const child = key.slice(prefix.length).split('/')[0];
          if (child) addChild(prefix + child);
        }
      }
    }
    if (children.size === 0) throw new PathNotFoundError(path);
    return [...children].sort();
  }

  /** A flat listing: some S3-compatible servers leave nested common prefixes out of delimited ones. */
  async *walk(path: string): AsyncIterable<FileInfo> {
    for await (const page of this.objects.listObjects(`${this.key(path)}/`)) {
      for (const object of page) yield { path: this.pathOf(object.key), size: object.size, modTime: object.modTime };
    }
  }

  /** The listing carries every object's size and time, so they are given: no HeadObject per file. */
  listFiles(path: string): AsyncIterable<ListedFile> {
    return this.walk(path);
  }

  async move(src: string, dst: string): Promise<void> {
    const sourceKey = this.key(src);
    const destinationKey = this.key(dst);
    const head = await this.objects.head(sourceKey);
    if (head === null) throw new PathNotFoundError(src);
    if (sourceKey === destinationKey) return;
    await this.objects.copy(sourceKey, head, destinationKey);
    await this.objects.delete(sourceKey);
  }

  async delete(path: string): Promise<void> {
    const key = this.key(path);
    await this.objects.delete(key);
    for await (const page of this.objects.listKeys(`${key}/`)) {
      await this.objects.deleteKeys(page.keys);
    }
  }

  async deleteFiles(paths: string[]): Promise<DeleteFailure[]> {
    const keys = paths.map((path) => this.key(path));
    const failed = await this.objects.deleteObjects(keys);
    // A key S3 names that was not asked for cannot be matched to a path: the whole answer is then in doubt.
    const pathByKey = new Map(keys.map((key, index) => [key, paths[index]]));
    return failed.map(({ key, reason }) => {
      const path = pathByKey.get(key);
      if (path === undefined) throw new StorageError(`s3 reported a delete failure for a key not asked for: ${key}`);
      return { path, reason };
    });
  }

  async redirectURL(path: string, options: RedirectOptions): Promise<string | null> {
    assertStoragePath(path);
    if (!this.redirect) return null;
    const { method, expiresInSeconds } = options;
    if (method !== 'GET' && method !== 'HEAD') throw new StorageError(`cannot presign method ${String(method)}`);
    if (!Number.isSafeInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_PRESIGN_SECONDS) {
      throw new StorageError(`presigned URL expiry must be 1..${MAX_PRESIGN_SECONDS} seconds`);
    }
    const target = { Bucket: this.objects.bucket, Key: this.key(path) };
    const command = method === 'GET' ? new GetObjectCommand(target) : new HeadObjectCommand(target);
    return getSignedUrl(this.client, command, { expiresIn: expiresInSeconds });
  }
}

/**
 * Writes an object as a multipart upload of `chunkSize` parts. close() completes the upload, so
 * every byte written is in the object itself and another process can append to it with nothing
 * but S3 to go on: it starts a new upload whose first parts copy the existing object.
 */
class S3FileWriter implements FileWriter {
  private buffer = Buffer.alloc(0);
  private buffered = 0;
  private written: number;
  private uploadId: string | null = null;
  private parts: CompletedPart[] = [];
  /** Existing content still to be carried into the upload (append to an object of >= 5 MiB). */
  private existing: ObjectHead | null = null;
  /** Whether close() must write anything: an append writer that wrote nothing leaves the object as is. */
  private dirty: boolean;
  private readonly operations = new WriterOperations();

  constructor(
    private readonly objects: S3Objects,
    private readonly key: string,
    private readonly chunkSize: number,
    appendTo: { head: ObjectHead; content: Buffer | null } | null,
  ) {
    this.written = appendTo?.head.size ?? 0;
    this.dirty = appendTo === null;
    if (appendTo?.content) {
      this.bufferBytes(appendTo.content, 0, appendTo.content.length);
    } else if (appendTo) {
      this.existing = appendTo.head;
    }
  }

  get size(): number {
    return this.written;
  }

  write(chunk: Buffer): Promise<void> {
    if (!Buffer.isBuffer(chunk)) {
      return Promise.reject(new TypeError('FileWriter.write expects a Buffer'));
    }
    return this.operations.run(async () => {
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(this.chunkSize - this.buffered, chunk.length - offset);
        this.bufferBytes(chunk, offset, offset + take);
        offset += take;
        this.written += take;
        this.dirty = true;
        if (this.buffered === this.chunkSize) await this.uploadBuffered();
      }
    });
  }

  close(): Promise<void> {
    return this.operations.run(async () => {
      await this.finish();
      this.operations.state = 'closed';
    });
  }

  commit(): Promise<void> {
    return this.operations.run(async () => {
      await this.finish();
      this.operations.state = 'committed';
    });
  }

  cancel(): Promise<void> {
    return this.operations.run(async () => {
      this.operations.state = 'cancelled';
      this.buffer = Buffer.alloc(0);
      this.buffered = 0;
      if (this.uploadId !== null) await this.objects.abortUpload(this.key, this.uploadId);
      await this.objects.abortStrayUploads(this.key);
      await this.objects.delete(this.key);
    });
  }

  /** Copies into the part buffer, growing it as needed so small objects never cost a whole chunk. */
  private bufferBytes(source: Buffer, start: number, end: number): void {
    const needed = this.buffered + (end - start);
    if (needed > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.chunkSize, Math.max(needed, this.buffer.length * 2, MiB)));
      this.buffer.copy(grown, 0, 0, this.buffered);
      this.buffer = grown;
    }
    this.buffered += source.copy(this.buffer, this.buffered, start, end);
  }

  private async startUpload(): Promise<string> {
    if (this.uploadId !== null) return this.uploadId;
    const uploadId = await this.objects.createUpload(this.key);
    this.uploadId = uploadId;
    if (this.existing) {
      this.parts = await this.objects.copyIntoUpload(this.key, this.existing, this.key, uploadId, 1);
      this.existing = null;
    }
    return uploadId;
  }

  private async uploadBuffered(): Promise<void> {
    const uploadId = await this.startUpload();
    const partNumber = this.parts.length + 1;
    if (partNumber > S3_MAX_PARTS) {
      throw new StorageError(`object exceeds ${S3_MAX_PARTS} parts of ${this.chunkSize} bytes; raise chunkSize`);
    }
    const part = this.buffer.subarray(0, this.buffered);
    this.parts.push(await this.objects.uploadPart(this.key, uploadId, partNumber, part, part.length));
    this.buffered = 0;
  }

  private async finish(): Promise<void> {
    if (!this.dirty) return;
    if (this.uploadId === null && this.existing === null) {
      await this.objects.put(this.key, this.buffer.subarray(0, this.buffered));
    } else {
      if (this.buffered > 0) await this.uploadBuffered();
      await this.objects.completeUpload(this.key, await this.startUpload(), this.parts);
    }
    this.buffer = Buffer.alloc(0);
    this.buffered = 0;
  }
}
