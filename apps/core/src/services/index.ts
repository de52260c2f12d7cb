import { AccessService } from './access.service.js';
import { ImmutabilityRules } from '../policy/immutability.js';
import { AuditService } from './audit.service.js';
import { AuditPurgeService } from './audit-purge.service.js';
import { CredentialService } from './credential.service.js';
import { OutboxConsumerService } from './outbox-consumer.service.js';
import { SearchService } from './search.service.js';
import { RobotService } from './robot.service.js';
import { SessionService } from './session.service.js';
import { SettingService } from './setting.service.js';
import { StatisticService } from './statistic.service.js';
import { SystemService } from './system.service.js';
import { TokenService } from './token.service.js';
import { UserService } from './user.service.js';
import { ConfigurationService } from './configuration.service.js';
import { MemberService } from './member.service.js';
import { ProjectService } from './project.service.js';
import { QuotaService } from './quota.service.js';
import { ArtifactPageIndex } from './artifact.page-index.js';
import { ArtifactService } from './artifact.service.js';
import { ImageRepositoryService } from './repository.service.js';
import { TagService } from './tag.service.js';
import { ScheduleService } from './schedule.service.js';
import { SystemJobService } from './system-job.service.js';
import { ImmutableRuleService } from './immutable-rule.service.js';
import { TrustedKeyService } from './trusted-key.service.js';
import { TaskService } from './task.service.js';
import { JobMonitorService } from './job-monitor.service.js';
import { UploadPurgeService } from './upload-purge.service.js';
import {
  ArtifactRetentionDeleter,
  IMMUTABILITY_CHECK,
  RETENTION_DELETER,
  RetentionEngine,
} from './retention-engine.service.js';
import { RetentionService } from './retention.service.js';
import { CveAllowlistService } from './cve-allowlist.service.js';
import { ScanReportService } from './scan-report.service.js';
import { ScanService } from './scan.service.js';
import { SecurityHubService } from './security-hub.service.js';
import { RetentionExecutionService } from './retention-execution.service.js';
import { ScannerService } from './scanner.service.js';

export const SERVICES = [
  AccessService,
  AuditService,
  AuditPurgeService,
  CredentialService,
  OutboxConsumerService,
  SearchService,
  RobotService,
  SessionService,
  SettingService,
  StatisticService,
  SystemService,
  TokenService,
  UserService,
  ProjectService,
  MemberService,
  QuotaService,
  ConfigurationService,
  ArtifactPageIndex,
  ImageRepositoryService,
  ArtifactService,
  TagService,
  ImmutableRuleService,
  TrustedKeyService,
  TaskService,
  JobMonitorService,
  ScheduleService,
  SystemJobService,
  UploadPurgeService,
  RetentionService,
  RetentionEngine,
  RetentionExecutionService,
  CveAllowlistService,
  ScanReportService,
  ScanService,
  SecurityHubService,
  ScannerService,
  // Tag retention deletes through the artifact API's delete path and keeps what the project's rules make immutable.
  { provide: RETENTION_DELETER, useClass: ArtifactRetentionDeleter },
  { provide: IMMUTABILITY_CHECK, useExisting: ImmutabilityRules },
];
