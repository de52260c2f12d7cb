import { type IncomingMessage, type ServerResponse } from 'node:http';
import { type Socket } from 'node:net';
import { type Duplex } from 'node:stream';
import { OciErrorCode } from '@wharf/oci';
import {
  type ClientError,
  type RawErrorAnswer,
  answerClientError,
  rawResponse,
  registryErrorAnswer,
  sendAnswer,
} from '@wharf/registry';
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

const API_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  417: 'EXPECTATION_FAILED',
  431: 'REQUEST_HEADER_FIELDS_TOO_LARGE',
};

const API_ERROR_HEADERS = { 'Content-Type': 'application/json; charset=utf-8', 'X-Content-Type-Options': 'nosniff' };

/** An error answer in the envelope of the API a request target is for: the OCI one on /v2, the API's elsewhere. */
function errorAnswer(
  method: string,
  target: string,
  status: number,
  message: string,
  ociCode = OciErrorCode.UNSUPPORTED,
): RawErrorAnswer {
  if (isRegistryPath(originForm(target))) return registryErrorAnswer(method, status, message, ociCode);
  const body = method === 'HEAD' ? '' : JSON.stringify(errorBody(API_CODES[status] ?? 'BAD_REQUEST', message));
  return { status, headers: API_ERROR_HEADERS, body };
}

/**
 * An Expect other than 100-continue, which Node answers 417 with no body unless told otherwise: the same status, in
 * the envelope of the API the request was for.
 */
export function refuseExpectation(request: IncomingMessage, response: ServerResponse): void {
  const message = `Expect: ${request.headers.expect ?? ''} is not supported; only 100-continue is`;
  sendAnswer(response, errorAnswer(request.method ?? '', request.url ?? '/', 417, message));
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses before any request exists still gets a well-formed
 * answer in the envelope of the API the request was for.
 */
export function clientErrorHandler(this: FastifyInstance, error: ClientError, socket: Socket): void {
  answerClientError(this.log, error, socket, (method, target, refusal) =>
    errorAnswer(method, target, refusal.status, refusal.message, refusal.ociCode),
  );
}

/** CONNECT asks a proxy for a tunnel, which Wharf is not: 405 in the API's envelope, instead of a dropped connection. */
export function refuseConnect(request: IncomingMessage, socket: Duplex): void {
  socket.end(rawResponse(errorAnswer('CONNECT', request.url ?? '', 405, 'CONNECT is not supported')));
}
