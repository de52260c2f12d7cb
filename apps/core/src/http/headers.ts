import { type FastifyInstance } from 'fastify';

/**
 * Every answer of `fastify` says its Content-Type is meant: a browser must never read an error's JSON, or a text the
 * API echoes, as HTML or script. A callback hook, so no promise per request.
 */
export function noSniff(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (_request, reply, done) => {
    void reply.header('X-Content-Type-Options', 'nosniff');
    done();
  });
}
