import { Controller, Get, Ip, Post } from '@nestjs/common';
import { Auth } from '../auth/auth.decorator.js';
import { type RequestAuth } from '../auth/principal.js';
import { LoginForm } from '../dtos/session.dto.js';
import { type RequestSite, Site } from '../http/request-site.js';
import { type WithHeaders } from '../http/responses.js';
import { Body, Endpoint } from '../openapi/endpoint.decorator.js';
import { UserService } from '../services/user.service.js';

/** The portal's login and logout, at Harbor's paths outside the API. */
@Controller()
export class SessionController {
  constructor(private readonly users: UserService) {}

  @Post('c/login')
  @Endpoint({
    operationId: 'login',
    summary: 'Opens a portal session from a user name and password (form or JSON body); refused from other sites',
    tag: 'session',
    access: { kind: 'anyone' },
    body: LoginForm,
    bodyTypes: ['application/x-www-form-urlencoded', 'application/json'],
    response: {
      description: 'Logged in: the sid cookie holds the session, X-Harbor-CSRF-Token the token for changes',
      headers: ['Set-Cookie', 'X-Harbor-CSRF-Token'],
    },
    errors: [400, 401, 403, 429],
  })
  login(
    @Auth() auth: RequestAuth,
    @Body() form: LoginForm,
    @Ip() clientAddress: string,
    @Site() site: RequestSite,
  ): Promise<WithHeaders<undefined>> {
    return this.users.login(form, clientAddress, auth.principal, site);
  }

  @Get('c/logout')
  @Endpoint({
    operationId: 'logout',
    summary: 'Ends the portal session and clears its cookie',
    tag: 'session',
    access: { kind: 'anyone' },
    response: { description: 'Logged out', headers: ['Set-Cookie'] },
  })
  logout(@Auth() auth: RequestAuth): Promise<WithHeaders<undefined>> {
    return this.users.logout(auth.principal);
  }
}
