import { type PreparedQuery, preparedQueries } from '@wharf/db';
import { type DataSource } from 'typeorm';

/** A blob or manifest a push is about to add to a project, by digest. */
export interface StoredItem {
  digest: string;
  size: number;
}

/** A project's storage limit against a push. */
export type ProjectUsage =
  | { found: false }
  | { found: true; limited: false }
  | {
      found: true;
      limited: true;
      /** Bytes; never negative here. */
      hard: number;
      used: number;
      /** Bytes the push adds: the sizes of its items the project does not hold yet. */
      adding: number;
    };

interface UsageRow {
  hard: string | null;
  used: string | null;
  adding: string | null;
}

/**
 * What the registry's policies ask of the projects: whether one exists, and its storage limit and usage against the
 * items of a push. Each question is one indexed query; for a project without a limit it reads no blob rows at all
 * (a scalar subquery in a CASE branch runs only when that branch is taken).
 */
export class RegistryProjectRepository {
  /** Asked on every push: named prepared statements (see preparedQueries). */
  private readonly prepared: PreparedQuery;

  constructor(dataSource: DataSource) {
    this.prepared = preparedQueries(dataSource);
  }

  async exists(name: string): Promise<boolean> {
    const rows = await this.prepared<unknown>('registry_project_exists', `SELECT 1 FROM project WHERE name = $1`, [
      name,
    ]);
    return rows.length > 0;
  }

  /** Items listed twice count once: pass each digest once. */
  async usage(projectName: string, items: readonly StoredItem[]): Promise<ProjectUsage> {
    const rows = await this.prepared<UsageRow>(
      'registry_project_usage',
      `SELECT q.hard_storage::text AS hard, q.used_storage::text AS used,
              CASE WHEN q.hard_storage >= 0 THEN
                (SELECT COALESCE(sum(n.size), 0)::text
                   FROM unnest($2::text[], $3::bigint[]) AS n(digest, size)
                  WHERE NOT EXISTS (SELECT 1 FROM project_blob b
                                     WHERE b.project_id = p.project_id AND b.digest = n.digest))
              END AS adding
         FROM project p
         LEFT JOIN quota q ON q.project_id = p.project_id
        WHERE p.name = $1`,
      [projectName, items.map((item) => item.digest), items.map((item) => String(item.size))],
    );
    const row = rows[0];
    if (!row) return { found: false };
    // A project without a quota row has never been limited.
    if (row.hard === null || row.adding === null) return { found: true, limited: false };
    return {
      found: true,
      limited: true,
      hard: Number(row.hard),
      used: Number(row.used ?? 0),
      adding: Number(row.adding),
    };
  }
}
