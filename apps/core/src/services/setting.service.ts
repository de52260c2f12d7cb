import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { type EntityManager } from 'typeorm';
import { SettingRepository } from '../repositories/setting.repository.js';

/** The settings an administrator changes at run time (Harbor's /configurations), with their defaults. */
export const SystemSettings = z.object({
  /** Who may create projects. */
  project_creation_restriction: z.enum(['everyone', 'adminonly']).default('everyone'),
  /** Lifetime of registry tokens, in minutes. */
  token_expiration: z.number().int().min(1).max(1440).default(30),
  /** Default lifetime of new robot accounts, in days. */
  robot_token_duration: z.number().int().min(1).max(36500).default(30),
  /** Storage limit of new projects in bytes; -1 for none. */
  storage_per_project: z.number().int().min(-1).default(-1),
});
export type SystemSettings = z.infer<typeof SystemSettings>;
export const SystemSettingsUpdate = SystemSettings.partial().strict();
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
