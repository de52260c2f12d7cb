import { type RegistryRepository, isDatabaseUnavailable } from '@wharf/db';
import { OciError, OciErrorCode } from '@wharf/oci';
import { type StorageDriver } from '@wharf/storage';
import { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type EngineOptions, type OperationContext, RegistryEngine } from './engine.js';
import { PullRecorder } from './events/pull-recorder.js';
import { type CacheInvalidationSource, ManifestCache } from './manifest-cache.js';
import { API_VERSION, API_VERSION_HEADER, sendError } from './http.js';
import { ROUTE_METHODS, type RegistryRoute, matchRoute } from './router.js';
import {
  type AccessController,
  type AccessDecision,
  type AccessRequest,
  type RegistryPolicy,
  type RepositoryAction,
} from './types.js';
import { BlobStore } from './uploads/blob-store.js';
import { RegistryWriter } from './writer.js';

/** What a 503 asks a client to wait: a database restart takes a few seconds. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

export interface RegistryPluginOptions {
  repository: RegistryRepository;
  storage: StorageDriver;
  access: AccessController;
  policies?: RegistryPolicy[];
  /**
   * The writer the host's API shares, so both run one policy chain; its policies replace `policies`. Without it the
   * engine makes a writer of its own with `policies`.
   */
  writer?: RegistryWriter;
  maxManifestBytes?: number;
  redirect?: boolean;
  chunkMinLength?: number;
  /**
   * Change notices for the manifest cache (PostgreSQL LISTEN in practice). Without it manifests are read from
   * the database on every request.
   */
  cacheInvalidation?: CacheInvalidationSource;
  /** Called with the pull recorder so the host can flush it on shutdown. */
  onPullRecorder?: (recorder: PullRecorder) => void;
  /** Actors whose pulls are not pulls of the artifact (a scanner's reads): no event, no pull time or count. */
  unrecordedActors?: readonly string[];
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** The access each operation needs: uploads need push and pull, as in distribution's token scopes. */
function accessFor(route: RegistryRoute, method: string): AccessRequest[] {
  const repo = (name: string, ...actions: RepositoryAction[]): AccessRequest[] => [
    { type: 'repository', name, actions },
  ];
  switch (route.kind) {
    case 'base':
      return [];
    case 'catalog':
      return [{ type: 'registry', name: 'catalog', actions: ['*'] }];
    case 'tags':
    case 'referrers':
      return repo(route.name, 'pull');
    case 'manifest':
    case 'blob':
      if (method === 'DELETE') return repo(route.name, 'delete');
      if (method === 'PUT') return repo(route.name, 'pull', 'push');
      return repo(route.name, 'pull');
    case 'uploads':
    case 'upload':
      return repo(route.name, 'pull', 'push');
  }
}

function deny(decision: Extract<AccessDecision, { allowed: false }>): OciError {
  if (decision.authenticated) {
    return new OciError(OciErrorCode.DENIED, decision.message ?? 'requested access to the resource is denied');
  }
  return new OciError(OciErrorCode.UNAUTHORIZED, decision.message ?? 'authentication required');
}

/**
 * The OCI Distribution v1.1 API as a Fastify plugin, mounted at `/v2`. Bodies are left unparsed so blob bytes
 * stream from the socket to storage; the host supplies the access controller and the policy chain.
 */
export function registryPlugin(app: FastifyInstance, options: RegistryPluginOptions): Promise<void> {
  const writer = options.writer ?? new RegistryWriter(options.repository, options.policies ?? []);
  const policies = writer.policies;
  const pulls = new PullRecorder(options.repository, {
    onError: (error) => app.log.error({ err: error }, 'could not record pull events'),
    unrecordedActors: options.unrecordedActors,
  });
  options.onPullRecorder?.(pulls);
  const leaseHolder = options.repository.uploadLeaseHolder();
  const blobs = new BlobStore(options.storage, options.repository, (context) => policies.beforeBlobCommit(context), {
    leaseHolder,
  });
  const engineOptions: EngineOptions = {
    maxManifestBytes: options.maxManifestBytes ?? 4 * 1024 * 1024,
    redirect: options.redirect ?? false,
    chunkMinLength: options.chunkMinLength,
    defaultPageSize: 10_000,
    maxPageSize: 10_000,
  };
  const cache = options.cacheInvalidation ? new ManifestCache(options.cacheInvalidation) : undefined;
  const engine = new RegistryEngine(options.repository, blobs, options.storage, pulls, writer, engineOptions, cache);
  app.addHook('onClose', async () => {
    await pulls.flush();
    await cache?.close();
    await leaseHolder.close();
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const isHead = request.method === 'HEAD';
    if (error instanceof OciError) return sendError(reply, error, isHead);
    const fastifyError = error as { statusCode?: number; message?: string };
    if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode < 500) {
      return sendError(
        reply,
        new OciError(
          OciErrorCode.UNSUPPORTED,
          fastifyError.message ?? 'bad request',
          undefined,
          fastifyError.statusCode,
        ),
        isHead,
      );
    }
    if (isDatabaseUnavailable(error)) {
      // PostgreSQL restarting or out of reach: the request may well succeed in a moment, and clients retry a 503.
      request.log.warn({ err: error }, 'registry request failed: the database is unavailable');
      reply.header('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
      return sendError(
        reply,
        new OciError(OciErrorCode.UNAVAILABLE, 'the registry database is unavailable for a moment; retry shortly'),
        isHead,
      );
    }
    request.log.error({ err: error }, 'registry request failed');
    return sendError(
      reply,
      new OciError(OciErrorCode.UNKNOWN, `internal error; quote request id ${request.id} to the administrator`),
      isHead,
    );
  });

  /** The request's route; 404 for a path that is none, 405 for a method its route does not answer. */
  const routeOf = (request: FastifyRequest, reply: FastifyReply): RegistryRoute => {
    reply.header(API_VERSION_HEADER, API_VERSION).header('X-Content-Type-Options', 'nosniff');
    const url = request.raw.url ?? '';
    const queryAt = url.indexOf('?');
    const path = (queryAt === -1 ? url : url.slice(0, queryAt)).slice('/v2/'.length);
    const route = matchRoute(path);
    if (!route) throw new OciError(OciErrorCode.UNSUPPORTED, 'no such registry endpoint', { path: url }, 404);
    const allowed = ROUTE_METHODS[route.kind];
    if (!allowed.includes(request.method)) {
      reply.header('Allow', allowed.join(', '));
      throw new OciError(
        OciErrorCode.UNSUPPORTED,
        `${request.method} is not supported on this endpoint`,
        undefined,
        405,
      );
    }
    return route;
  };

  // Methods no route is declared for (OPTIONS, TRACE, WebDAV's…) end here rather than in Fastify's own 404.
  app.setNotFoundHandler((request, reply) => {
    if (/^\/v2(?:[/?]|$)/.test(request.raw.url ?? '')) routeOf(request, reply);
    throw new OciError(OciErrorCode.UNSUPPORTED, 'no such registry endpoint', undefined, 404);
  });

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const route = routeOf(request, reply);
    const method = request.method;
    const decision = await options.access.authorize(request, accessFor(route, method));
    if (!decision.allowed) {
      if (decision.challenge) reply.header('WWW-Authenticate', decision.challenge);
      throw deny(decision);
    }
    const ctx: OperationContext = {
      request,
      reply,
      actor: decision.actor,
      claims: decision.claims,
      canPull: async (repository) =>
        (await options.access.authorize(request, [{ type: 'repository', name: repository, actions: ['pull'] }]))
          .allowed,
    };
    await engine.dispatch(route, method, ctx);
    // Returning the reply tells Fastify the response is in hand (streams are sent after the handler resolves).
    return reply;
  };

  app.route({ method: [...METHODS], url: '/v2', handler, exposeHeadRoute: false });
  app.route({ method: [...METHODS], url: '/v2/*', handler, exposeHeadRoute: false });
  return Promise.resolve();
}
