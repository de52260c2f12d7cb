import { type IncomingMessage, STATUS_CODES, type ServerResponse } from 'node:http';
import { type Socket } from 'node:net';
import { type Duplex } from 'node:stream';
import { OciError, OciErrorCode } from '@wharf/oci';
import { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { API_VERSION, API_VERSION_HEADER } from './http.js';

/** What Node's HTTP server reports for a connection whose bytes its parser refused (its `clientError` event). */
export interface ClientError extends Error {
  code?: string;
  /** The bytes the parser was reading when it gave up. */
  rawPacket?: unknown;
}

/** How to answer what the HTTP parser refused: its status, a message, and the OCI code a registry answers with. */
export interface ClientErrorRefusal {
  status: number;
  message: string;
  ociCode: OciErrorCode;
}

/** A whole error answer, written as it is on a socket where no response object exists. */
export interface RawErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function classifyClientError(error: ClientError): ClientErrorRefusal {
  switch (error.code ?? '') {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: 'the request headers are too large', ociCode: OciErrorCode.UNSUPPORTED };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, message: 'the request did not arrive in time', ociCode: OciErrorCode.UNSUPPORTED };
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return { status: 400, message: 'the Content-Length header is not valid', ociCode: OciErrorCode.SIZE_INVALID };
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_INVALID_CHUNK_SIZE':
      return { status: 400, message: 'the chunked request body is malformed', ociCode: OciErrorCode.UNSUPPORTED };
    default:
      return { status: 400, message: 'the request is not well-formed HTTP/1.1', ociCode: OciErrorCode.UNSUPPORTED };
  }
}

/** The answer in the OCI envelope, with the headers every registry answer carries; a HEAD gets no body. */
export function registryErrorAnswer(
  method: string,
  status: number,
  message: string,
  code: OciErrorCode = OciErrorCode.UNSUPPORTED,
): RawErrorAnswer {
  return {
    status,
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      'X-Content-Type-Options': 'nosniff',
      [API_VERSION_HEADER]: API_VERSION,
    },
    body: method === 'HEAD' ? '' : JSON.stringify(new OciError(code, message, undefined, status).toJSON()),
  };
}

/** The bytes of an answer that closes its connection. */
export function rawResponse(answer: RawErrorAnswer): string {
  return [
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? 'Error'}`,
    ...Object.entries(answer.headers).map(([name, value]) => `${name}: ${value}`),
    `Content-Length: ${Buffer.byteLength(answer.body)}`,
    'Connection: close',
    '',
    answer.body,
  ].join('\r\n');
}

/**
 * Answers what Node's HTTP parser refused before any request existed (a bad Content-Length, headers past the limit, a
 * line that is not HTTP) with the answer `answerFor` gives for the request's method and target, then closes the
 * connection, as it must be once the parser has lost its place in the stream.
 */
export function answerClientError(
  log: FastifyBaseLogger,
  error: ClientError,
  socket: Socket,
  answerFor: (method: string, target: string, refusal: ClientErrorRefusal) => RawErrorAnswer,
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  log.debug({ err: error }, 'refused a malformed request');
  // A response already under way on this connection cannot be followed by another one.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const packet = Buffer.isBuffer(error.rawPacket) ? error.rawPacket.toString('latin1') : '';
    const [method = '', target = ''] = packet.split('\r\n', 1)[0].split(' ');
    socket.write(rawResponse(answerFor(method, target, classifyClientError(error))));
  }
  socket.destroy(error);
}

/**
 * Fastify's `clientErrorHandler` for a server of the registry alone: what the HTTP parser refuses is answered in the
 * OCI envelope, as every other refusal of the registry is.
 */
export function registryClientErrorHandler(this: FastifyInstance, error: ClientError, socket: Socket): void {
  answerClientError(this.log, error, socket, (method, _target, refusal) =>
    registryErrorAnswer(method, refusal.status, refusal.message, refusal.ociCode),
  );
}

/**
 * Node's `checkExpectation` listener for a server of the registry alone: an Expect other than 100-continue, which
 * Node answers 417 with no body unless told otherwise, gets the same status in the OCI envelope.
 */
export function registryRefuseExpectation(request: IncomingMessage, response: ServerResponse): void {
  const answer = registryErrorAnswer(
    request.method ?? '',
    417,
    `Expect: ${request.headers.expect ?? ''} is not supported; only 100-continue is`,
  );
  sendAnswer(response, answer);
}

/** Sends an error answer through a response object that no framework handles. */
export function sendAnswer(response: ServerResponse, answer: RawErrorAnswer): void {
  response
    .writeHead(answer.status, { ...answer.headers, 'Content-Length': Buffer.byteLength(answer.body) })
    .end(answer.body);
}

/**
 * Node's `connect` listener for a server of the registry alone: CONNECT asks a proxy for a tunnel, which a registry is
 * not; 405 in the OCI envelope instead of a dropped connection.
 */
export function registryRefuseConnect(_request: IncomingMessage, socket: Duplex): void {
  socket.end(rawResponse(registryErrorAnswer('CONNECT', 405, 'CONNECT is not supported')));
}
