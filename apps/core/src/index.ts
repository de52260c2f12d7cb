export * from './core.server.js';
export { type PreparedSecret, prepareSecrets, secretDirectory } from './secrets.js';
