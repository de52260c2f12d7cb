export * from './database.js';
export * from './ports.js';
export * from './images.js';
export * from './processes.js';
export * from './certificates.js';
export * from './raw-http.js';
