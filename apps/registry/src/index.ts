export * from './registry.server.js';
