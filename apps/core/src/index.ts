export * from './core.server.js';
export { type PreparedSecret, prepareSecrets } from './secrets.js';
export {
  type OpenedWorkerDependencies,
  type WorkerDependencies,
  WorkerModule,
  openWorkerDependencies,
} from './worker.module.js';
export { OutboxConsumerService, armEventTrim } from './services/outbox-consumer.service.js';
export { ScheduleService } from './services/schedule.service.js';
export { UploadPurgeService, uploadPurgeCron } from './services/upload-purge.service.js';
