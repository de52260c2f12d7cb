export * from './auth/open-access.controller.js';
export * from './auth/token-access.controller.js';
export * from './events/pull-recorder.js';
export * from './manifest-cache.js';
export * from './registry.plugin.js';
export * from './router.js';
export * from './types.js';
export { BlobStore, blobDataPath, uploadDataPath } from './uploads/blob-store.js';
export * from './uploads/upload-purger.js';
