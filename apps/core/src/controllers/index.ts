import { AuditLogController } from './audit-log.controller.js';
import { SearchController } from './search.controller.js';
import { StatisticController } from './statistic.controller.js';
import { PermissionController } from './permission.controller.js';
import { RobotController } from './robot.controller.js';
import { SystemController } from './system.controller.js';
import { TokenController } from './token.controller.js';
import { SessionController } from './session.controller.js';
import { UserController } from './user.controller.js';
import { ConfigurationController } from './configuration.controller.js';
import { MemberController } from './member.controller.js';
import { ProjectController } from './project.controller.js';
import { QuotaController } from './quota.controller.js';
import { OpenApiController } from './openapi.controller.js';
import { ArtifactController } from './artifact.controller.js';
import { RepositoryController } from './repository.controller.js';
import { TagController } from './tag.controller.js';
import { ImmutableRuleController } from './immutable-rule.controller.js';
import { TrustedKeyController } from './trusted-key.controller.js';
import { GcController, PurgeAuditController } from './system-job.controller.js';
import { RetentionController } from './retention.controller.js';
import { JobServiceController } from './jobservice.controller.js';
import { CveAllowlistController } from './cve-allowlist.controller.js';
import { SecurityHubController } from './security-hub.controller.js';
import { ScanController } from './scan.controller.js';
import { ScannerController } from './scanner.controller.js';

/** Every controller of the API; the OpenAPI document is generated from these. */
export const CONTROLLERS = [
  AuditLogController,
  SearchController,
  StatisticController,
  SystemController,
  RobotController,
  PermissionController,
  TokenController,
  UserController,
  SessionController,
  ProjectController,
  MemberController,
  QuotaController,
  ConfigurationController,
  OpenApiController,
  RepositoryController,
  ArtifactController,
  TagController,
  ImmutableRuleController,
  TrustedKeyController,
  PurgeAuditController,
  GcController,
  RetentionController,
  JobServiceController,
  CveAllowlistController,
  SecurityHubController,
  ScannerController,
  ScanController,
];
