import { type IncomingMessage, STATUS_CODES, type ServerResponse } from 'node:http';
import { type Socket } from 'node:net';
import { type Duplex } from 'node:stream';
import { OciError, OciErrorCode } from '@wharf/oci';
import { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { errorBody } from '../errors/api-error.js';
import { isRegistryPath } from '../registry/registry.mount.js';

/**
 * The origin-form (`/path?query`) of a request target. An absolute-form target (`http://host/path`), which HTTP/1.1
 * servers must accept, is routed by its path as RFC 9112 asks, so it reaches the API or the registry as any other
 * request does rather than falling through to the portal. Other forms (`*`, garbage) are returned as they are, for
 * the router to refuse.
 */
export function originForm(target: string): string {
  if (target.startsWith('/')) return target;
  const match = /^https?:\/\/[^/?#]*(.*)$/i.exec(target);
  if (!match) return target;
  const rest = match[1];
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/**
 * Fastify's `frameworkErrors` for the API: a path whose percent-encoding does not decode, or a path parameter past
 * the router's limit, answers in the API's envelope.
 */
export function apiFrameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const message =
    error.code === 'FST_ERR_BAD_URL'
      ? 'the request path holds an invalid percent-encoding'
      : 'a segment of the request path is longer than the server reads';
  void reply
    .code(400)
    .header('X-Request-Id', request.id)
    .header('X-Content-Type-Options', 'nosniff')
    .type('application/json; charset=utf-8')
    .send(request.method === 'HEAD' ? undefined : errorBody('BAD_REQUEST', message));
}

interface ClientError extends Error {
  code?: string;
  rawPacket?: unknown;
}

/** Status and message for what Node's HTTP parser refused. */
function classify(error: ClientError): { status: number; message: string } {
  switch (error.code ?? '') {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: 'the request headers are too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, message: 'the request did not arrive in time' };
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return { status: 400, message: 'the Content-Length header is not valid' };
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_INVALID_CHUNK_SIZE':
      return { status: 400, message: 'the chunked request body is malformed' };
    default:
      return { status: 400, message: 'the request is not well-formed HTTP/1.1' };
  }
}

const API_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  417: 'EXPECTATION_FAILED',
  431: 'REQUEST_HEADER_FIELDS_TOO_LARGE',
};

/** An error body in the envelope of the API a request target is for: the OCI one on /v2, the API's elsewhere. */
function errorEnvelope(target: string, status: number, message: string): string {
  if (!isRegistryPath(originForm(target)))
    return JSON.stringify(errorBody(API_CODES[status] ?? 'BAD_REQUEST', message));
  const ociCode =
    status === 400 && /Content-Length/.test(message) ? OciErrorCode.SIZE_INVALID : OciErrorCode.UNSUPPORTED;
  return JSON.stringify(new OciError(ociCode, message, undefined, status).toJSON());
}

const ERROR_HEADERS = { 'Content-Type': 'application/json; charset=utf-8', 'X-Content-Type-Options': 'nosniff' };

/** A whole error answer, written on a socket where no response object exists. */
export function rawErrorResponse(requestLine: string, status: number, message: string): string {
  const [method = '', target = ''] = requestLine.split(' ');
  const body = method === 'HEAD' ? '' : errorEnvelope(target, status, message);
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    ...Object.entries(ERROR_HEADERS).map(([name, value]) => `${name}: ${value}`),
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/**
 * An Expect other than 100-continue, which Node answers 417 with no body unless told otherwise: the same status, in
 * the envelope of the API the request was for.
 */
export function refuseExpectation(request: IncomingMessage, response: ServerResponse): void {
  const message = `Expect: ${request.headers.expect ?? ''} is not supported; only 100-continue is`;
  const body = request.method === 'HEAD' ? '' : errorEnvelope(request.url ?? '/', 417, message);
  response.writeHead(417, { ...ERROR_HEADERS, 'Content-Length': Buffer.byteLength(body) }).end(body);
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses before any request exists (a bad Content-Length,
 * headers past the limit, a line that is not HTTP) still gets a well-formed answer in the right envelope, then the
 * connection is closed, as it must be once the parser has lost its place in the stream.
 */
export function clientErrorHandler(this: FastifyInstance, error: ClientError, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, message } = classify(error);
  this.log.debug({ err: error }, 'refused a malformed request');
  // A response already under way on this connection cannot be followed by another one.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const packet = Buffer.isBuffer(error.rawPacket) ? error.rawPacket.toString('latin1') : '';
    const requestLine = packet.split('\r\n', 1)[0];
    socket.write(rawErrorResponse(requestLine, status, message));
  }
  socket.destroy(error);
}

/** CONNECT asks a proxy for a tunnel, which Wharf is not: 405 in the API's envelope, instead of a dropped connection. */
export function refuseConnect(request: IncomingMessage, socket: Duplex): void {
  socket.end(rawErrorResponse(`CONNECT ${request.url ?? ''}`, 405, 'CONNECT is not supported'));
}
