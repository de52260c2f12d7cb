export * from './config.error.js';
export * from './config.loader.js';
export * from './config.types.js';
export { DEFAULTS as CONFIG_DEFAULTS, formatSize, harborConfigSchema, isLoopback } from './config.schema.js';
export { parseDuration, parseSize } from './units.parser.js';
