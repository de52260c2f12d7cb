export * from './types.js';
export { assertStoragePath } from './paths.js';
export { FilesystemDriver, type FilesystemDriverOptions } from './filesystem.driver.js';
export { IO_BUFFER_BYTES, copyIntoIoBuffer, ioBufferMemory, returnIoBuffer, takeIoBuffer } from './io-buffers.js';
// The S3 driver is its own entry point (@wharf/storage/s3): it loads the AWS SDK, which a filesystem storage never needs.
export { type S3StorageOptions, S3_DEFAULT_CHUNK_SIZE, S3_MIN_PART_SIZE } from './s3.options.js';
export { createStorageDriver } from './storage.factory.js';
