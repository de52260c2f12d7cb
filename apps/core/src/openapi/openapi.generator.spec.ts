import { readFile } from 'node:fs/promises';
import { describe, expect, it } from '@jest/globals';
import { Controller, Get, Post, Put } from '@nestjs/common';
import { z } from 'zod';
import { CONTROLLERS } from '../controllers/index.js';
import { Endpoint } from './endpoint.decorator.js';
import {
  collectRoutes,
  describeAccess,
  documentOperations,
  generateOpenApiDocument,
  openApiProblems,
  toOpenApiPath,
} from './openapi.generator.js';
import { type OpenApiDocument, type OpenApiParameter, type OpenApiResponse } from './openapi.types.js';
import { OPENAPI_FILE } from './write-openapi.js';

const Label = z
  .object({ id: z.number().int(), name: z.string(), scope: z.string().default('g') })
  .meta({ id: 'Label' });

@Controller('/api/v2.0')
class SampleController {
  @Get('projects/:project_name_or_id/labels/:label_id')
  @Endpoint({
    operationId: 'getProjectLabel',
    summary: 'One label of a project',
    tag: 'label',
    access: { kind: 'project', resource: 'label', action: 'read', param: 'project_name_or_id' },
    params: z.object({ project_name_or_id: z.string(), label_id: z.string().describe('The label id') }),
    query: z.object({ page: z.string().optional(), with_detail: z.enum(['true', 'false']) }),
    headers: { 'X-Is-Resource-Name': 'true when project_name_or_id is a name' },
    response: { description: 'The label', schema: Label },
  })
  get(): void {}

  @Post('labels')
  @Endpoint({
    operationId: 'createLabel',
    summary: 'Creates a label',
    tag: 'label',
    access: { kind: 'system', resource: 'label', action: 'create' },
    body: Label,
    status: 201,
    response: { description: 'Created', headers: ['Location'] },
    errors: [409],
  })
  create(): void {}

  @Get('labels')
  @Endpoint({
    operationId: 'listLabels',
    summary: 'Lists labels',
    tag: 'label',
    access: { kind: 'anyone' },
    response: { description: 'Labels', schema: z.array(Label), headers: ['X-Total-Count', 'Link'] },
  })
  list(): void {}

  notARoute(): void {}
}

@Controller()
class BrokenController {
  @Put('things/:thing_id')
  @Endpoint({
    operationId: 'listLabels',
    summary: 'Reuses an id and forgets its parameter',
    tag: 'thing',
    access: { kind: 'authenticated' },
    params: z.object({ other: z.string() }),
    response: { description: 'Done' },
  })
  put(): void {}
}

@Controller()
class UndocumentedController {
  @Get('secret')
  handler(): void {}
}

function operation(document: OpenApiDocument, path: string, method: 'get' | 'post' | 'put') {
  const found = document.paths[path]?.[method];
  if (!found) throw new Error(`${method} ${path} is not in the document`);
  return found;
}

describe('the OpenAPI generator', () => {
  const sample = generateOpenApiDocument([SampleController]);

  it('turns Nest paths into OpenAPI templates', () => {
    expect(toOpenApiPath('/api/v2.0', 'projects/:project_name_or_id')).toBe('/api/v2.0/projects/{project_name_or_id}');
    expect(toOpenApiPath('/', 'c/login')).toBe('/c/login');
    expect(toOpenApiPath('service', '/token/')).toBe('/service/token');
    expect(toOpenApiPath('files', '*path')).toBe('/files/{path}');
    expect(() => toOpenApiPath('a', ':b?')).toThrow(/cannot express/);
  });

  it('finds every decorated route and nothing else', () => {
    const routes = collectRoutes([SampleController]).map((r) => `${r.method} ${r.path} ${r.handler}`);
    expect(routes.sort()).toEqual([
      'get /api/v2.0/labels SampleController.list',
      'get /api/v2.0/projects/{project_name_or_id}/labels/{label_id} SampleController.get',
      'post /api/v2.0/labels SampleController.create',
    ]);
  });

  it('refuses a route without @Endpoint, whose permission would be unknown', () => {
    expect(() => collectRoutes([UndocumentedController])).toThrow('UndocumentedController.handler');
  });

  it('documents parameters, bodies, responses and headers from the zod schemas', () => {
    const get = operation(sample, '/api/v2.0/projects/{project_name_or_id}/labels/{label_id}', 'get');
    expect(get.operationId).toBe('getProjectLabel');
    expect(get.tags).toEqual(['label']);
    const params = get.parameters ?? [];
    expect(params.map((p: OpenApiParameter) => `${p.in}:${p.name}:${String(p.required)}`)).toEqual([
      'path:project_name_or_id:true',
      'path:label_id:true',
      'query:page:false',
      'query:with_detail:true',
      'header:X-Is-Resource-Name:false',
    ]);
    expect(params[1]).toMatchObject({ description: 'The label id', schema: { type: 'string' } });
    expect(params[3]?.schema).toEqual({ type: 'string', enum: ['true', 'false'] });
    expect(get.responses['200']).toEqual({
      description: 'The label',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Label' } } },
    });
    expect(Object.keys(get.responses)).toEqual(['200', '400', '401', '403', '404', '500']);
    expect(get.responses['404']).toEqual({ $ref: '#/components/responses/NotFound' });

    const list = operation(sample, '/api/v2.0/labels', 'get');
    const listed = list.responses['200'] as OpenApiResponse;
    expect(Object.keys(listed.headers ?? {})).toEqual(['X-Total-Count', 'Link']);
    expect(listed.headers?.['X-Total-Count']?.schema).toEqual({ type: 'integer' });
    expect(listed.content?.['application/json']?.schema).toEqual({
      type: 'array',
      items: { $ref: '#/components/schemas/Label' },
    });
  });

  it('names schemas that have an id, and the different input form of one <id>Input', () => {
    expect(sample.components.schemas.Label).toEqual({
      type: 'object',
      properties: { id: { type: 'integer' }, name: { type: 'string' }, scope: { type: 'string', default: 'g' } },
      required: ['id', 'name', 'scope'],
      additionalProperties: false,
    });
    // A default makes the field optional in requests.
    expect(sample.components.schemas.LabelInput).toMatchObject({ required: ['id', 'name'] });
    const create = operation(sample, '/api/v2.0/labels', 'post');
    expect(create.requestBody).toEqual({
      required: true,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/LabelInput' } } },
    });
    expect(create.responses['201']).toEqual({
      description: 'Created',
      headers: { Location: { description: 'The path of the created resource', schema: { type: 'string' } } },
    });
  });

  it('answers errors in one envelope and says who may call each route', () => {
    expect(sample.components.schemas.Errors).toMatchObject({
      properties: { errors: { type: 'array' } },
      required: ['errors'],
    });
    expect(sample.components.responses.Conflict).toMatchObject({
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Errors' } } },
    });
    const create = operation(sample, '/api/v2.0/labels', 'post');
    expect(create.security).toEqual([{ basicAuth: [] }, { session: [], csrf: [] }]);
    expect(create['x-wharf-access']).toEqual({ kind: 'system', resource: 'label', action: 'create' });
    expect(create.description).toContain('`label:create`');
    const list = operation(sample, '/api/v2.0/labels', 'get');
    expect(list.security).toEqual([{}, { basicAuth: [] }, { session: [] }]);
    expect(sample.components.securitySchemes.session).toMatchObject({ in: 'cookie', name: 'sid' });
  });

  it('derives the roles named in a project permission from the RBAC matrix', () => {
    const text = describeAccess({ kind: 'project', resource: 'member', action: 'create', param: 'p' });
    expect(text).toContain('Project roles holding it: projectAdmin;');
    expect(text).not.toContain('public project');
    const pull = describeAccess({ kind: 'project', resource: 'repository', action: 'pull', param: 'p' });
    expect(pull).toContain('projectAdmin, maintainer, developer, guest, limitedGuest');
    expect(pull).toContain('On a public project anyone may');
  });

  it('reports duplicate ids and undeclared path parameters', () => {
    const broken = generateOpenApiDocument([SampleController, BrokenController]);
    expect(openApiProblems(broken).sort()).toEqual([
      'PUT /things/{thing_id} repeats the operationId listLabels of GET /api/v2.0/labels',
      'PUT /things/{thing_id}: params schema declares other, the path has none',
      'PUT /things/{thing_id}: path parameter {thing_id} is not in its params schema',
    ]);
    expect(openApiProblems(sample)).toEqual([]);
  });

  it('refuses two routes on the same method and path', () => {
    expect(() => collectRoutes([SampleController, SampleController])).toThrow(/declared twice/);
  });
});

describe("Wharf's OpenAPI document", () => {
  const document = generateOpenApiDocument(CONTROLLERS);

  it('has no problems: ids present and unique, every path parameter declared', () => {
    expect(openApiProblems(document)).toEqual([]);
    for (const { method, path, operation: op } of documentOperations(document)) {
      expect({ route: `${method} ${path}`, hasId: /^[A-Za-z][A-Za-z0-9]*$/.test(op.operationId) }).toEqual({
        route: `${method} ${path}`,
        hasId: true,
      });
    }
  });

  it('is the same as the checked-in apps/core/openapi.json', async () => {
    let checkedIn: unknown;
    try {
      checkedIn = JSON.parse(await readFile(OPENAPI_FILE, 'utf8'));
    } catch (error) {
      throw new Error('apps/core/openapi.json is missing or unreadable: run pnpm build && pnpm openapi', {
        cause: error,
      });
    }
    const fresh = JSON.parse(JSON.stringify(document)) as unknown;
    if (JSON.stringify(fresh) !== JSON.stringify(checkedIn)) {
      throw new Error('apps/core/openapi.json is out of date with the controllers: run pnpm build && pnpm openapi');
    }
  });

  it("says which bodies may be left out: a scan request's (Harbor's optional scan type), not a project's", () => {
    const body = (path: string) => operation(document, path, 'post').requestBody;
    const artifact = '/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}';
    expect(body(`${artifact}/scan`)).toMatchObject({ required: false });
    expect(body(`${artifact}/scan/stop`)).toMatchObject({ required: false });
    expect(body('/api/v2.0/projects')).toMatchObject({ required: true });
  });

  it('is deterministic', () => {
    expect(JSON.stringify(generateOpenApiDocument([...CONTROLLERS].reverse()))).toBe(JSON.stringify(document));
  });
});
