import { HttpCode, SetMetadata, applyDecorators, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { type z } from 'zod';
import { type Action, type Resource } from '@wharf/auth';

/**
 * Who may call a route. `project` routes name the route parameter that holds the project (a name or an id, as
 * Harbor's `project_name_or_id` with its `X-Is-Resource-Name` header); the guard loads the project and checks
 * the permission in it.
 */
export type EndpointAccess =
  | { kind: 'anyone' }
  | { kind: 'authenticated' }
  | { kind: 'sysadmin' }
  | { kind: 'system'; resource: Resource; action: Action }
  | { kind: 'project'; resource: Resource; action: Action; param: string };

export interface EndpointResponse {
  description: string;
  /** Body schema; absent for an empty body. */
  schema?: z.ZodType;
  /** Media type of the body; by default text/plain for a string schema, application/json for any other. */
  mediaType?: string;
  /** Names of the response headers the route sets (X-Total-Count, Link, Location, …). */
  headers?: string[];
}

export interface EndpointOptions {
  /** Harbor's operationId for the same operation, so generated clients keep their method names. */
  operationId: string;
  summary: string;
  tag: string;
  access: EndpointAccess;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** The body may be left out (Harbor's optional body parameters); the handler then gets undefined. */
  bodyOptional?: boolean;
  /** Media types the body may come as; application/json only unless given (anything else answers 415). */
  bodyTypes?: readonly string[];
  /** Request headers the route reads (documented only). */
  headers?: Record<string, string>;
  /** Status of success; 200 unless given. */
  status?: number;
  response: EndpointResponse;
  /** Statuses of the errors the route may answer besides 401/403/500. */
  errors?: number[];
}

export const ENDPOINT_METADATA = 'wharf:endpoint';

export const JSON_BODY_TYPES: readonly string[] = ['application/json'];

/** Declares a route's permission, input schemas and OpenAPI description in one place. */
export function Endpoint(options: EndpointOptions): MethodDecorator {
  return applyDecorators(SetMetadata(ENDPOINT_METADATA, options), HttpCode(options.status ?? 200));
}

/** Inputs after validation against the route's schemas, kept on the request by the validation interceptor. */
export interface ValidatedInput {
  params: unknown;
  query: unknown;
  body: unknown;
}

export const VALIDATED_INPUT = Symbol('wharf.validatedInput');

function input(ctx: ExecutionContext): ValidatedInput {
  const request = ctx.switchToHttp().getRequest<Record<symbol, ValidatedInput | undefined>>();
  const validated = request[VALIDATED_INPUT];
  if (!validated) throw new Error('route has no @Endpoint: its input was not validated');
  return validated;
}

/** The route's path parameters, parsed by its `params` schema. */
export const Params = createParamDecorator((_data: unknown, ctx: ExecutionContext) => input(ctx).params);
/** The route's query string, parsed by its `query` schema. */
export const Query = createParamDecorator((_data: unknown, ctx: ExecutionContext) => input(ctx).query);
/** The route's body, parsed by its `body` schema. */
export const Body = createParamDecorator((_data: unknown, ctx: ExecutionContext) => input(ctx).body);
