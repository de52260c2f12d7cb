import 'reflect-metadata';
import { STATUS_CODES } from 'node:http';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { PROJECT_ROLES, projectRoleName, publicProjectAllows, roleAllows } from '@wharf/auth';
import { z } from 'zod';
import { SESSION_COOKIE } from '../services/session.service.js';
import { ENDPOINT_METADATA, type EndpointAccess, type EndpointOptions, JSON_BODY_TYPES } from './endpoint.decorator.js';
import {
  HTTP_METHODS,
  type HttpMethod,
  type JsonSchema,
  type OpenApiDocument,
  type OpenApiHeader,
  type OpenApiOperation,
  type OpenApiParameter,
  type OpenApiPathItem,
  type OpenApiReference,
  type OpenApiResponse,
  type SecurityRequirement,
} from './openapi.types.js';

/** A class decorated with @Controller. */
export type ControllerClass = abstract new (...args: never[]) => unknown;

/** One route as Nest will mount it, with the options of its @Endpoint. */
export interface RouteInfo {
  method: HttpMethod;
  /** OpenAPI path template: `/api/v2.0/projects/{project_name_or_id}`. */
  path: string;
  /** `ProjectController.get`, for messages. */
  handler: string;
  endpoint: EndpointOptions;
}

const SCHEMA_REF = '#/components/schemas/';
const RESPONSE_REF = '#/components/responses/';
const ERRORS_SCHEMA = 'Errors';
const UNSAFE_METHODS: ReadonlySet<HttpMethod> = new Set(['post', 'put', 'patch', 'delete']);
const CSRF_HEADER_NAME = 'X-Harbor-CSRF-Token';

const METHODS_BY_REQUEST_METHOD: Partial<Record<RequestMethod, HttpMethod>> = {
  [RequestMethod.GET]: 'get',
  [RequestMethod.POST]: 'post',
  [RequestMethod.PUT]: 'put',
  [RequestMethod.DELETE]: 'delete',
  [RequestMethod.PATCH]: 'patch',
  [RequestMethod.OPTIONS]: 'options',
  [RequestMethod.HEAD]: 'head',
};

/** What clients need to know of the response headers the routes name. */
const KNOWN_HEADERS: Record<string, OpenApiHeader> = {
  'Cache-Control': { description: 'Caching directives for the response', schema: { type: 'string' } },
  'Content-Disposition': {
    description: 'How a browser saves the body: as an attachment, with the file name it gives',
    schema: { type: 'string' },
  },
  Link: {
    description: 'Links to the previous and next pages of the list (RFC 8288, rel="prev"/"next")',
    schema: { type: 'string' },
  },
  Location: { description: 'The path of the created resource', schema: { type: 'string' } },
  'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer' } },
  'Set-Cookie': { description: `The portal session cookie (${SESSION_COOKIE})`, schema: { type: 'string' } },
  [CSRF_HEADER_NAME]: {
    description: `The token to send in ${CSRF_HEADER_NAME} with every change made with the session cookie`,
    schema: { type: 'string' },
  },
  'X-Request-Id': {
    description: 'The id of the request, as in the server log; quote it when reporting an error',
    schema: { type: 'string' },
  },
  'X-Total-Count': {
    description: 'The number of items in the whole list, over all pages',
    schema: { type: 'integer' },
  },
};

function headerObject(name: string): OpenApiHeader {
  return KNOWN_HEADERS[name] ?? { description: `The ${name} header`, schema: { type: 'string' } };
}

/** Nest path (`projects/:project_name_or_id`) to an OpenAPI template (`/projects/{project_name_or_id}`). */
export function toOpenApiPath(...parts: string[]): string {
  const joined = `/${parts.join('/')}`.replace(/\/{2,}/g, '/');
  const trimmed = joined.length > 1 ? joined.replace(/\/$/, '') : joined;
  if (/[{}()?+]/.test(trimmed)) {
    throw new Error(`route path ${trimmed} uses syntax the OpenAPI document cannot express (only :name and *name)`);
  }
  return trimmed.replace(/[:*]([A-Za-z_$][A-Za-z0-9_$]*)/g, '{$1}');
}

/** The parameter names of an OpenAPI path template, in order. */
export function pathParameterNames(path: string): string[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1] ?? '');
}

function pathsOf(metadata: unknown): string[] {
  if (metadata === undefined) return [''];
  if (typeof metadata === 'string') return [metadata];
  if (Array.isArray(metadata) && metadata.every((item) => typeof item === 'string')) return metadata;
  throw new Error(`route path metadata ${JSON.stringify(metadata)} is not a path or a list of paths`);
}

function methodNames(controller: ControllerClass): string[] {
  const names = new Set<string>();
  let prototype = controller.prototype as object | null;
  while (prototype !== null && prototype !== Object.prototype) {
    for (const name of Object.getOwnPropertyNames(prototype)) if (name !== 'constructor') names.add(name);
    prototype = Object.getPrototypeOf(prototype) as object | null;
  }
  return [...names];
}

/** Every route of the controllers, read from the metadata Nest's decorators left on them. */
export function collectRoutes(controllers: readonly ControllerClass[]): RouteInfo[] {
  const routes: RouteInfo[] = [];
  const seen = new Map<string, string>();
  for (const controller of controllers) {
    const prefixes = pathsOf(Reflect.getMetadata(PATH_METADATA, controller));
    const prototype = controller.prototype as Record<string, unknown>;
    for (const name of methodNames(controller)) {
      const descriptor = Object.getOwnPropertyDescriptor(prototype, name) ?? { value: prototype[name] };
      const handler = descriptor.value as unknown;
      if (typeof handler !== 'function') continue;
      const requestMethod = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (requestMethod === undefined) continue;
      const label = `${controller.name}.${name}`;
      const method = METHODS_BY_REQUEST_METHOD[requestMethod];
      if (!method)
        throw new Error(`${label} uses HTTP method ${RequestMethod[requestMethod]}, which is not documented`);
      const endpoint = Reflect.getMetadata(ENDPOINT_METADATA, handler) as EndpointOptions | undefined;
      if (!endpoint) throw new Error(`${label} is a route without @Endpoint`);
      for (const prefix of prefixes) {
        for (const suffix of pathsOf(Reflect.getMetadata(PATH_METADATA, handler))) {
          const path = toOpenApiPath(prefix, suffix);
          const key = `${method.toUpperCase()} ${path}`;
          const previous = seen.get(key);
          if (previous) throw new Error(`${key} is declared twice: by ${previous} and by ${label}`);
          seen.set(key, label);
          routes.push({ method, path, handler: label, endpoint });
        }
      }
    }
  }
  return routes;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Zod writes the bounds of a safe integer and the pattern behind each string format; both only add noise. */
function tidy(json: JsonSchema): void {
  if (json.type === 'integer' && json.minimum === Number.MIN_SAFE_INTEGER) delete json.minimum;
  if (json.type === 'integer' && json.maximum === Number.MAX_SAFE_INTEGER) delete json.maximum;
  if (typeof json.format === 'string' && typeof json.pattern === 'string') delete json.pattern;
}

function rewriteRefs(node: unknown, names: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(node)) return node.map((item) => rewriteRefs(item, names));
  if (!isRecord(node)) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string' && value.startsWith('#/$defs/')) {
      const name = names.get(value.slice('#/$defs/'.length));
      if (name === undefined) throw new Error(`schema reference ${value} has no definition`);
      out[key] = `${SCHEMA_REF}${name}`;
    } else {
      out[key] = rewriteRefs(value, names);
    }
  }
  return out;
}

/**
 * Turns zod schemas into the document's JSON Schemas. A schema given an id (`.meta({ id: 'Project' })`) becomes a
 * named component referenced wherever it is used; any other schema is written inline. A request may accept a
 * different shape than the response of the same schema (defaults, transforms): that input form is named
 * `<id>Input`.
 */
class SchemaCollector {
  readonly components = new Map<string, { json: string; schema: JsonSchema; usedBy: string }>();
  private readonly outputIds = new Map<string, string>();

  convert(schema: z.ZodType, io: 'input' | 'output', usedBy: string): JsonSchema {
    const converted = z.toJSONSchema(schema, {
      target: 'draft-2020-12',
      io,
      unrepresentable: 'any',
      override: ({ jsonSchema }) => tidy(jsonSchema as JsonSchema),
    }) as JsonSchema;
    const defs = isRecord(converted.$defs) ? converted.$defs : {};
    delete converted.$schema;
    delete converted.$defs;

    const names = new Map<string, string>();
    let anonymous = 0;
    for (const [id, def] of Object.entries(defs)) {
      const json = JSON.stringify(def);
      // Zod names recursive schemas without an id `__schema0`, …: they get a name from where they are used.
      let name = id.startsWith('__schema') ? `${usedBy}Schema${anonymous++}` : id;
      if (io === 'output') this.outputIds.set(id, json);
      else if (this.outputIds.has(id) && this.outputIds.get(id) !== json) name = `${id}Input`;
      names.set(id, name);
    }
    for (const [id, def] of Object.entries(defs)) {
      const name = names.get(id) ?? id;
      const schemaJson = rewriteRefs(def, names) as JsonSchema;
      const json = JSON.stringify(schemaJson);
      const existing = this.components.get(name);
      if (existing && existing.json !== json) {
        throw new Error(
          `two different schemas are named ${name} (used by ${existing.usedBy} and by ${usedBy}); give them distinct ids`,
        );
      }
      if (!existing) this.components.set(name, { json, schema: schemaJson, usedBy });
    }
    return rewriteRefs(converted, names) as JsonSchema;
  }

  /** The schema itself when `schema` is a reference to a component. */
  resolve(schema: JsonSchema): JsonSchema {
    const ref = schema.$ref;
    if (typeof ref !== 'string' || !ref.startsWith(SCHEMA_REF)) return schema;
    const component = this.components.get(ref.slice(SCHEMA_REF.length));
    if (!component) throw new Error(`schema reference ${ref} has no component`);
    return component.schema;
  }
}

function objectFields(
  collector: SchemaCollector,
  schema: JsonSchema,
): { name: string; schema: JsonSchema; required: boolean }[] {
  const resolved = collector.resolve(schema);
  const properties = isRecord(resolved.properties) ? resolved.properties : {};
  const required = new Set(Array.isArray(resolved.required) ? resolved.required : []);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    schema: isRecord(property) ? property : {},
    required: required.has(name),
  }));
}

function parameter(
  location: OpenApiParameter['in'],
  name: string,
  schema: JsonSchema,
  required: boolean,
): OpenApiParameter {
  const { description, ...rest } = schema;
  return {
    name,
    in: location,
    required,
    ...(typeof description === 'string' ? { description } : {}),
    schema: rest,
  };
}

function roleList(resource: string, action: string): string {
  const roles = PROJECT_ROLES.filter((role) => roleAllows(role, resource, action)).map(projectRoleName);
  return roles.length > 0 ? roles.join(', ') : 'none';
}

/** The permission a route requires, in words, for the operation's description. */
export function describeAccess(access: EndpointAccess): string {
  switch (access.kind) {
    case 'anyone':
      return 'Open to anyone, also without credentials (credentials that are given must be valid).';
    case 'authenticated':
      return 'Requires an authenticated user or robot account; what it may see or change is checked per item.';
    case 'sysadmin':
      return 'Requires a system administrator.';
    case 'system':
      return (
        `Requires the system permission \`${access.resource}:${access.action}\`: system administrators, and ` +
        'system robot accounts granted it.'
      );
    case 'project': {
      const permission = `${access.resource}:${access.action}`;
      const visitors = publicProjectAllows(access.resource, access.action)
        ? ' On a public project anyone may, also without credentials.'
        : '';
      return (
        `Requires the permission \`${permission}\` in the project named by \`${access.param}\` ` +
        `(a name, or an id unless X-Is-Resource-Name is true). Project roles holding it: ` +
        `${roleList(access.resource, access.action)}; also system administrators and robot accounts granted it ` +
        `in the project.${visitors}`
      );
    }
  }
}

function securityOf(access: EndpointAccess, method: HttpMethod): SecurityRequirement[] {
  const session: SecurityRequirement = UNSAFE_METHODS.has(method) ? { session: [], csrf: [] } : { session: [] };
  const authenticated = [{ basicAuth: [] }, session];
  return access.kind === 'anyone' ? [{}, ...authenticated] : authenticated;
}

function statusName(status: number): string {
  const text = STATUS_CODES[status];
  if (!text) throw new Error(`${status} is not an HTTP status`);
  return text.replace(/[^A-Za-z0-9 ]/g, '').replace(/(?:^|\s+)(\w)/g, (_m, c: string) => c.toUpperCase());
}

function errorStatuses(route: RouteInfo): number[] {
  const { endpoint, method } = route;
  const statuses = new Set(endpoint.errors ?? []);
  // Wrong credentials are refused on every route, before its own rules.
  statuses.add(401);
  statuses.add(500);
  if (endpoint.access.kind !== 'anyone' || UNSAFE_METHODS.has(method)) statuses.add(403);
  if (endpoint.params || endpoint.query || endpoint.body) statuses.add(400);
  if (endpoint.body) statuses.add(415);
  if (endpoint.access.kind === 'project') statuses.add(404);
  return [...statuses].sort((a, b) => a - b);
}

function errorResponse(status: number): OpenApiResponse {
  const headers: Record<string, OpenApiHeader> = { 'X-Request-Id': headerObject('X-Request-Id') };
  if (status === 429) headers['Retry-After'] = headerObject('Retry-After');
  return {
    description: STATUS_CODES[status] ?? String(status),
    headers,
    content: { 'application/json': { schema: { $ref: `${SCHEMA_REF}${ERRORS_SCHEMA}` } } },
  };
}

function bodyContent(endpoint: EndpointOptions, schema: JsonSchema): Record<string, { schema: JsonSchema }> {
  return Object.fromEntries((endpoint.bodyTypes ?? JSON_BODY_TYPES).map((type) => [type, { schema }]));
}

function mediaTypeOf(schema: JsonSchema): string {
  return schema.type === 'string' ? 'text/plain' : 'application/json';
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Where the API's description lives in the document. */
export const OPENAPI_INFO: OpenApiDocument['info'] = {
  title: 'Wharf API',
  version: '2.0',
  description:
    "Wharf's control plane: Harbor's REST API v2.0 (same paths, operation ids and JSON field names), the Docker " +
    'token service and the portal sessions. Errors answer `{"errors":[{"code","message"}]}`. Lists take `page` and ' +
    '`page_size`, answer the total in X-Total-Count and the neighbouring pages in Link.',
  license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
};

const ErrorsSchema = z.object({
  errors: z.array(
    z.object({
      code: z.string().describe('A stable error code such as NOT_FOUND, CONFLICT or UNAUTHORIZED'),
      message: z.string().describe('What went wrong, in words a user understands'),
    }),
  ),
});

/** The OpenAPI 3.1 document of every route of the controllers, the same every time for the same code. */
export function generateOpenApiDocument(controllers: readonly ControllerClass[]): OpenApiDocument {
  const routes = collectRoutes(controllers);
  const collector = new SchemaCollector();
  const responseSchemas = new Map<RouteInfo, JsonSchema>();
  // Responses first, so a request's different form of the same named schema is the one renamed.
  for (const route of routes) {
    const schema = route.endpoint.response.schema;
    if (schema) responseSchemas.set(route, collector.convert(schema, 'output', route.endpoint.operationId));
  }

  const paths: Record<string, OpenApiPathItem> = {};
  const errorStatusesUsed = new Set<number>();
  const tags = new Set<string>();
  for (const route of routes) {
    const { endpoint, method, path } = route;
    const id = endpoint.operationId;
    const parameters: OpenApiParameter[] = [];
    if (endpoint.params) {
      const fields = objectFields(collector, collector.convert(endpoint.params, 'input', `${id}Params`));
      const byName = new Map(fields.map((field) => [field.name, field]));
      // In the order the path names them; a declared parameter the path lacks is kept, for the checks to find.
      for (const name of pathParameterNames(path)) {
        const field = byName.get(name);
        if (field) parameters.push(parameter('path', name, field.schema, true));
        byName.delete(name);
      }
      for (const field of byName.values()) parameters.push(parameter('path', field.name, field.schema, true));
    }
    if (endpoint.query) {
      for (const field of objectFields(collector, collector.convert(endpoint.query, 'input', `${id}Query`))) {
        parameters.push(parameter('query', field.name, field.schema, field.required));
      }
    }
    for (const [name, description] of Object.entries(endpoint.headers ?? {})) {
      parameters.push({ name, in: 'header', required: false, description, schema: { type: 'string' } });
    }

    const status = endpoint.status ?? 200;
    const success: OpenApiResponse = { description: endpoint.response.description };
    if (endpoint.response.headers?.length) {
      success.headers = Object.fromEntries(endpoint.response.headers.map((name) => [name, headerObject(name)]));
    }
    const responseSchema = responseSchemas.get(route);
    if (responseSchema) {
      success.content = { [endpoint.response.mediaType ?? mediaTypeOf(responseSchema)]: { schema: responseSchema } };
    }
    const responses: Record<string, OpenApiResponse | OpenApiReference> = { [String(status)]: success };
    for (const errorStatus of errorStatuses(route)) {
      if (errorStatus === status) continue;
      errorStatusesUsed.add(errorStatus);
      responses[String(errorStatus)] = { $ref: `${RESPONSE_REF}${statusName(errorStatus)}` };
    }

    const operation: OpenApiOperation = {
      operationId: id,
      summary: endpoint.summary,
      description: describeAccess(endpoint.access),
      tags: [endpoint.tag],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(endpoint.body
        ? {
            requestBody: {
              required: endpoint.bodyOptional !== true,
              content: bodyContent(endpoint, collector.convert(endpoint.body, 'input', `${id}Body`)),
            },
          }
        : {}),
      responses: sortKeys(responses),
      security: securityOf(endpoint.access, method),
      'x-wharf-access': endpoint.access,
    };
    tags.add(endpoint.tag);
    const item = (paths[path] ??= {});
    item[method] = operation;
  }

  const errorsJson = collector.convert(ErrorsSchema, 'output', ERRORS_SCHEMA);
  const schemas: Record<string, JsonSchema> = { [ERRORS_SCHEMA]: errorsJson };
  for (const [name, component] of collector.components) {
    if (name === ERRORS_SCHEMA) throw new Error(`the schema id ${ERRORS_SCHEMA} is reserved for the error envelope`);
    schemas[name] = component.schema;
  }
  const orderedPaths = Object.fromEntries(
    Object.entries(sortKeys(paths)).map(([path, item]) => [
      path,
      Object.fromEntries(HTTP_METHODS.filter((m) => item[m]).map((m) => [m, item[m]])) as OpenApiPathItem,
    ]),
  );
  return {
    openapi: '3.1.0',
    info: OPENAPI_INFO,
    tags: [...tags].sort().map((name) => ({ name })),
    paths: orderedPaths,
    components: {
      schemas: sortKeys(schemas),
      responses: Object.fromEntries(
        [...errorStatusesUsed].sort((a, b) => a - b).map((status) => [statusName(status), errorResponse(status)]),
      ),
      securitySchemes: {
        basicAuth: {
          type: 'http',
          scheme: 'basic',
          description: 'A user name and password, or a robot account name (robot$…) and secret',
        },
        csrf: {
          type: 'apiKey',
          in: 'header',
          name: CSRF_HEADER_NAME,
          description: `With the session cookie, changes also send the token the last response gave in ${CSRF_HEADER_NAME}`,
        },
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description: 'The portal session opened by POST /c/login',
        },
      },
    },
  };
}

/**
 * What is wrong with a document, one sentence each: operations without an id, ids used twice, path parameters
 * the route does not declare (or declares but the path lacks), responses without a success status.
 */
export function openApiProblems(document: OpenApiDocument): string[] {
  const problems: string[] = [];
  const ids = new Map<string, string>();
  for (const [path, item] of Object.entries(document.paths)) {
    const templateNames = pathParameterNames(path);
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const route = `${method.toUpperCase()} ${path}`;
      if (!operation.operationId) problems.push(`${route} has no operationId`);
      const previous = ids.get(operation.operationId);
      if (previous) problems.push(`${route} repeats the operationId ${operation.operationId} of ${previous}`);
      ids.set(operation.operationId, route);
      if (!operation.summary) problems.push(`${route} has no summary`);
      const declared = (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
      for (const name of templateNames) {
        if (!declared.includes(name)) problems.push(`${route}: path parameter {${name}} is not in its params schema`);
      }
      for (const name of declared) {
        if (!templateNames.includes(name)) problems.push(`${route}: params schema declares ${name}, the path has none`);
      }
      if (new Set(templateNames).size !== templateNames.length) problems.push(`${route} names a path parameter twice`);
      const statuses = Object.keys(operation.responses).map(Number);
      if (!statuses.some((status) => status >= 200 && status < 300)) problems.push(`${route} has no success response`);
      const access = operation['x-wharf-access'];
      if (access.kind === 'project' && !templateNames.includes(access.param)) {
        problems.push(`${route}: its access names the project parameter ${access.param}, which the path lacks`);
      }
    }
  }
  return problems;
}

/** Routes as `METHOD /path`, sorted, with their operation: how tests walk the document. */
export function documentOperations(
  document: OpenApiDocument,
): { method: HttpMethod; path: string; operation: OpenApiOperation }[] {
  const out: { method: HttpMethod; path: string; operation: OpenApiOperation }[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (operation) out.push({ method, path, operation });
    }
  }
  return out;
}
