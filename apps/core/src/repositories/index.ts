import { AuditRepository } from './audit.repository.js';
import { ProjectRepository } from './project.repository.js';
import { RobotRepository } from './robot.repository.js';
import { SessionRepository } from './session.repository.js';
import { SettingRepository } from './setting.repository.js';
import { ThrottleRepository } from './throttle.repository.js';
import { UserRepository } from './user.repository.js';

export const REPOSITORIES = [
  AuditRepository,
  ProjectRepository,
  RobotRepository,
  SessionRepository,
  SettingRepository,
  ThrottleRepository,
  UserRepository,
];
