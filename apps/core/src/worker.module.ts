import { type DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { type WharfConfig } from '@wharf/config';
import { IMMUTABLE_RULE_CHANGE_CHANNEL, NotificationHub } from '@wharf/db';
import { type JobRunner } from '@wharf/jobs';
import { RegistryWriter } from '@wharf/registry';
import { type StorageDriver, createStorageDriver } from '@wharf/storage';
import { type Redis } from 'ioredis';
import { type DataSource } from 'typeorm';
import { type AppDependencies, coreProviders } from './app.module.js';
import { SERVED_CERTIFICATE, STORAGE } from './constants.js';
import { createRedis } from './core.server.js';
import { ContentTrust, openContentTrust } from './policy/content-trust.js';
import { ImmutabilityRules } from './policy/immutability.js';
import { registryWriter } from './registry/registry-writer.js';
import { ImmutableRuleRepository } from './repositories/immutable-rule.repository.js';
import { loadCoreSecrets } from './secrets.js';

export interface WorkerDependencies extends Omit<AppDependencies, 'extra'> {
  storage: StorageDriver;
  notices: NotificationHub;
  /** The immutability rules as core keeps them, so jobs that change tags (retention) respect them as the API does. */
  immutability: ImmutabilityRules;
  /** The one writer of artifact and tag changes, with core's policy chain. */
  writer: RegistryWriter;
  /** Project content trust and signature verdicts, as the artifact API shows them. */
  contentTrust: ContentTrust;
}

/**
 * Core's services and repositories without controllers or HTTP, for jobservice: the job handlers (`@OnJob` methods
 * of core's services) run on the same code as the API. With Nest's discovery, so the process can find them.
 */
@Module({})
export class WorkerModule {
  static create(deps: WorkerDependencies): DynamicModule {
    return {
      module: WorkerModule,
      imports: [DiscoveryModule],
      providers: coreProviders({
        ...deps,
        extra: [
          { provide: STORAGE, useValue: deps.storage },
          // A worker serves no HTTPS.
          { provide: SERVED_CERTIFICATE, useValue: null },
          { provide: NotificationHub, useValue: deps.notices },
          { provide: RegistryWriter, useValue: deps.writer },
          { provide: ImmutabilityRules, useValue: deps.immutability },
          { provide: ContentTrust, useValue: deps.contentTrust },
        ],
      }),
    };
  }
}

export interface OpenedWorkerDependencies {
  dependencies: WorkerDependencies;
  /** Closes what was opened here (not the data source or the job runner, which the caller gave). */
  close(): Promise<void>;
}

/**
 * Opens what the worker module needs besides the database and the job runner: core's Redis, secrets, storage, change
 * notices, the immutability rules and the registry writer, configured as core configures them.
 */
export async function openWorkerDependencies(
  config: WharfConfig,
  given: { dataSource: DataSource; jobs: JobRunner; redisPrefix?: string },
): Promise<OpenedWorkerDependencies> {
  const secrets = await loadCoreSecrets(config.dataVolume);
  const storage = await createStorageDriver(config.storage);
  const redis: Redis = createRedis(config);
  // Core's Redis holds caches and sessions only: a worker starts without it, and ioredis keeps reconnecting.
  redis.on('error', () => undefined);
  await redis.connect().catch(() => undefined);
  const notices = new NotificationHub({ ...config.database, applicationName: 'wharf-jobservice' });
  const immutability = new ImmutabilityRules(new ImmutableRuleRepository(given.dataSource), (handlers) =>
    notices.subscribe(IMMUTABLE_RULE_CHANGE_CHANNEL, handlers),
  );
  const writer = registryWriter(given.dataSource, immutability);
  const contentTrust = openContentTrust(given.dataSource, storage, notices);
  return {
    dependencies: { config, ...given, redis, secrets, storage, notices, immutability, writer, contentTrust },
    close: async () => {
      await contentTrust.close();
      await immutability.close();
      await notices.close();
      redis.disconnect();
    },
  };
}
