export * from './core.server.js';
export { type PreparedSecret, prepareSecrets } from './secrets.js';
