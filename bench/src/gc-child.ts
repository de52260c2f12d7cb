import { RegistryRepository, createDataSource } from '@wharf/db';
import { GarbageCollector, type GcOptions } from '@wharf/registry';
import { type StorageOptions, createStorageDriver } from '@wharf/storage';
import { type TestDatabase } from '@wharf/testkit';

/**
 * Runs one garbage collection in a process of its own, as a job worker would, so that its work does not share an
 * event loop with the load the benchmark measures. Arguments: a JSON object with the database, the storage and the
 * collection's options; the collector's own settings are its defaults (those of harbor.yml's defaults). Prints the
 * result as JSON on stdout, each log line on stderr.
 */
interface ChildArguments {
  database: Pick<TestDatabase, 'host' | 'port' | 'database' | 'username' | 'password'>;
  storage: StorageOptions;
  options: GcOptions;
}

const args = JSON.parse(process.argv[2] ?? '{}') as ChildArguments;
const dataSource = createDataSource({ ...args.database, maxOpenConns: args.options.workers + 2 });
await dataSource.initialize();
const storage = await createStorageDriver(args.storage);
try {
  const collector = new GarbageCollector(dataSource, new RegistryRepository(dataSource), storage);
  const started = performance.now();
  const result = await collector.run(args.options, {
    log: (line) => void process.stderr.write(`[gc] ${line}\n`),
    signal: new AbortController().signal,
  });
  process.stdout.write(JSON.stringify({ ...result, totalMs: performance.now() - started }));
} finally {
  (storage as { destroy?: () => void }).destroy?.();
  await dataSource.destroy();
}
