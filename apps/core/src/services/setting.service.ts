import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { type EntityManager } from 'typeorm';
import { SettingRepository } from '../repositories/setting.repository.js';

const SETTING_FIELDS = {
  /** Who may create projects. */
  project_creation_restriction: z.enum(['everyone', 'adminonly']),
  /** Lifetime of registry tokens, in minutes. */
  token_expiration: z.number().int().min(1).max(1440),
  /** Default lifetime of new robot accounts, in days. */
  robot_token_duration: z.number().int().min(1).max(36500),
  /** Storage limit of new projects in bytes; -1 for none. */
  storage_per_project: z.number().int().min(-1),
};

/** The settings an administrator changes at run time (Harbor's /configurations), with their defaults. */
export const SystemSettings = z.object({
  project_creation_restriction: SETTING_FIELDS.project_creation_restriction.default('everyone'),
  token_expiration: SETTING_FIELDS.token_expiration.default(30),
  robot_token_duration: SETTING_FIELDS.robot_token_duration.default(30),
  storage_per_project: SETTING_FIELDS.storage_per_project.default(-1),
});
export type SystemSettings = z.infer<typeof SystemSettings>;
/** A change of some settings: only the keys given are written (no defaults filled in for the others). */
export const SystemSettingsUpdate = z.object(SETTING_FIELDS).partial().strict();
export type SystemSettingsUpdate = z.infer<typeof SystemSettingsUpdate>;

@Injectable()
export class SettingService {
  constructor(private readonly settings: SettingRepository) {}

  async get(): Promise<SystemSettings> {
    const stored = await this.settings.all();
    // A stored value that no longer validates (an older format) falls back to its default rather than failing.
    const result: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(SystemSettings.shape)) {
      const parsed = (field as z.ZodType).safeParse(stored[name]);
      result[name] = parsed.success ? parsed.data : (field as z.ZodType).parse(undefined);
    }
    return SystemSettings.parse(result);
  }

  async update(update: SystemSettingsUpdate, manager?: EntityManager): Promise<SystemSettings> {
    await this.settings.put(update, manager);
    return this.get();
  }
}
