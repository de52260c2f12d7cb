import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common';
import { QuerySyntaxError } from '@wharf/db';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { ApiError, type ApiErrorCode, errorBody } from '../errors/api-error.js';
import { UNAVAILABLE_RETRY_AFTER_SECONDS, isDependencyUnavailable } from '../errors/unavailable.js';

const STATUS_CODES: Record<number, ApiErrorCode> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  412: 'PRECONDITION',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_ENTITY',
  429: 'TOO_MANY_REQUESTS',
};

interface FastifyError {
  statusCode?: number;
  code?: string;
  message: string;
}

function isClientFastifyError(error: unknown): error is FastifyError {
  const status = (error as FastifyError | undefined)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * What of an unexpected error goes to the log: a failed query carries its parameters (passwords' hashes, robot
 * salts…), which must never be written anywhere, so only its message, code and statement are kept.
 */
function loggable(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const { name, message, stack } = error;
  const code = (error as { code?: unknown }).code;
  const query = (error as { query?: unknown }).query;
  return { name, message, stack, ...(code === undefined ? {} : { code }), ...(query === undefined ? {} : { query }) };
}

/**
 * Every error of the API in Harbor's envelope. A 5xx never carries internals: the message names the request id,
 * and the error itself goes to the log under that id.
 */
@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    let status: number;
    let code: string;
    let message: string;
    let headers: Record<string, string> = {};
    if (error instanceof ApiError) {
      ({ status, code, message, headers } = error);
    } else if (error instanceof QuerySyntaxError) {
      status = 400;
      code = 'BAD_REQUEST';
      message = error.message;
    } else if (error instanceof HttpException) {
      status = error.getStatus();
      code = STATUS_CODES[status] ?? (status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST');
      message = status === 404 ? `no route for ${request.method} ${request.url.split('?')[0]}` : error.message;
    } else if (isClientFastifyError(error)) {
      // Body parser and similar framework errors: the client sent something unreadable.
      status = error.statusCode ?? 400;
      code = STATUS_CODES[status] ?? 'BAD_REQUEST';
      message = error.message;
    } else if (isDependencyUnavailable(error)) {
      // PostgreSQL restarting or Redis away: nothing is wrong with the request, and it may succeed in a moment.
      status = 503;
      code = 'SERVICE_UNAVAILABLE';
      message = `a service Wharf depends on is unavailable for a moment; retry shortly (request id ${request.id})`;
      headers = { 'Retry-After': String(UNAVAILABLE_RETRY_AFTER_SECONDS) };
      request.log.warn({ err: loggable(error) }, 'dependency unavailable');
    } else {
      status = 500;
      code = 'INTERNAL_SERVER_ERROR';
      message = `internal error; the log has the details under request id ${request.id}`;
      request.log.error({ err: loggable(error) }, 'unhandled error');
    }
    void reply
      .status(status)
      .headers(headers)
      .header('content-type', 'application/json; charset=utf-8')
      .send(errorBody(code, message));
  }
}
