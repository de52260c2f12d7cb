import { Controller, Get } from '@nestjs/common';
import { Auth } from '../auth/auth.decorator.js';
import { type RequestAuth } from '../auth/principal.js';
import { TokenQueryDto, TokenResponseDto } from '../dtos/token.dto.js';
import { type WithHeaders } from '../http/responses.js';
import { Endpoint, Query } from '../openapi/endpoint.decorator.js';
import { TokenService } from '../services/token.service.js';

/** Harbor's token service at `/service/token`, where registry clients follow the `/v2` challenge to. */
@Controller('service')
export class TokenController {
  constructor(private readonly tokens: TokenService) {}

  @Get('token')
  @Endpoint({
    operationId: 'getToken',
    summary:
      'Issues a registry bearer token (Docker token protocol) granting the requested scopes the caller may use; ' +
      'basic credentials of a user or robot, or none for anonymous access to public projects',
    tag: 'token',
    access: { kind: 'anyone' },
    query: TokenQueryDto,
    response: { description: 'A signed token', schema: TokenResponseDto, headers: ['Cache-Control'] },
    errors: [400, 429],
  })
  issue(@Auth() auth: RequestAuth, @Query() query: TokenQueryDto): Promise<WithHeaders<TokenResponseDto>> {
    return this.tokens.issue(auth.principal, query);
  }
}
