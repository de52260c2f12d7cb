import { type FastifyInstance, type FastifyRequest } from 'fastify';
import { basicCredentials } from '../auth/auth.guard.js';
import { ApiError } from '../errors/api-error.js';

/**
 * Where in a parsed value a NUL character is, as `where.key.0`; undefined when there is none. PostgreSQL's text
 * cannot hold NUL, so such a value would fail in the first query that carries it. Walks without recursion: a JSON
 * body may nest deeper than the stack.
 */
export function findNul(value: unknown, where: string): string | undefined {
  const pending: [unknown, string][] = [[value, where]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, path] = next;
    if (typeof item === 'string') {
      if (item.includes('\0')) return path;
    } else if (Array.isArray(item)) {
      item.forEach((element, index) => pending.push([element, `${path}.${index}`]));
    } else if (typeof item === 'object' && item !== null) {
      for (const [key, element] of Object.entries(item)) {
        if (key.includes('\0')) return path;
        pending.push([element, `${path}.${key}`]);
      }
    }
  }
  return undefined;
}

function nulInRequest(request: FastifyRequest): string | undefined {
  const credentials = basicCredentials(request.headers.authorization);
  if (credentials && findNul([credentials.login, credentials.secret], 'Authorization'))
    return 'the Authorization header';
  return findNul(request.params, 'path') ?? findNul(request.query, 'query') ?? findNul(request.body, 'body');
}

/**
 * Refuses a request whose path parameters, query, body or credentials hold a NUL character, before any guard or
 * handler passes them on: 400 in the API's envelope, and nothing is looked up or changed.
 */
export function rejectNulInput(fastify: FastifyInstance): void {
  fastify.addHook('preValidation', (request, _reply, done) => {
    const where = nulInRequest(request);
    done(where === undefined ? undefined : ApiError.badRequest(`${where}: must not contain a NUL character`));
  });
}
