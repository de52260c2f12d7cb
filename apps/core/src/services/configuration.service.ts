import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { type RequestAuth, principalName } from '../auth/principal.js';
import { type ConfigurationsDto, type ConfigurationsResponseDto } from '../dtos/configuration.dto.js';
import { ApiError } from '../errors/api-error.js';
import { AuditService } from './audit.service.js';
import { SettingService, SystemSettings, SystemSettingsUpdate } from './setting.service.js';

/** Wharf authenticates against its own user database only, so the mode is shown but cannot change. */
const AUTH_MODE = 'db_auth';
const READ_ONLY_KEYS = new Set(['auth_mode']);
const EDITABLE_KEYS = new Set(Object.keys(SystemSettings.shape));

/** Harbor's /configurations over the settings an administrator may change at run time. */
@Injectable()
export class ConfigurationService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly settings: SettingService,
    private readonly audit: AuditService,
  ) {}

  async get(): Promise<ConfigurationsResponseDto> {
    const settings = await this.settings.get();
    return {
      auth_mode: { value: AUTH_MODE, editable: false },
      project_creation_restriction: { value: settings.project_creation_restriction, editable: true },
      token_expiration: { value: settings.token_expiration, editable: true },
      robot_token_duration: { value: settings.robot_token_duration, editable: true },
      storage_per_project: { value: settings.storage_per_project, editable: true },
    };
  }

  async update(auth: RequestAuth, body: ConfigurationsDto): Promise<void> {
    const keys = Object.keys(body);
    if (keys.length === 0) throw ApiError.badRequest('give at least one setting to change');
    const readOnly = keys.filter((key) => READ_ONLY_KEYS.has(key));
    const unknown = keys.filter((key) => !READ_ONLY_KEYS.has(key) && !EDITABLE_KEYS.has(key));
    const problems: string[] = [];
    if (readOnly.length > 0) problems.push(`${readOnly.join(', ')}: cannot be changed`);
    if (unknown.length > 0) {
      problems.push(`${unknown.join(', ')}: not a setting; settings are ${[...EDITABLE_KEYS].sort().join(', ')}`);
    }
    if (problems.length > 0) throw ApiError.badRequest(problems.join('; '));
    const parsed = SystemSettingsUpdate.safeParse(body);
    if (!parsed.success) {
      throw ApiError.badRequest(
        parsed.error.issues.map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`).join('; '),
      );
    }
    // The update schema fills in defaults for the settings not given; only those given may change.
    const given = Object.fromEntries(
      Object.entries(parsed.data).filter(([key]) => Object.hasOwn(body, key)),
    ) as SystemSettingsUpdate;
    await this.dataSource.transaction(async (manager) => {
      await this.settings.update(given, manager);
      await this.audit.record(manager, {
        projectId: null,
        operation: 'update',
        resourceType: 'configuration',
        resource: keys.sort().join(','),
        username: principalName(auth.principal),
      });
    });
  }
}
