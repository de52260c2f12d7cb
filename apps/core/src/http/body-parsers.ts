import { parse as parseForm } from 'node:querystring';
import { type FastifyInstance } from 'fastify';

/**
 * The API's body parsers: JSON, and forms for the portal's login (each route says which it takes; others answer 415).
 * An empty JSON body reads as no body, as Harbor reads it: many Harbor clients send `Content-Type: application/json`
 * on every request, a DELETE or a POST without parameters included. A route that needs a body still says so.
 */
export function registerBodyParsers(fastify: FastifyInstance): void {
  const json = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') done(null, undefined);
    else void json(request, body as string, done);
  });
  // querystring gives an object without a prototype, so a `__proto__` field is an ordinary, ignored key.
  fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) =>
    done(null, parseForm(body as string)),
  );
}
