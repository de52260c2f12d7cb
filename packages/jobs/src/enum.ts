/** Every kind of background work Wharf runs. The value is what BullMQ stores as the job's name. */
export enum JobName {
  UploadPurge = 'UPLOAD_PURGE',
  EventTrim = 'EVENT_TRIM',
  OutboxDelivery = 'OUTBOX_DELIVERY',
  PurgeAuditLog = 'PURGE_AUDIT_LOG',
  GarbageCollection = 'GARBAGE_COLLECTION',
  ScheduledRun = 'SCHEDULED_RUN',
  Retention = 'RETENTION',
  ScanArtifact = 'SCAN_ARTIFACT',
}

/** BullMQ queues. A process that works a queue runs every job type on it, so one queue carries related work. */
export enum QueueName {
  Maintenance = 'maintenance',
  Events = 'events',
  /** Harbor's system jobs: garbage collection and the audit log purge. */
  System = 'system',
  Retention = 'retention',
  /** Scans of artifacts: each job runs a scanner (the trivy binary, or waits on an external adapter). */
  Scan = 'scan',
}
