import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { type ProjectRef, type RequestAuth } from './principal.js';

export const REQUEST_AUTH = Symbol('wharf.requestAuth');

export function requestAuthOf(request: object): RequestAuth {
  const auth = (request as Record<symbol, RequestAuth | undefined>)[REQUEST_AUTH];
  if (!auth) throw new Error('the request was not authenticated by the guard');
  return auth;
}

/** Who made the request (and its project, on project routes), as established by the AuthGuard. */
export const Auth = createParamDecorator((_data: unknown, ctx: ExecutionContext) =>
  requestAuthOf(ctx.switchToHttp().getRequest<object>()),
);

/** The project of a project route, loaded and permission-checked by the AuthGuard. */
export const CurrentProject = createParamDecorator((_data: unknown, ctx: ExecutionContext): ProjectRef => {
  const project = requestAuthOf(ctx.switchToHttp().getRequest<object>()).project;
  if (!project) throw new Error('@CurrentProject on a route whose access is not project-scoped');
  return project;
});
