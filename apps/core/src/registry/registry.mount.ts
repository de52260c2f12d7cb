import { type SigningKey } from '@wharf/auth';
import { type WharfConfig } from '@wharf/config';
import { ACCESS_CHANGE_CHANNEL, MANIFEST_CHANGE_CHANNEL, type NotificationHub, RegistryRepository } from '@wharf/db';
import {
  type PullRecorder,
  type RegistryWriter,
  TokenAccessController,
  registryFrameworkErrors,
  registryPlugin,
} from '@wharf/registry';
import { S3_MIN_PART_SIZE, type StorageDriver } from '@wharf/storage';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { type DataSource } from 'typeorm';
import { echoRequestId } from '../http/request-id.js';
import { externalUrl } from '../urls.js';
import { CoreAccessController } from './core-access.controller.js';
import { ProjectRepository } from '../repositories/project.repository.js';
import { RobotRepository } from '../repositories/robot.repository.js';
import { UserRepository } from '../repositories/user.repository.js';
import { AccessService } from '../services/access.service.js';
import { RegistryProjectRepository } from './registry-project.repository.js';
import { TokenGrantCache } from './token-grant.cache.js';
import { REGISTRY_SERVICE, SCANNER_ACTOR, TOKEN_ISSUER, TOKEN_SERVICE_PATH } from './registry.constants.js';

export interface RegistryMountOptions {
  config: WharfConfig;
  dataSource: DataSource;
  /** The storage driver the rest of core uses, so both see the same blobs. */
  storage: StorageDriver;
  /** The key core's token service signs with; the registry verifies with its public half. */
  signingKey: SigningKey;
  /** The process's change notices, which keep the manifest and access caches coherent. */
  notices: NotificationHub;
  /** The writer core's API shares with the engine, with core's policy chain (see registryWriter). */
  writer: RegistryWriter;
}

export interface MountedRegistry {
  /** The registry's own Fastify instance (ready; it does not listen: core's server hands it the /v2 requests). */
  app: FastifyInstance;
  /** Serves one /v2 request that core's HTTP server received. */
  handle(request: IncomingMessage, response: ServerResponse): void;
  /**
   * Stops the upload purge, closes the instance and writes the pull events still pending. Call it after core's server
   * has closed (no request records pulls any more) and before the database connection goes.
   */
  close(): Promise<void>;
}

/** Whether a request target belongs to the registry: `/v2`, `/v2/…`, with or without a query. */
export function isRegistryPath(url: string | undefined): boolean {
  if (url === undefined || !url.startsWith('/v2')) return false;
  const next = url.charCodeAt(3);
  // End of string, '/' or '?'.
  return Number.isNaN(next) || next === 47 || next === 63;
}

/**
 * Runs the registry engine for `/v2` inside core's process: blob bytes stream between socket and storage here, with
 * no proxy hop. It gets a Fastify instance of its own, fed by core's HTTP server, so the registry's hot path runs only
 * its own hooks (none of the API's cookie parsing or Nest's lifecycle hooks), and its body handling and error envelope
 * stay apart from the API's. Requests carry tokens from core's token service; every push and delete passes core's
 * policy chain.
 */
export async function mountRegistry(
  fastifyOptions: FastifyServerOptions,
  options: RegistryMountOptions,
): Promise<MountedRegistry> {
  const { config, dataSource, storage, signingKey, notices, writer } = options;
  let handle: ((request: IncomingMessage, response: ServerResponse) => void) | undefined;
  const fastify = Fastify({
    ...fastifyOptions,
    frameworkErrors: registryFrameworkErrors,
    // Fastify hands over its request handler here; the server it asks for is never listened on.
    serverFactory: (handler) => {
      handle = handler;
      return createServer();
    },
  });
  echoRequestId(fastify);
  const repository = new RegistryRepository(dataSource);
  const projects = new RegistryProjectRepository(dataSource);
  const tokens = await TokenAccessController.create({
    realm: `${externalUrl(config)}${TOKEN_SERVICE_PATH}`,
    service: REGISTRY_SERVICE,
    issuer: TOKEN_ISSUER,
    publicKeyPem: signingKey.publicKeyPem,
  });
  const projectRefs = new ProjectRepository(dataSource);
  const grants = new TokenGrantCache(
    {
      users: new UserRepository(dataSource),
      robots: new RobotRepository(dataSource),
      projects: projectRefs,
      access: new AccessService(projectRefs),
    },
    (handlers) => notices.subscribe(ACCESS_CHANGE_CHANNEL, handlers),
  );
  let pulls: PullRecorder | undefined;
  try {
    await fastify.register(registryPlugin, {
      repository,
      storage,
      access: new CoreAccessController(tokens, projects, grants),
      writer,
      maxManifestBytes: config.registry.maxManifestBytes,
      redirect: config.storageRedirect,
      chunkMinLength:
        config.storage.driver === 's3' ? Math.max(config.storage.chunkSize ?? 0, S3_MIN_PART_SIZE) : undefined,
      cacheInvalidation: (handlers) => notices.subscribe(MANIFEST_CHANGE_CHANNEL, handlers),
      onPullRecorder: (recorder) => (pulls = recorder),
      // A scan reads the artifact; nobody pulled it: its pull time and count stay as they were.
      unrecordedActors: [SCANNER_ACTOR],
    });
    await fastify.ready();
  } catch (error) {
    await grants.close();
    throw error;
  }
  if (!handle) throw new Error('Fastify did not hand over its request handler');
  return {
    app: fastify,
    handle,
    close: async () => {
      await fastify.close();
      await grants.close();
      await pulls?.flush();
    },
  };
}
