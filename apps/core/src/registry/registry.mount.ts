import { type SigningKey } from '@wharf/auth';
import { type WharfConfig } from '@wharf/config';
import { MANIFEST_CHANGE_CHANNEL, RegistryRepository, listenForNotifications } from '@wharf/db';
import { type PullRecorder, TokenAccessController, registryPlugin, scheduleUploadPurge } from '@wharf/registry';
import { S3_MIN_PART_SIZE, type StorageDriver } from '@wharf/storage';
import { type FastifyInstance } from 'fastify';
import { type DataSource } from 'typeorm';
import { externalUrl } from '../urls.js';
import { CoreAccessController } from './core-access.controller.js';
import { ProjectQuotaPolicy } from './project-quota.policy.js';
import { RegistryProjectRepository } from './registry-project.repository.js';
import { REGISTRY_SERVICE, TOKEN_ISSUER, TOKEN_SERVICE_PATH } from './registry.constants.js';

export interface RegistryMountOptions {
  config: WharfConfig;
  dataSource: DataSource;
  /** The storage driver the rest of core uses, so both see the same blobs. */
  storage: StorageDriver;
  /** The key core's token service signs with; the registry verifies with its public half. */
  signingKey: SigningKey;
}

export interface MountedRegistry {
  /**
   * Stops the upload purge and writes the pull events still pending. Call it after the server has closed (no
   * request records pulls any more) and before the database connection goes.
   */
  close(): Promise<void>;
}

/**
 * Mounts the registry engine at `/v2` in core's own Fastify instance: blob bytes stream between socket and storage in
 * this process, with no proxy hop. Requests carry tokens from core's token service; every push passes the project
 * and quota policy. The plugin is registered in its own encapsulated context, so its body handling and error
 * envelope stay inside `/v2` and the API keeps its own.
 */
export async function mountRegistry(fastify: FastifyInstance, options: RegistryMountOptions): Promise<MountedRegistry> {
  const { config, dataSource, storage, signingKey } = options;
  const repository = new RegistryRepository(dataSource);
  const projects = new RegistryProjectRepository(dataSource);
  const tokens = await TokenAccessController.create({
    realm: `${externalUrl(config)}${TOKEN_SERVICE_PATH}`,
    service: REGISTRY_SERVICE,
    issuer: TOKEN_ISSUER,
    publicKeyPem: signingKey.publicKeyPem,
  });
  let pulls: PullRecorder | undefined;
  await fastify.register(registryPlugin, {
    repository,
    storage,
    access: new CoreAccessController(tokens, projects),
    policies: [new ProjectQuotaPolicy(projects)],
    maxManifestBytes: config.registry.maxManifestBytes,
    redirect: config.storageRedirect,
    chunkMinLength:
      config.storage.driver === 's3' ? Math.max(config.storage.chunkSize ?? 0, S3_MIN_PART_SIZE) : undefined,
    cacheInvalidation: (handlers) =>
      listenForNotifications({ ...config.database, applicationName: 'wharf-core' }, MANIFEST_CHANGE_CHANNEL, handlers),
    onPullRecorder: (recorder) => (pulls = recorder),
  });
  const stopPurge = config.uploadPurging.enabled
    ? scheduleUploadPurge(repository, storage, config.uploadPurging, fastify.log)
    : undefined;
  return {
    close: async () => {
      stopPurge?.();
      await pulls?.flush();
    },
  };
}
