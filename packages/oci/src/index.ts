export * from './accessory.js';
export * from './digest.js';
export * from './errors.js';
export * from './manifest.js';
export * from './media-types.js';
export * from './reference.js';
