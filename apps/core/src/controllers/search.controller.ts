import { Controller, Get } from '@nestjs/common';
import { Auth } from '../auth/auth.decorator.js';
import { type RequestAuth } from '../auth/principal.js';
import { API_PREFIX } from '../constants.js';
import { SearchDto, SearchQuery } from '../dtos/search.dto.js';
import { Endpoint, Query } from '../openapi/endpoint.decorator.js';
import { SearchService } from '../services/search.service.js';

@Controller(API_PREFIX)
export class SearchController {
  constructor(private readonly search: SearchService) {}

  @Get('search')
  @Endpoint({
    operationId: 'search',
    summary: 'Projects and repositories whose names contain q, among those the caller may see (first 100 of each)',
    tag: 'search',
    access: { kind: 'anyone' },
    query: SearchQuery,
    response: { description: 'The matching projects and repositories', schema: SearchDto },
    errors: [400],
  })
  find(@Auth() auth: RequestAuth, @Query() query: SearchQuery): Promise<SearchDto> {
    return this.search.find(auth.principal, query);
  }
}
