import { Controller, Get } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { z } from 'zod';
import { API_PREFIX } from '../constants.js';
import { Endpoint } from '../openapi/endpoint.decorator.js';
import { type ControllerClass, generateOpenApiDocument } from '../openapi/openapi.generator.js';
import { type OpenApiDocument } from '../openapi/openapi.types.js';

/** Enough of the document's shape for the response check; the generator's own tests hold the rest. */
const OpenApiDocumentDto = z.looseObject({
  openapi: z.string(),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()),
  components: z.looseObject({}),
});

const DOCUMENT_RESPONSE = {
  description: 'The OpenAPI 3.1 document of this API',
  schema: OpenApiDocumentDto,
};

/**
 * The API's OpenAPI document, built from the controllers this server mounts. Harbor's API clients fetch it from
 * `/api/v2.0/swagger.json`; `/api/v2.0/openapi.json` names it for what it is.
 */
@Controller(API_PREFIX)
export class OpenApiController {
  private document: OpenApiDocument | undefined;

  constructor(private readonly modules: ModulesContainer) {}

  @Get('openapi.json')
  @Endpoint({
    operationId: 'getOpenApiDocument',
    summary: 'The OpenAPI document of this API',
    tag: 'openapi',
    access: { kind: 'anyone' },
    response: DOCUMENT_RESPONSE,
  })
  openApi(): OpenApiDocument {
    return this.current();
  }

  @Get('swagger.json')
  @Endpoint({
    operationId: 'getSwaggerDocument',
    summary: 'The OpenAPI document of this API, at the path where Harbor serves its own',
    tag: 'openapi',
    access: { kind: 'anyone' },
    response: DOCUMENT_RESPONSE,
  })
  swagger(): OpenApiDocument {
    return this.current();
  }

  private current(): OpenApiDocument {
    this.document ??= generateOpenApiDocument(this.mountedControllers());
    return this.document;
  }

  private mountedControllers(): ControllerClass[] {
    const controllers = new Set<ControllerClass>();
    for (const module of this.modules.values()) {
      for (const wrapper of module.controllers.values()) controllers.add(wrapper.metatype as ControllerClass);
    }
    return [...controllers];
  }
}
