import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import { type INestApplication } from '@nestjs/common';
import { NestFactory, Reflector } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type WharfConfig, redisConnection } from '@wharf/config';
import { createDataSource, pendingMigrations } from '@wharf/db';
import { createStorageDriver } from '@wharf/storage';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import { Redis } from 'ioredis';
import { AppModule } from './app.module.js';
import { STORAGE } from './constants.js';
import { ApiErrorFilter } from './http/error.filter.js';
import { registerPortal } from './http/portal.static.js';
import { echoRequestId, requestId } from './http/request-id.js';
import { ResponseInterceptor } from './http/response.interceptor.js';
import { ValidationInterceptor } from './http/validation.interceptor.js';
import { type MountedRegistry, isRegistryPath, mountRegistry } from './registry/registry.mount.js';
import { loadCoreSecrets } from './secrets.js';

export interface CoreServer {
  app: INestApplication;
  fastify: FastifyInstance;
  /** The address it listens on, e.g. http://127.0.0.1:8080. */
  url: string;
  close(): Promise<void>;
}

export interface CoreServerOptions {
  /** Check every API response against its declared schema (tests turn it on). */
  checkResponses?: boolean;
  /** Listen on this port instead of http.port (0: any free port). */
  port?: number;
  /** Prefix of the Redis keys (default wharf:core:). */
  redisPrefix?: string;
  /**
   * The portal's built files, served at /; false serves no portal. Default: apps/portal/dist of this checkout, when
   * it has been built.
   */
  portalDir?: string | false;
}

/** apps/portal/dist, seen from apps/core/dist (or apps/core/src when run from source). */
const DEFAULT_PORTAL_DIR = fileURLToPath(new URL('../../portal/dist', import.meta.url));

/**
 * Core's Redis connection fails fast while Redis is away: a command is refused at once instead of queued until a
 * reconnect, and a command Redis does not answer within a second fails, so a login falls back to PostgreSQL and
 * in-process throttling without waiting, and a session request answers 503 at once. It keeps reconnecting in the
 * background.
 */
export function createRedis(config: WharfConfig): Redis {
  return new Redis({
    ...redisConnection(config, config.redis.coreDb),
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    commandTimeout: 1000,
    connectTimeout: 2000,
  });
}

/** `wharf start core`: the control plane, with the registry engine inside at /v2. */
export async function startCoreServer(config: WharfConfig, options: CoreServerOptions = {}): Promise<CoreServer> {
  const dataSource = createDataSource({ ...config.database, applicationName: 'wharf-core' });
  await dataSource.initialize();
  const redis = createRedis(config);
  let app: NestFastifyApplication | undefined;
  let fastify: FastifyInstance | undefined;
  let registry: MountedRegistry | undefined;
  try {
    const pending = await pendingMigrations(dataSource);
    if (pending.length > 0) {
      throw new Error(
        `the database schema is not up to date (${pending.length} migrations pending): run wharf migrate --config FILE`,
      );
    }
    await redis.connect();
    const secrets = await loadCoreSecrets(config.dataVolume);
    const storage = await createStorageDriver(config.storage);

    const fastifyOptions: FastifyServerOptions = {
      logger: { level: config.log.level },
      logController: new LogController({ disableRequestLogging: true }),
      genReqId: requestId,
      bodyLimit: 4 * 1024 * 1024,
      routerOptions: { maxParamLength: 1024 },
      trustProxy: config.externalUrl !== undefined,
    };
    const mounted = await mountRegistry(fastifyOptions, {
      config,
      dataSource,
      storage,
      signingKey: secrets.signingKey,
    });
    registry = mounted;
    fastify = Fastify({
      ...fastifyOptions,
      // One HTTP server for both: /v2 goes to the registry's instance, everything else to the API's.
      serverFactory: (handler) => {
        const server = createServer((request, response) => {
          if (isRegistryPath(request.url)) mounted.handle(request, response);
          else handler(request, response);
        });
        // Registry uploads may take long; a request stays open as long as bytes keep coming.
        server.requestTimeout = 0;
        server.setTimeout(0);
        server.keepAliveTimeout = 75_000;
        return server;
      },
    });
    echoRequestId(fastify);
    const log = fastify.log;
    let redisWarnedAt = 0;
    redis.on('error', (error: Error) => {
      // ioredis reconnects by itself; while Redis is away, once a minute is enough to say so.
      if (Date.now() - redisWarnedAt < 60_000) return;
      redisWarnedAt = Date.now();
      log.warn(`Redis unavailable (logins fall back to PostgreSQL, sessions answer 503): ${error.message}`);
    });
    await fastify.register(fastifyCookie);
    const portalDir = options.portalDir ?? DEFAULT_PORTAL_DIR;
    if (portalDir !== false) {
      if (existsSync(join(portalDir, 'index.html'))) await registerPortal(fastify, { directory: portalDir });
      else fastify.log.warn(`no portal at ${portalDir} (build it with pnpm build); serving the API and registry only`);
    }

    app = await NestFactory.create<NestFastifyApplication>(
      AppModule.create({
        config,
        dataSource,
        redis,
        secrets,
        redisPrefix: options.redisPrefix,
        extra: [{ provide: STORAGE, useValue: storage }],
      }),
      new FastifyAdapter(fastify),
      { logger: ['error', 'warn'], abortOnError: false },
    );
    app.useGlobalFilters(new ApiErrorFilter());
    app.useGlobalInterceptors(
      new ValidationInterceptor(app.get(Reflector), { checkResponses: options.checkResponses ?? false }),
      new ResponseInterceptor(),
    );
    app.enableShutdownHooks([]);
    await app.init();
    await app.listen(options.port ?? config.http.port, config.http.host);
    const address = await app.getUrl();
    const started = app;
    return {
      app: started,
      fastify,
      url: address.replace('[::1]', '127.0.0.1'),
      close: async () => {
        await started.close();
        await mounted.close();
        redis.disconnect();
        await dataSource.destroy();
      },
    };
  } catch (error) {
    // Before Nest owns the Fastify instance, closing it is ours to do (it ends the registry's LISTEN connection).
    await (app ?? fastify)?.close().catch(() => undefined);
    await registry?.close().catch(() => undefined);
    redis.disconnect();
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
}
