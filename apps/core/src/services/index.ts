import { AccessService } from './access.service.js';
import { AuditService } from './audit.service.js';
import { CredentialService } from './credential.service.js';
import { SessionService } from './session.service.js';
import { SettingService } from './setting.service.js';
import { SystemService } from './system.service.js';

export const SERVICES = [AccessService, AuditService, CredentialService, SessionService, SettingService, SystemService];
