export * from './types.js';
export * from './adapter-client.js';
