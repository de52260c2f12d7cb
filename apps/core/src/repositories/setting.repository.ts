import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

/** System settings changed at run time through the API, one JSON value per name. */
@Injectable()
export class SettingRepository {
  constructor(private readonly dataSource: DataSource) {}

  async all(): Promise<Record<string, unknown>> {
    const rows = await this.dataSource.query<{ name: string; value: unknown }[]>(
      `SELECT name, value FROM system_setting`,
    );
    return Object.fromEntries(rows.map((row) => [row.name, row.value]));
  }

  async put(values: Record<string, unknown>, manager: EntityManager = this.dataSource.manager): Promise<void> {
    for (const [name, value] of Object.entries(values)) {
      await manager.query(
        `INSERT INTO system_setting (name, value) VALUES ($1, $2::jsonb)
         ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, update_time = now()`,
        [name, JSON.stringify(value)],
      );
    }
  }
}
