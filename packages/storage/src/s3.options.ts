import { type StorageOptions } from './types.js';

// These live apart from the S3 driver so that reading them does not load the AWS SDK, which only an S3 storage needs.

export type S3StorageOptions = Extract<StorageOptions, { driver: 's3' }>;

export const MiB = 1024 * 1024;
/** S3's smallest part (except the last one of an upload). */
export const S3_MIN_PART_SIZE = 5 * MiB;
export const S3_DEFAULT_CHUNK_SIZE = 10 * MiB;
