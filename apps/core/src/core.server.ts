import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { type IncomingMessage, type Server as HttpServer, type ServerResponse, createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import { type INestApplication, ShutdownSignal } from '@nestjs/common';
import { NestFactory, Reflector } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type WharfConfig, redisConnection } from '@wharf/config';
import {
  CORE_APPLICATION_NAME,
  IMMUTABLE_RULE_CHANGE_CHANNEL,
  VULNERABILITY_POLICY_CHANGE_CHANNEL,
  NotificationHub,
  createDataSource,
  pendingMigrations,
} from '@wharf/db';
import { JobRunner } from '@wharf/jobs';
import { createStorageDriver } from '@wharf/storage';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import { Redis } from 'ioredis';
import { AppModule } from './app.module.js';
import { SERVED_CERTIFICATE, STORAGE } from './constants.js';
import { registerBodyParsers } from './http/body-parsers.js';
import { ApiErrorFilter } from './http/error.filter.js';
import {
  apiFrameworkErrors,
  clientErrorHandler,
  originForm,
  refuseConnect,
  refuseExpectation,
} from './http/framework-errors.js';
import { noSniff } from './http/headers.js';
import { redirectToHttps } from './http/https-redirect.js';
import { rejectNulInput } from './http/input.hook.js';
import { registerPortal } from './http/portal.static.js';
import { echoRequestId, requestId } from './http/request-id.js';
import { ResponseInterceptor } from './http/response.interceptor.js';
import { HSTS_HEADER_VALUE, ServedCertificate, certificateSummary } from './http/tls.js';
import { ValidationInterceptor } from './http/validation.interceptor.js';
import { RegistryWriter } from '@wharf/registry';
import { type MountedRegistry, isRegistryPath, mountRegistry } from './registry/registry.mount.js';
import { registryWriter } from './registry/registry-writer.js';
import { ContentTrust, openContentTrust } from './policy/content-trust.js';
import { ImmutabilityRules } from './policy/immutability.js';
import { VulnerabilityPolicies } from './policy/vulnerability-policy.js';
import { ImmutableRuleRepository } from './repositories/immutable-rule.repository.js';
import { loadCoreSecrets } from './secrets.js';
import { type BuiltInScanner } from './scanners/built-in-scanner.js';
import { httpsHost, httpsRedirectBase } from './urls.js';

export interface CoreServer {
  app: INestApplication;
  fastify: FastifyInstance;
  /** The address it serves on, e.g. http://127.0.0.1:8080, or https://127.0.0.1:8443 when https is configured. */
  url: string;
  /** The plain HTTP listener's address: the same as url, unless https is configured (then it only redirects). */
  httpUrl: string;
  /**
   * Reads https.certificate and https.private_key again and serves them to new connections, without closing the
   * listener or open connections (SIGHUP). A pair that fails its checks is logged and rejected, and the previous one
   * stays. Without https, it does nothing.
   */
  reloadCertificate(): Promise<void>;
  close(): Promise<void>;
}

export interface CoreServerOptions {
  /** Check every API response against its declared schema (tests turn it on). */
  checkResponses?: boolean;
  /** Listen for HTTP on this port instead of http.port (0: any free port). */
  port?: number;
  /** Prefix of the Redis keys (default wharf:core:). */
  redisPrefix?: string;
  /** Prefix of the job queues' keys in jobservice's Redis database; jobservice must use the same (tests set it). */
  jobPrefix?: string;
  /**
   * The portal's built files, served at /; false serves no portal. Default: apps/portal/dist of this checkout, when
   * it has been built.
   */
  portalDir?: string | false;
  /** The built-in scanner (default: the trivy binary on PATH). */
  builtInScanner?: BuiltInScanner;
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

/**
 * Connects core's Redis client, or starts without it: a core restarted while Redis is away must still let users log
 * in (against PostgreSQL), as it does when Redis goes away later. ioredis keeps reconnecting after a failed first
 * attempt, and sessions work again once it succeeds.
 */
async function connectRedis(redis: Redis, config: WharfConfig, log: FastifyBaseLogger): Promise<void> {
  const address = `${config.redis.host}:${config.redis.port}`;
  const consequence = 'logins fall back to PostgreSQL, sessions answer 503';
  let starting = true;
  let lastError = '';
  let warnedAt = 0;
  let away = false;
  redis.on('error', (error: Error) => {
    lastError = error.message;
    away = true;
    // ioredis reconnects by itself; while Redis is away, once a minute is enough to say so.
    if (starting || Date.now() - warnedAt < 60_000) return;
    warnedAt = Date.now();
    log.warn(`Redis at ${address} unavailable (${consequence}): ${error.message}`);
  });
  redis.on('ready', () => {
    if (!away) return;
    away = false;
    warnedAt = 0;
    log.info(`Redis at ${address} is available again`);
  });
  try {
    await redis.connect();
  } catch (error) {
    warnedAt = Date.now();
    log.warn(
      `Redis at ${address} unavailable at start (${consequence}); reconnecting in the background: ${lastError || (error as Error).message}`,
    );
  } finally {
    starting = false;
  }
}

/** `wharf start core`: the control plane, with the registry engine inside at /v2. */
export async function startCoreServer(config: WharfConfig, options: CoreServerOptions = {}): Promise<CoreServer> {
  // First, so a certificate problem is reported alone, before anything needs closing again.
  const served = config.https ? await ServedCertificate.load(config.https, httpsHost(config)) : undefined;
  const dataSource = createDataSource({ ...config.database, applicationName: CORE_APPLICATION_NAME });
  await dataSource.initialize();
  const redis = createRedis(config);
  // One LISTEN connection for every cache of the process, however many channels they follow.
  const notices = new NotificationHub({ ...config.database, applicationName: CORE_APPLICATION_NAME });
  // Core only enqueues and stops jobs; its queues connect to Redis on first use.
  const jobs = new JobRunner({
    connection: redisConnection(config, config.redis.jobserviceDb),
    prefix: options.jobPrefix,
  });
  let app: NestFastifyApplication | undefined;
  let fastify: FastifyInstance | undefined;
  let registry: MountedRegistry | undefined;
  let immutability: ImmutabilityRules | undefined;
  let vulnerabilities: VulnerabilityPolicies | undefined;
  let contentTrust: ContentTrust | undefined;
  // The plain HTTP listener when https is configured: it only redirects.
  let redirector: HttpServer | undefined;
  try {
    const pending = await pendingMigrations(dataSource);
    if (pending.length > 0) {
      throw new Error(
        `the database schema is not up to date (${pending.length} migrations pending): run wharf migrate --config FILE`,
      );
    }
    const secrets = await loadCoreSecrets(config.dataVolume);
    const storage = await createStorageDriver(config.storage);

    const fastifyOptions: FastifyServerOptions = {
      logger: { level: config.log.level },
      logController: new LogController({ disableRequestLogging: true }),
      genReqId: requestId,
      bodyLimit: 4 * 1024 * 1024,
      routerOptions: { maxParamLength: 1024 },
      // Forwarding headers only from the configured proxies: from any other peer they would let a client choose the
      // address its login failures are counted against. The registry's instance shares this, so both agree.
      trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    };
    immutability = new ImmutabilityRules(new ImmutableRuleRepository(dataSource), (handlers) =>
      notices.subscribe(IMMUTABLE_RULE_CHANGE_CHANNEL, handlers),
    );
    vulnerabilities = new VulnerabilityPolicies(dataSource, (handlers) =>
      notices.subscribe(VULNERABILITY_POLICY_CHANGE_CHANNEL, handlers),
    );
    contentTrust = openContentTrust(dataSource, storage, notices);
    const writer = registryWriter(dataSource, immutability, { vulnerabilities, contentTrust });
    const mounted = await mountRegistry(fastifyOptions, {
      config,
      dataSource,
      storage,
      signingKey: secrets.signingKey,
      notices,
      writer,
    });
    registry = mounted;
    // One server for both: /v2 goes to the registry's instance, everything else to the API's. With https, that server
    // speaks TLS, and the plain HTTP port only sends clients there.
    fastify = Fastify({
      ...fastifyOptions,
      frameworkErrors: apiFrameworkErrors,
      clientErrorHandler,
      serverFactory: (handler) => {
        const listener = (request: IncomingMessage, response: ServerResponse) => {
          request.url = originForm(request.url ?? '/');
          if (served) response.setHeader('Strict-Transport-Security', HSTS_HEADER_VALUE);
          if (isRegistryPath(request.url)) mounted.handle(request, response);
          else handler(request, response);
        };
        let server: HttpServer;
        if (served) {
          const tlsServer = createHttpsServer(served.current.options, listener);
          served.attach(tlsServer);
          server = tlsServer;
        } else {
          server = createServer(listener);
        }
        server.on('connect', refuseConnect);
        server.on('checkExpectation', refuseExpectation);
        keepOpenWhileBytesFlow(server);
        return server;
      },
    });
    echoRequestId(fastify);
    noSniff(fastify);
    rejectNulInput(fastify);
    registerBodyParsers(fastify);
    const log = fastify.log;
    await connectRedis(redis, config, log);
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
        jobs,
        redisPrefix: options.redisPrefix,
        builtInScanner: options.builtInScanner,
        extra: [
          { provide: STORAGE, useValue: storage },
          { provide: SERVED_CERTIFICATE, useValue: served ?? null },
          { provide: NotificationHub, useValue: notices },
          { provide: RegistryWriter, useValue: writer },
          { provide: ImmutabilityRules, useValue: immutability },
          { provide: VulnerabilityPolicies, useValue: vulnerabilities },
          { provide: ContentTrust, useValue: contentTrust },
        ],
      }),
      new FastifyAdapter(fastify),
      { logger: ['error', 'warn'], abortOnError: false, bodyParser: false },
    );
    app.useGlobalFilters(new ApiErrorFilter());
    app.useGlobalInterceptors(
      new ValidationInterceptor(app.get(Reflector), { checkResponses: options.checkResponses ?? false }),
      new ResponseInterceptor(),
    );
    // Every signal that ends the process, except SIGHUP: that one reloads the certificate (see `wharf start`).
    app.enableShutdownHooks(Object.values(ShutdownSignal).filter((signal) => signal !== ShutdownSignal.SIGHUP));
    await app.init();
    for (const warning of served?.current.warnings ?? []) log.warn(warning);
    let url: string;
    let httpUrl: string;
    if (served && config.https) {
      await app.listen(config.https.port, config.http.host);
      url = listenerUrl('https', fastify.server.address());
      redirector = createServer(redirectToHttps(httpsRedirectBase(config)));
      await listen(redirector, options.port ?? config.http.port, config.http.host);
      httpUrl = listenerUrl('http', redirector.address());
      log.info(`serving HTTPS with ${certificateSummary(served.current.certificate)}`);
    } else {
      await app.listen(options.port ?? config.http.port, config.http.host);
      url = listenerUrl('http', fastify.server.address());
      httpUrl = url;
    }
    const started = app;
    return {
      app: started,
      fastify,
      url,
      httpUrl,
      reloadCertificate: async () => {
        if (!served) {
          log.info('no https section in the configuration: there is no certificate to reload');
          return;
        }
        try {
          const material = await served.reload();
          for (const warning of material.warnings) log.warn(warning);
          log.info(`reloaded the certificate: now serving ${certificateSummary(material.certificate)}`);
        } catch (error) {
          log.error(`certificate reload failed, still serving the previous one: ${(error as Error).message}`);
          throw error;
        }
      },
      close: async () => {
        if (redirector) await closeServer(redirector);
        await started.close();
        await mounted.close();
        await immutability?.close();
        await vulnerabilities?.close();
        await contentTrust?.close();
        await notices.close();
        await jobs.close();
        redis.disconnect();
        await dataSource.destroy();
      },
    };
  } catch (error) {
    if (redirector) await closeServer(redirector).catch(() => undefined);
    // Before Nest owns the Fastify instance, closing it is ours to do (it ends the registry's LISTEN connection).
    await (app ?? fastify)?.close().catch(() => undefined);
    await registry?.close().catch(() => undefined);
    await immutability?.close().catch(() => undefined);
    await vulnerabilities?.close().catch(() => undefined);
    await contentTrust?.close().catch(() => undefined);
    await notices.close();
    await jobs.close().catch(() => undefined);
    redis.disconnect();
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
}

/** Registry uploads may take long: a request stays open as long as bytes keep coming. */
function keepOpenWhileBytesFlow(server: HttpServer): void {
  server.requestTimeout = 0;
  server.setTimeout(0);
  server.keepAliveTimeout = 75_000;
}

function listen(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** How a client on this host reaches a listener: an unspecified bind address becomes the IPv4 loopback. */
function listenerUrl(scheme: 'http' | 'https', address: AddressInfo | string | null): string {
  if (address === null || typeof address === 'string') throw new Error('the server does not listen on a TCP port');
  const unspecified = address.address === '0.0.0.0' || address.address === '::';
  const host = unspecified ? '127.0.0.1' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}
