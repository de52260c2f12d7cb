import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DatabaseOptions,
  MANIFEST_CHANGE_CHANNEL,
  NotificationHub,
  RegistryRepository,
  createDataSource,
  runMigrations,
} from '@wharf/db';
import { FilesystemDriver } from '@wharf/storage';
import { type TestDatabase, createTestDatabase } from '@wharf/testkit';
import Fastify, { type FastifyInstance } from 'fastify';
import { type DataSource } from 'typeorm';
import { OpenAccessController } from '../auth/open-access.controller.js';
import { registryPlugin, type RegistryPluginOptions } from '../registry.plugin.js';

export interface TestRegistry {
  url: string;
  app: FastifyInstance;
  dataSource: DataSource;
  database: TestDatabase;
  storageRoot: string;
  repository: RegistryRepository;
  /** The payloads of the manifest change notices the registry's cache has received, in order. */
  notices: readonly string[];
  close(): Promise<void>;
}

/**
 * The engine on a real PostgreSQL database and filesystem storage, listening on a loopback port; `pool` sets the
 * connection pool (harbor.yml's database settings).
 */
export async function startTestRegistry(
  overrides: Partial<RegistryPluginOptions> = {},
  existing?: TestDatabase,
  pool: Pick<DatabaseOptions, 'maxOpenConns' | 'maxIdleConns'> = {},
): Promise<TestRegistry> {
  const db = existing ?? (await createTestDatabase('wharf_registry_spec'));
  const dataSource = createDataSource({ ...db, ...pool });
  const storageRoot = await mkdtemp(join(tmpdir(), 'wharf-registry-spec-'));
  const app = Fastify({ logger: false, requestTimeout: 0 });
  const hub = new NotificationHub(db);
  let url: string;
  let repository: RegistryRepository;
  const notices: string[] = [];
  try {
    await dataSource.initialize();
    await runMigrations(dataSource);
    repository = new RegistryRepository(dataSource);
    await app.register(registryPlugin, {
      repository,
      storage: new FilesystemDriver(storageRoot),
      access: new OpenAccessController(),
      cacheInvalidation: (handlers) =>
        hub.subscribe(MANIFEST_CHANGE_CHANNEL, {
          ...handlers,
          onMessage: (payload) => {
            notices.push(payload);
            handlers.onMessage(payload);
          },
        }),
      ...overrides,
    });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  } catch (error) {
    // A registry that did not start leaves no database or directory behind.
    await app.close().catch(() => undefined);
    await hub.close();
    if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
    if (!existing) await db.drop().catch(() => undefined);
    await rm(storageRoot, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    app,
    dataSource,
    database: db,
    storageRoot,
    repository,
    notices,
    close: async () => {
      await app.close();
      await hub.close();
      await dataSource.destroy();
      if (!existing) await db.drop();
      await rm(storageRoot, { recursive: true, force: true });
    },
  };
}
