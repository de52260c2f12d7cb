import { AuditRepository } from './audit.repository.js';
import { OutboxRepository } from './outbox.repository.js';
import { ProjectRepository } from './project.repository.js';
import { RobotRepository } from './robot.repository.js';
import { SearchRepository } from './search.repository.js';
import { SessionRepository } from './session.repository.js';
import { SettingRepository } from './setting.repository.js';
import { StatisticRepository } from './statistic.repository.js';
import { ThrottleRepository } from './throttle.repository.js';
import { UserRepository } from './user.repository.js';
import { MemberRepository } from './member.repository.js';
import { QuotaRepository } from './quota.repository.js';
import { ArtifactRepository } from './artifact.repository.js';
import { ImageRepositoryRepository } from './repository.repository.js';
import { TagRepository } from './tag.repository.js';
import { ImmutableRuleRepository } from './immutable-rule.repository.js';
import { TrustedKeyRepository } from './trusted-key.repository.js';
import { RetentionRepository } from './retention.repository.js';
import { CveAllowlistRepository } from './cve-allowlist.repository.js';
import { ScanReportRepository } from './scan-report.repository.js';
import { SecurityHubRepository } from './security-hub.repository.js';
import { ScannerRepository } from './scanner.repository.js';

export const REPOSITORIES = [
  AuditRepository,
  OutboxRepository,
  ProjectRepository,
  RobotRepository,
  SearchRepository,
  SessionRepository,
  SettingRepository,
  StatisticRepository,
  ThrottleRepository,
  UserRepository,
  MemberRepository,
  QuotaRepository,
  ArtifactRepository,
  ImageRepositoryRepository,
  TagRepository,
  ImmutableRuleRepository,
  TrustedKeyRepository,
  RetentionRepository,
  CveAllowlistRepository,
  ScanReportRepository,
  SecurityHubRepository,
  ScannerRepository,
];
