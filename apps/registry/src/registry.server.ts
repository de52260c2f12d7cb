import { readFile } from 'node:fs/promises';
import { type WharfConfig } from '@wharf/config';
import {
  MANIFEST_CHANGE_CHANNEL,
  NotificationHub,
  REGISTRY_APPLICATION_NAME,
  RegistryRepository,
  createDataSource,
  pendingMigrations,
} from '@wharf/db';
import {
  type AccessController,
  OpenAccessController,
  type PullRecorder,
  TokenAccessController,
  registryClientErrorHandler,
  registryRefuseConnect,
  registryRefuseExpectation,
  registryFrameworkErrors,
  registryPlugin,
  scheduleEventTrim,
  scheduleUploadPurge,
} from '@wharf/registry';
import { S3_MIN_PART_SIZE, createStorageDriver } from '@wharf/storage';
import Fastify, { type FastifyInstance, LogController } from 'fastify';

export interface RegistryServer {
  app: FastifyInstance;
  /** The address it listens on, e.g. http://127.0.0.1:5000. */
  url: string;
  close(): Promise<void>;
}

async function accessController(config: WharfConfig): Promise<AccessController> {
  if (config.registry.auth === 'none') return new OpenAccessController();
  const token = config.registry.token;
  if (!token) {
    throw new Error(
      'registry.auth is token but registry.token is not set: give registry.token.realm, service, issuer and public_key',
    );
  }
  let pem: string;
  try {
    pem = await readFile(token.publicKeyFile, 'utf8');
  } catch (error) {
    throw new Error(`registry.token.public_key: cannot read ${token.publicKeyFile}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return TokenAccessController.create({
    realm: token.realm,
    service: token.service,
    issuer: token.issuer,
    publicKeyPem: pem,
  });
}

/** The registry engine alone, as `registry:2` is used: `wharf start registry`. */
export async function startRegistryServer(config: WharfConfig): Promise<RegistryServer> {
  const app = Fastify({
    logger: { level: config.log.level },
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    // Uploads of large layers may take long; a request stays open as long as bytes keep coming.
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: 75_000,
    bodyLimit: 4 * 1024 * 1024,
    routerOptions: { maxParamLength: 1024 },
    frameworkErrors: registryFrameworkErrors,
    clientErrorHandler: registryClientErrorHandler,
  });
  app.server.on('connect', registryRefuseConnect);
  app.server.on('checkExpectation', registryRefuseExpectation);
  if (config.registry.auth === 'none') {
    app.log.warn(
      'registry.auth is none: every client may push, pull and delete; use it only for a registry on loopback',
    );
  }
  const access = await accessController(config);
  const dataSource = createDataSource({
    ...config.database,
    maxOpenConns: config.database.maxOpenConns,
    applicationName: REGISTRY_APPLICATION_NAME,
  });
  await dataSource.initialize();
  const notices = new NotificationHub({ ...config.database, applicationName: REGISTRY_APPLICATION_NAME });
  let pulls: PullRecorder | undefined;
  let stopPurge: (() => Promise<void>) | undefined;
  try {
    const pending = await pendingMigrations(dataSource);
    if (pending.length > 0) {
      throw new Error(
        `the database schema is not up to date (${pending.length} migrations pending): run wharf migrate --config FILE`,
      );
    }
    const storage = await createStorageDriver(config.storage);
    const repository = new RegistryRepository(dataSource);
    await app.register(registryPlugin, {
      repository,
      storage,
      access,
      maxManifestBytes: config.registry.maxManifestBytes,
      redirect: config.storageRedirect,
      chunkMinLength:
        config.storage.driver === 's3' ? Math.max(config.storage.chunkSize ?? 0, S3_MIN_PART_SIZE) : undefined,
      cacheInvalidation: (handlers) => notices.subscribe(MANIFEST_CHANGE_CHANNEL, handlers),
      onPullRecorder: (recorder) => (pulls = recorder),
    });
    if (config.uploadPurging.enabled) {
      stopPurge = scheduleUploadPurge(repository, storage, config.uploadPurging, app.log);
    }
    const address = await app.listen({ host: config.registry.host, port: config.registry.port });
    // While no core has started on the database, nothing delivers this registry's events: they are deleted once old.
    const stopEventTrim = scheduleEventTrim(repository, app.log);
    return {
      app,
      url: address,
      close: async () => {
        const purgeStopped = stopPurge?.();
        const trimStopped = stopEventTrim();
        await app.close();
        await Promise.all([purgeStopped, trimStopped]);
        await pulls?.flush();
        await notices.close();
        await dataSource.destroy();
      },
    };
  } catch (error) {
    await stopPurge?.();
    await app.close().catch(() => undefined);
    await notices.close();
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
}
