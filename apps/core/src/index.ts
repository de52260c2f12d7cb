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
export {
  BUILT_IN_SCANNER,
  type BuiltInScanner,
  type ScannerAvailability,
  TRIVY_SCANNER,
  TrivyBinaryProbe,
  TrivyBuiltInScanner,
  builtInTrivyMetadata,
  trivyScannerConfig,
} from './scanners/built-in-scanner.js';
export { type ResolvedScanner, type ScannerRegistration, ScannerService } from './services/scanner.service.js';
