import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { baseMediaType } from '@wharf/oci';
import { type FastifyRequest } from 'fastify';
import { type Observable, map } from 'rxjs';
import { z } from 'zod';
import { ApiError } from '../errors/api-error.js';
import {
  ENDPOINT_METADATA,
  type EndpointOptions,
  JSON_BODY_TYPES,
  VALIDATED_INPUT,
  type ValidatedInput,
} from '../openapi/endpoint.decorator.js';
import { Paged, WithHeaders } from './responses.js';

function describeIssues(where: string, error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return `${where}${path ? `.${path}` : ''}: ${issue.message}`;
    })
    .join('; ');
}

function parse(where: string, schema: z.ZodType | undefined, value: unknown): unknown {
  if (!schema) return value;
  const result = schema.safeParse(value);
  if (!result.success) throw ApiError.badRequest(describeIssues(where, result.error));
  return result.data;
}

/**
 * A body in another media type than the route takes is refused, even when its parser read it into the same fields:
 * a form that a page on another site can post must not be able to create or change anything.
 */
function checkBodyType(request: FastifyRequest, accepted: readonly string[]): void {
  const type = baseMediaType(request.headers['content-type']);
  if (type === undefined || !accepted.includes(type)) {
    throw new ApiError(
      'UNSUPPORTED_MEDIA_TYPE',
      `the request body must be ${accepted.join(' or ')}, not ${type ?? 'untyped'}`,
    );
  }
}

export interface ValidationOptions {
  /** Also check every response against the route's declared schema (tests run with it, so docs stay true). */
  checkResponses: boolean;
}

export const VALIDATION_OPTIONS = Symbol('wharf.validationOptions');

/**
 * Validates a route's path parameters, query and body against its @Endpoint schemas before the handler runs; a
 * bad input answers 400 naming each bad field, and the handler never sees it.
 */
@Injectable()
export class ValidationInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly options: ValidationOptions,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const endpoint = this.reflector.get<EndpointOptions | undefined>(ENDPOINT_METADATA, context.getHandler());
    if (!endpoint) return next.handle();
    const request = context.switchToHttp().getRequest<FastifyRequest & Record<symbol, ValidatedInput>>();
    const hasBody = request.body !== undefined && request.body !== null;
    const body = endpoint.body && (hasBody || !endpoint.bodyOptional) ? endpoint.body : undefined;
    if (body && !hasBody) throw ApiError.badRequest('a JSON request body is required');
    if (body) checkBodyType(request, endpoint.bodyTypes ?? JSON_BODY_TYPES);
    request[VALIDATED_INPUT] = {
      params: parse('path', endpoint.params, request.params),
      query: parse('query', endpoint.query, request.query ?? {}),
      body: body ? parse('body', body, request.body) : undefined,
    };
    if (!this.options.checkResponses || !endpoint.response.schema) return next.handle();
    const schema = endpoint.response.schema;
    return next.handle().pipe(
      map((value: unknown) => {
        const body: unknown =
          value instanceof Paged
            ? (value.items as unknown)
            : value instanceof WithHeaders
              ? (value.body as unknown)
              : value;
        const result = schema.safeParse(body);
        if (!result.success) {
          throw new Error(
            `response of ${endpoint.operationId} does not match its schema: ${describeIssues('response', result.error)}`,
          );
        }
        return value;
      }),
    );
  }
}
