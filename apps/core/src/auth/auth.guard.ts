import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { INT4_MAX } from '../dtos/project.dto.js';
import { ApiError } from '../errors/api-error.js';
import { ENDPOINT_METADATA, type EndpointAccess, type EndpointOptions } from '../openapi/endpoint.decorator.js';
import { ProjectRepository } from '../repositories/project.repository.js';
import { AccessService } from '../services/access.service.js';
import { CredentialService } from '../services/credential.service.js';
import { CSRF_HEADER, SESSION_COOKIE, SessionService } from '../services/session.service.js';
import { REQUEST_AUTH } from './auth.decorator.js';
import { ANONYMOUS, type Principal, type ProjectRef, type RequestAuth } from './principal.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Basic credentials from an Authorization header; undefined when the header is not Basic. */
export function basicCredentials(header: string | undefined): { login: string; secret: string } | undefined {
  const match = header ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { login: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

function denied(principal: Principal): ApiError {
  return principal.kind === 'anonymous' ? ApiError.unauthorized() : ApiError.forbidden();
}

/**
 * Authenticates every API request (basic credentials of a user or robot, or the portal's session cookie with its
 * CSRF token on changes) and checks the permission its route declares, before any handler runs.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly credentials: CredentialService,
    private readonly sessions: SessionService,
    private readonly access: AccessService,
    private readonly projects: ProjectRepository,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const endpoint = this.reflector.get<EndpointOptions | undefined>(ENDPOINT_METADATA, context.getHandler());
    if (!endpoint) throw new Error(`route ${context.getClass().name}.${context.getHandler().name} has no @Endpoint`);
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const principal = await this.authenticate(request, reply, endpoint.access.kind === 'anyone');
    const auth: RequestAuth = { principal };
    (request as unknown as Record<symbol, RequestAuth>)[REQUEST_AUTH] = auth;
    await this.authorize(endpoint.access, request, auth);
    return true;
  }

  /**
   * On a route anyone may call (the login form, say), a session cookie without its CSRF token makes the request
   * anonymous rather than refused: it then has no more rights than a stranger's.
   */
  async authenticate(request: FastifyRequest, reply: FastifyReply, openRoute = false): Promise<Principal> {
    const header = request.headers.authorization;
    if (header !== undefined) {
      const basic = basicCredentials(header);
      if (!basic) throw ApiError.unauthorized('unsupported or malformed Authorization header; use Basic credentials');
      const result = await this.credentials.check(basic.login, basic.secret, request.ip);
      if (result.ok) return result.principal;
      if (result.reason === 'throttled') {
        throw new ApiError('TOO_MANY_REQUESTS', `too many failed logins; try again in ${result.retryAfterSeconds} s`, {
          'Retry-After': String(result.retryAfterSeconds),
        });
      }
      throw ApiError.unauthorized('invalid user name or password');
    }
    const sessionId = request.cookies[SESSION_COOKIE];
    if (sessionId) {
      const user = await this.sessions.resolve(sessionId);
      if (user) {
        if (!SAFE_METHODS.has(request.method)) {
          const token = request.headers[CSRF_HEADER];
          if (!this.sessions.checkCsrf(sessionId, typeof token === 'string' ? token : undefined)) {
            if (openRoute) return ANONYMOUS;
            throw ApiError.forbidden('CSRF token invalid: send the X-Harbor-CSRF-Token header of this session');
          }
        }
        void reply.header(CSRF_HEADER, this.sessions.csrfToken(sessionId));
        return user;
      }
    }
    return ANONYMOUS;
  }

  private async authorize(access: EndpointAccess, request: FastifyRequest, auth: RequestAuth): Promise<void> {
    const { principal } = auth;
    switch (access.kind) {
      case 'anyone':
        return;
      case 'authenticated':
        if (principal.kind === 'anonymous') throw ApiError.unauthorized();
        return;
      case 'sysadmin':
        if (principal.kind === 'user' && principal.sysadmin) return;
        throw denied(principal);
      case 'system':
        if (this.access.canInSystem(principal, access.resource, access.action)) return;
        throw denied(principal);
      case 'project': {
        const raw = (request.params as Record<string, string | undefined>)[access.param];
        if (!raw) throw new Error(`route declares project parameter ${access.param} but has none`);
        // Routes whose parameter is `project_name` (Harbor's repository and log routes) take a name only.
        const project = await this.findProject(
          raw,
          access.param === 'project_name' ? 'true' : request.headers['x-is-resource-name'],
        );
        if (!project) throw ApiError.notFound(`project ${raw} not found`);
        auth.project = project;
        if (await this.access.canInProject(principal, project, access.resource, access.action)) return;
        throw denied(principal);
      }
    }
  }

  /** Harbor's rule: a number is an id unless `X-Is-Resource-Name: true` says it is a name. */
  private findProject(value: string, isResourceName: string | string[] | undefined): Promise<ProjectRef | undefined> {
    const byName = isResourceName === 'true' || !/^[0-9]+$/.test(value);
    if (byName) return this.projects.findRefByName(value);
    const id = Number(value);
    if (id > INT4_MAX) throw ApiError.badRequest(`project id ${value} is out of range: ids run up to ${INT4_MAX}`);
    return this.projects.findRefById(id);
  }
}
