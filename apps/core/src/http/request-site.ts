import { type ExecutionContext, createParamDecorator } from '@nestjs/common';
import { type FastifyRequest } from 'fastify';

/** Where a request comes from, as a browser states it, and the origin the request itself was addressed to. */
export interface RequestSite {
  /** The Origin header; absent from requests that are not a browser's form post or script call. */
  origin?: string;
  /** Sec-Fetch-Site: same-origin, same-site, cross-site or none. */
  fetchSite?: string;
  /** `scheme://host[:port]` of the request, from its Host header. */
  ownOrigin?: string;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** Serialised as browsers send Origin: lower case, without a default port; undefined when it does not parse. */
export function normalisedOrigin(value: string): string | undefined {
  try {
    const origin = new URL(value).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/** The route's {@link RequestSite}. */
export const Site = createParamDecorator((_data: unknown, ctx: ExecutionContext): RequestSite => {
  const request = ctx.switchToHttp().getRequest<FastifyRequest>();
  return {
    origin: header(request, 'origin'),
    fetchSite: header(request, 'sec-fetch-site'),
    ownOrigin: normalisedOrigin(`${request.protocol}://${request.host}`),
  };
});
