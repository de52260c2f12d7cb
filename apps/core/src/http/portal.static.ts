import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';

/** Paths the portal never answers: the API, the token service, the portal's session routes and the registry. */
const RESERVED = /^\/(?:api|service|c|v2)(?:\/|$)/;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * What the portal's pages may do: load scripts, styles, images and fonts from Wharf itself and call its API, nothing
 * else; never be framed. Styles allow inline attributes, which React's `style` props are.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export interface PortalOptions {
  /** The portal's built files (apps/portal/dist), with index.html at the top. */
  directory: string;
}

interface StaticFile {
  path: string;
  size: number;
  etag: string;
}

function securityHeaders(reply: FastifyReply): void {
  void reply
    .header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
    .header('X-Content-Type-Options', 'nosniff')
    .header('X-Frame-Options', 'DENY')
    .header('Referrer-Policy', 'same-origin');
}

/**
 * Serves the portal, a single-page application: its files as they are, and index.html for every other path outside
 * the API, token service, session routes and registry, so that a page's URL can be reloaded or shared. Vite names the
 * files under /assets by their content, so they are cached for good; index.html is revalidated on every load, so a
 * new version of Wharf reaches browsers at once.
 */
export async function registerPortal(fastify: FastifyInstance, options: PortalOptions): Promise<void> {
  const root = await realpath(options.directory);
  const indexPath = join(root, 'index.html');
  const index = await readFile(indexPath);
  const indexTag = `"${createHash('sha256').update(index).digest('base64url').slice(0, 27)}"`;

  // Resolved files by URL path; the directory does not change while Wharf runs (an upgrade restarts it).
  const known = new Map<string, StaticFile | null>();
  const lookup = async (urlPath: string): Promise<StaticFile | null> => {
    const cached = known.get(urlPath);
    if (cached !== undefined) return cached;
    let found: StaticFile | null = null;
    const candidate = join(root, urlPath);
    // join() normalises '..' away; what is left must still be inside the portal's directory, links included.
    if (candidate.startsWith(root + sep)) {
      try {
        const real = await realpath(candidate);
        const info = await stat(real);
        if (real.startsWith(root + sep) && info.isFile()) {
          found = { path: real, size: info.size, etag: `"${info.size.toString(16)}-${info.mtimeMs.toString(16)}"` };
        }
      } catch {
        found = null;
      }
    }
    if (known.size < 10_000) known.set(urlPath, found);
    return found;
  };

  const sendIndex = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    securityHeaders(reply);
    void reply.header('Cache-Control', 'no-cache').header('ETag', indexTag).type(CONTENT_TYPES['.html']);
    if (request.headers['if-none-match'] === indexTag) return reply.code(304).send();
    return reply.send(request.method === 'HEAD' ? undefined : index);
  };

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const url = request.raw.url ?? '/';
    const queryAt = url.indexOf('?');
    let path: string;
    try {
      path = decodeURIComponent(queryAt === -1 ? url : url.slice(0, queryAt));
    } catch {
      path = '';
    }
    if (path === '' || RESERVED.test(path) || path.includes('\0')) {
      // The API's own answer for an unknown route (its error envelope), as if the portal were not here.
      reply.callNotFound();
      return reply;
    }
    if (path === '/' || path === '/index.html') return sendIndex(request, reply);

    const file = await lookup(path);
    if (!file) {
      // A missing file (a script of an older build, say) is a 404; any other path is a page of the application.
      if (path.startsWith('/assets/') || extname(path) !== '') {
        securityHeaders(reply);
        return reply.code(404).type('text/plain; charset=utf-8').send('Not found');
      }
      return sendIndex(request, reply);
    }
    securityHeaders(reply);
    const immutable = path.startsWith('/assets/');
    void reply
      .header('Cache-Control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('ETag', file.etag)
      .header('Content-Length', file.size)
      .type(CONTENT_TYPES[extname(file.path).toLowerCase()] ?? 'application/octet-stream');
    if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
    if (request.method === 'HEAD') return reply.send();
    return reply.send(createReadStream(file.path));
  };

  fastify.route({ method: ['GET', 'HEAD'], url: '/', handler, exposeHeadRoute: false });
  fastify.route({ method: ['GET', 'HEAD'], url: '/*', handler, exposeHeadRoute: false });
}
