import { type DataSource } from 'typeorm';
import { parsePagination } from '../query/pagination.js';
import { type ExtraAttrs, type Page } from './execution.repository.js';

/** Harbor's schedule types that repeat; `Manual` runs once now and `None` is the absence of a schedule. */
export type CronType = 'Hourly' | 'Daily' | 'Weekly' | 'Custom';

export interface Schedule {
  id: number;
  vendorType: string;
  /** -1 when the schedule belongs to no particular object (Harbor's convention). */
  vendorId: number;
  cronType: CronType;
  cron: string;
  extraAttrs: ExtraAttrs;
  creationTime: Date;
  updateTime: Date;
}

export interface ScheduleRef {
  vendorType: string;
  vendorId?: number;
}

interface ScheduleRow {
  id: string;
  vendor_type: string;
  vendor_id: string;
  cron_type: CronType;
  cron: string;
  extra_attrs: ExtraAttrs;
  creation_time: Date;
  update_time: Date;
}

const COLUMNS = 'id, vendor_type, vendor_id, cron_type, cron, extra_attrs, creation_time, update_time';

function toSchedule(row: ScheduleRow): Schedule {
  return {
    id: Number(row.id),
    vendorType: row.vendor_type,
    vendorId: Number(row.vendor_id),
    cronType: row.cron_type,
    cron: row.cron,
    extraAttrs: row.extra_attrs,
    creationTime: row.creation_time,
    updateTime: row.update_time,
  };
}

/** The schedules of background work: at most one per vendor type and id. */
export class ScheduleRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Creates the vendor's schedule or replaces its timing and attributes, keeping its id and creation time. */
  async upsert(ref: ScheduleRef, cronType: CronType, cron: string, extraAttrs: ExtraAttrs = {}): Promise<Schedule> {
    const rows = await this.dataSource.query<ScheduleRow[]>(
      `INSERT INTO schedule (vendor_type, vendor_id, cron_type, cron, extra_attrs) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (vendor_type, vendor_id) DO UPDATE
         SET cron_type = excluded.cron_type, cron = excluded.cron, extra_attrs = excluded.extra_attrs,
             update_time = now()
       RETURNING ${COLUMNS}`,
      [ref.vendorType, ref.vendorId ?? -1, cronType, cron, JSON.stringify(extraAttrs)],
    );
    return toSchedule(rows[0]);
  }

  async get(ref: ScheduleRef): Promise<Schedule | undefined> {
    const rows = await this.dataSource.query<ScheduleRow[]>(
      `SELECT ${COLUMNS} FROM schedule WHERE vendor_type = $1 AND vendor_id = $2`,
      [ref.vendorType, ref.vendorId ?? -1],
    );
    return rows[0] ? toSchedule(rows[0]) : undefined;
  }

  async getById(id: number): Promise<Schedule | undefined> {
    const rows = await this.dataSource.query<ScheduleRow[]>(`SELECT ${COLUMNS} FROM schedule WHERE id = $1`, [id]);
    return rows[0] ? toSchedule(rows[0]) : undefined;
  }

  /** Deletes the vendor's schedule; answers the deleted one, if there was one. */
  async delete(ref: ScheduleRef): Promise<Schedule | undefined> {
    const rows = await this.dataSource.query<[ScheduleRow[], number]>(
      `DELETE FROM schedule WHERE vendor_type = $1 AND vendor_id = $2 RETURNING ${COLUMNS}`,
      [ref.vendorType, ref.vendorId ?? -1],
    );
    const deleted = rows[0][0];
    return deleted ? toSchedule(deleted) : undefined;
  }

  /** Every schedule, oldest first: what the job queue's schedulers are made from. */
  async all(): Promise<Schedule[]> {
    const rows = await this.dataSource.query<ScheduleRow[]>(`SELECT ${COLUMNS} FROM schedule ORDER BY id`);
    return rows.map(toSchedule);
  }

  async list(page?: unknown, pageSize?: unknown): Promise<Page<Schedule>> {
    const paging = parsePagination(page, pageSize);
    const [count, rows] = await Promise.all([
      this.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM schedule`),
      this.dataSource.query<ScheduleRow[]>(`SELECT ${COLUMNS} FROM schedule ORDER BY id LIMIT $1 OFFSET $2`, [
        paging.pageSize,
        paging.offset,
      ]),
    ]);
    return { items: rows.map(toSchedule), total: count[0].n, page: paging.page, pageSize: paging.pageSize };
  }
}
