export * from './core.server.js';
export { type PreparedSecret, prepareSecrets } from './secrets.js';
export {
  type OpenedWorkerDependencies,
  type WorkerDependencies,
  WorkerModule,
  openWorkerDependencies,
} from './worker.module.js';
