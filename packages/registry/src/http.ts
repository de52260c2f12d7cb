import { OciError, OciErrorCode } from '@wharf/oci';
import { type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';

export const API_VERSION_HEADER = 'Docker-Distribution-API-Version';
export const API_VERSION = 'registry/2.0';

/** The request body as a stream of Buffers (the plugin leaves bodies unparsed). */
export function bodyStream(request: FastifyRequest): AsyncIterable<Buffer> {
  return request.raw as AsyncIterable<Buffer>;
}

/** Whether the request carries a body at all. */
export function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return request.headers['transfer-encoding'] !== undefined;
}

export function contentLength(request: FastifyRequest): number | undefined {
  const value = request.headers['content-length'];
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new OciError(OciErrorCode.SIZE_INVALID, 'Content-Length is not a number');
  return Number(value);
}

/** Reads a whole body that must not exceed `limit` bytes; the caller picks the error for an oversized one. */
export async function readBody(request: FastifyRequest, limit: number, tooLarge: () => OciError): Promise<Buffer> {
  const declared = contentLength(request);
  if (declared !== undefined && declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of bodyStream(request)) {
    total += chunk.length;
    if (total > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/**
 * A request's Content-Range for a chunk: `start-end`, with or without `bytes=` / `bytes ` and a `/total`.
 * Returns the first byte and the length. A range that contradicts itself (its end before its start, or past the
 * total it names) is refused with 416, as an out-of-order chunk is.
 */
export function parseContentRange(value: string | undefined): { start: number; length: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^(?:bytes[= ])?(\d+)-(\d+)(?:\/(\d+|\*))?$/.exec(value.trim());
  if (!m) throw invalidRange(`invalid Content-Range: ${value}`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) {
    throw invalidRange(`invalid Content-Range: ${value}`);
  }
  if (m[3] !== undefined && m[3] !== '*' && Number(m[3]) <= end) {
    throw invalidRange(`Content-Range ${value} ends beyond the total it names`);
  }
  return { start, length: end - start + 1 };
}

/**
 * The Content-Range of a request that carries a chunk (PATCH, or a closing PUT), held to its Content-Length: a range
 * that does not cover exactly the bytes sent is refused before any of them is read.
 */
export function chunkRange(request: FastifyRequest): { start: number; length: number } | undefined {
  const range = parseContentRange(request.headers['content-range']);
  const length = contentLength(request);
  if (range && length !== undefined && range.length !== length) {
    throw invalidRange(`Content-Range covers ${range.length} bytes but Content-Length is ${length}`);
  }
  return range;
}

function invalidRange(message: string): OciError {
  return new OciError(OciErrorCode.BLOB_UPLOAD_INVALID, message, undefined, 416);
}

/** A blob GET's Range header against a blob of `size` bytes: the slice to send, or null for the whole blob. */
export function parseRange(value: string | undefined, size: number): { start: number; end: number } | null {
  if (value === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === '' && m[2] === '')) {
    // Several ranges, or units other than bytes: serve the whole blob, which RFC 9110 allows.
    if (/^bytes=/.test(value.trim()) && !value.includes(',')) throw unsatisfiable(size);
    return null;
  }
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw unsatisfiable(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) throw unsatisfiable(size);
  }
  if (start >= size) throw unsatisfiable(size);
  return { start, end };
}

function unsatisfiable(size: number): OciError {
  return new OciError(OciErrorCode.BLOB_UNKNOWN, 'requested range is not satisfiable', { size }, 416);
}

/** `n` and `last` of a paginated list. `n` above `max` is clamped: the Link header leads to the rest. */
export function parsePagination(
  query: Record<string, string | string[] | undefined>,
  defaultSize: number,
  max: number,
): { n: number; last?: string } {
  const rawN = query.n;
  const rawLast = query.last;
  if (Array.isArray(rawN) || Array.isArray(rawLast)) {
    throw new OciError(OciErrorCode.PAGINATION_NUMBER_INVALID, 'n and last may be given once');
  }
  let n = defaultSize;
  if (rawN !== undefined) {
    if (!/^\d+$/.test(rawN)) {
      throw new OciError(OciErrorCode.PAGINATION_NUMBER_INVALID, 'n must be a non-negative integer', { n: rawN });
    }
    n = Math.min(Number(rawN), max);
  }
  return rawLast !== undefined && rawLast !== '' ? { n, last: rawLast } : { n };
}

export function sendError(reply: FastifyReply, error: OciError, isHead: boolean): FastifyReply {
  reply.code(error.status).header('X-Content-Type-Options', 'nosniff');
  if (isHead) return reply.send();
  return reply.type('application/json').send(Buffer.from(JSON.stringify(error.toJSON())));
}

export function queryOf(request: FastifyRequest): Record<string, string | string[] | undefined> {
  return request.query as Record<string, string | string[] | undefined>;
}

export function single(query: Record<string, string | string[] | undefined>, key: string): string | undefined {
  const value = query[key];
  if (Array.isArray(value)) {
    throw new OciError(OciErrorCode.UNSUPPORTED, `query parameter ${key} may be given only once`, undefined, 400);
  }
  return value;
}

/**
 * Fastify's `frameworkErrors` for a server of the registry: what its router refuses before any route runs (a path
 * whose percent-encoding does not decode, a path segment past the router's limit) answers in the OCI envelope. No
 * valid repository name holds either, so both are NAME_INVALID.
 */
export const registryFrameworkErrors: NonNullable<FastifyServerOptions['frameworkErrors']> = (
  error,
  request,
  reply,
) => {
  reply.header('X-Request-Id', request.id).header(API_VERSION_HEADER, API_VERSION);
  sendError(
    reply,
    new OciError(
      OciErrorCode.NAME_INVALID,
      error.code === 'FST_ERR_BAD_URL'
        ? 'the request path holds an invalid percent-encoding'
        : 'the request path is not a valid registry path',
      undefined,
      400,
    ),
    request.method === 'HEAD',
  );
};
