export * from './enum.js';
export * from './errors.js';
export * from './job.declarations.js';
export { OnJob, type JobContext, type JobHandler } from './on-job.decorator.js';
export * from './task-store.js';
export * from './job-handler.registry.js';
export * from './job.runner.js';
export { isTransientError } from './retryable.js';
export * from './heartbeat.js';
