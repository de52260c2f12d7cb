export * from './types.js';
export { assertStoragePath } from './paths.js';
export { FilesystemDriver } from './filesystem.driver.js';
export { S3Driver, type S3StorageOptions, S3_DEFAULT_CHUNK_SIZE, S3_MIN_PART_SIZE } from './s3.driver.js';
export { createStorageDriver } from './storage.factory.js';
