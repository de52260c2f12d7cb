export * from './core.server.js';
