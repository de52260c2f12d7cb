export * from './query.error.js';
export * from './query.parser.js';
export * from './filter.builder.js';
export * from './order.builder.js';
export * from './pagination.js';
