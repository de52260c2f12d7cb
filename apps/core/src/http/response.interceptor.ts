import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { paginationLinks } from '@wharf/db';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { type Observable, map } from 'rxjs';
import { Paged, WithHeaders } from './responses.js';

function queryOf(request: FastifyRequest): Record<string, string | undefined> {
  const query = (request.query ?? {}) as Record<string, unknown>;
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(query)) {
    if (typeof value === 'string') out[key] = value;
  }
  return out;
}

/** Turns the handlers' Paged and WithHeaders results into a body and the headers Harbor's clients read. */
@Injectable()
export class ResponseInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    return next.handle().pipe(
      map((value: unknown) => {
        if (value instanceof Paged) {
          void reply.header('X-Total-Count', String(value.total));
          const path = request.url.split('?')[0] ?? request.url;
          const link = paginationLinks(path, queryOf(request), value.page, value.pageSize, value.total);
          if (link) void reply.header('Link', link);
          return value.items as unknown;
        }
        if (value instanceof WithHeaders) {
          for (const [name, headerValue] of Object.entries(value.headers)) void reply.header(name, headerValue);
          return value.body as unknown;
        }
        return value;
      }),
    );
  }
}
