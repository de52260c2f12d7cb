export * from './data-source.js';
export * from './entities/registry.entities.js';
export * from './repositories/registry.repository.js';
export * from './notification-listener.js';
export * from './prepared-query.js';
export * from './query/index.js';
export * from './storage-limit.js';
export { ACCESS_CHANGE_CHANNEL } from './migrations/1765216000000-access-change-notice.js';
export * from './unavailable.js';
