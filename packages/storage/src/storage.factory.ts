import { FilesystemDriver } from './filesystem.driver.js';
import { S3Driver } from './s3.driver.js';
import { type StorageDriver, type StorageOptions, StorageError } from './types.js';

/** Builds the driver named by options.driver. */
export function createStorageDriver(options: StorageOptions): StorageDriver {
  const driver = (options as { driver?: unknown } | null)?.driver;
  switch (options?.driver) {
    case 'filesystem':
      return new FilesystemDriver(options.rootDirectory);
    case 's3':
      return new S3Driver(options);
    default:
      throw new StorageError(`unknown storage driver ${JSON.stringify(driver)} (expected "filesystem" or "s3")`);
  }
}
