export * from './database.js';
export * from './ports.js';
export * from './images.js';
export * from './processes.js';
export * from './certificates.js';
export * from './private-services.js';
export * from './raw-http.js';
export * from './doubles/scanner-adapter.js';
