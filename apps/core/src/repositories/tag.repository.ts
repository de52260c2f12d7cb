import { Injectable } from '@nestjs/common';
import { type FieldSpec, type Pagination, type QueryTerm, type SortTerm, buildFilter, buildOrderBy } from '@wharf/db';
import { DataSource } from 'typeorm';
import { TAG_COLUMNS, type TagRecord, type TagRow, toTagRecord } from './artifact.repository.js';

const FIELDS: Record<string, FieldSpec> = {
  id: { column: 't.id', type: 'int', range: true },
  name: { column: 't.name', type: 'text', fuzzy: true },
  push_time: { column: 't.updated_at', type: 'time', range: true },
  pull_time: { column: 't.pull_time', type: 'time', range: true },
};

const SORTABLE: Record<string, string> = {
  id: 't.id',
  name: 't.name',
  push_time: 't.updated_at',
  // Never pulled sorts as the oldest pull, as Harbor's zero time does (PostgreSQL puts NULL first when descending).
  pull_time: `COALESCE(t.pull_time, '-infinity')`,
};

/** Newest first, as Harbor lists tags. */
const DEFAULT_ORDER = 't.updated_at DESC, t.name';

/** Tags of the registry (`registry_tag`), read for the API. Changes go through the registry's RegistryWriter. */
@Injectable()
export class TagRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** One page of an artifact's tags that match `terms`, and how many match in all. */
  async listOfArtifact(
    artifactId: number,
    terms: readonly QueryTerm[],
    sort: readonly SortTerm[],
    page: Pagination,
  ): Promise<{ items: TagRecord[]; total: number }> {
    const params: unknown[] = [artifactId];
    const where = `t.manifest_id = $1 AND ${buildFilter(terms, FIELDS, params)}`;
    const order = sort.length === 0 ? DEFAULT_ORDER : buildOrderBy(sort, SORTABLE, 't.name');
    const [rows, counted] = await Promise.all([
      this.dataSource.query<TagRow[]>(
        `SELECT ${TAG_COLUMNS} FROM registry_tag t WHERE ${where}
          ORDER BY ${order} LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, page.pageSize, page.offset],
      ),
      this.dataSource.query<{ total: string }[]>(`SELECT count(*) AS total FROM registry_tag t WHERE ${where}`, params),
    ]);
    return { items: rows.map(toTagRecord), total: Number(counted[0]?.total ?? 0) };
  }
}
