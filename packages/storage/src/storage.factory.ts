import { FilesystemDriver } from './filesystem.driver.js';
import { type StorageDriver, type StorageOptions, StorageError } from './types.js';

/** Builds the driver named by options.driver; the S3 driver, and with it the AWS SDK, is loaded only when named. */
export async function createStorageDriver(options: StorageOptions): Promise<StorageDriver> {
  const driver = (options as { driver?: unknown } | null)?.driver;
  switch (options?.driver) {
    case 'filesystem':
      return new FilesystemDriver(options.rootDirectory, { directIO: options.directIO });
    case 's3':
      return new (await import('./s3.driver.js')).S3Driver(options);
    default:
      throw new StorageError(`unknown storage driver ${JSON.stringify(driver)} (expected "filesystem" or "s3")`);
  }
}
