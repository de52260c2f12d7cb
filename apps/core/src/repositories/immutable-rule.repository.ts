import { Injectable } from '@nestjs/common';
import { type Pagination } from '@wharf/db';
import { DataSource, type EntityManager } from 'typeorm';
import { type Selector } from '../policy/selector.js';

/** A tag immutability rule of a project, as stored. */
export interface ImmutableRuleRecord {
  id: number;
  projectId: number;
  priority: number;
  disabled: boolean;
  tagSelectors: Selector[];
  scopeSelectors: Record<string, Selector[]>;
}

/** What a rule says, as created or changed. */
export interface ImmutableRuleFields {
  priority: number;
  tagSelectors: Selector[];
  scopeSelectors: Record<string, Selector[]>;
}

interface RuleRow {
  id: number;
  project_id: number;
  priority: number;
  disabled: boolean;
  tag_selectors: Selector[];
  scope_selectors: Record<string, Selector[]>;
}

function toRecord(row: RuleRow): ImmutableRuleRecord {
  return {
    id: row.id,
    projectId: row.project_id,
    priority: row.priority,
    disabled: row.disabled,
    tagSelectors: row.tag_selectors,
    scopeSelectors: row.scope_selectors,
  };
}

const COLUMNS = 'r.id, r.project_id, r.priority, r.disabled, r.tag_selectors, r.scope_selectors';

/** A project already holds a rule of the same selectors. */
export class DuplicateRuleError extends Error {
  constructor() {
    super('immutable rule already exists');
  }
}

function duplicateOf(error: unknown): DuplicateRuleError | undefined {
  const e = error as { code?: unknown; driverError?: { code?: unknown } };
  return (e?.driverError?.code ?? e?.code) === '23505' ? new DuplicateRuleError() : undefined;
}

/** Tag immutability rules (`immutable_tag_rule`); every change is announced to every process by a trigger. */
@Injectable()
export class ImmutableRuleRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** One page of a project's rules in the order they were created, and how many it has. */
  async list(projectId: number, page: Pagination): Promise<{ items: ImmutableRuleRecord[]; total: number }> {
    const [rows, counted] = await Promise.all([
      this.dataSource.query<RuleRow[]>(
        `SELECT ${COLUMNS} FROM immutable_tag_rule r WHERE r.project_id = $1 ORDER BY r.id LIMIT $2 OFFSET $3`,
        [projectId, page.pageSize, page.offset],
      ),
      this.dataSource.query<{ total: string }[]>(
        `SELECT count(*) AS total FROM immutable_tag_rule WHERE project_id = $1`,
        [projectId],
      ),
    ]);
    return { items: rows.map(toRecord), total: Number(counted[0]?.total ?? 0) };
  }

  /** Every rule of the project named `project`, for the matcher. */
  async rulesOfProjectNamed(project: string): Promise<ImmutableRuleRecord[]> {
    const rows = await this.dataSource.query<RuleRow[]>(
      `SELECT ${COLUMNS} FROM project p JOIN immutable_tag_rule r ON r.project_id = p.project_id
        WHERE p.name = $1 ORDER BY r.id`,
      [project],
    );
    return rows.map(toRecord);
  }

  /** Every rule of the project, for the matcher. */
  async rulesOfProject(projectId: number): Promise<ImmutableRuleRecord[]> {
    const rows = await this.dataSource.query<RuleRow[]>(
      `SELECT ${COLUMNS} FROM immutable_tag_rule r WHERE r.project_id = $1 ORDER BY r.id`,
      [projectId],
    );
    return rows.map(toRecord);
  }

  /** A rule of the project, locked until the transaction ends. */
  async findForUpdate(m: EntityManager, projectId: number, id: number): Promise<ImmutableRuleRecord | undefined> {
    const rows = await m.query<RuleRow[]>(
      `SELECT ${COLUMNS} FROM immutable_tag_rule r WHERE r.project_id = $1 AND r.id = $2 FOR UPDATE`,
      [projectId, id],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /**
   * Adds a rule, enabled, unless the project holds `limit` rules already (undefined then). The project's row lock
   * makes the count hold until the insert commits. DuplicateRuleError for a rule of selectors the project holds.
   */
  async insert(projectId: number, fields: ImmutableRuleFields, limit: number): Promise<number | undefined> {
    try {
      return await this.dataSource.transaction(async (m) => {
        await m.query(`SELECT 1 FROM project WHERE project_id = $1 FOR UPDATE`, [projectId]);
        const [{ count }] = await m.query<{ count: number }[]>(
          `SELECT count(*)::int AS count FROM immutable_tag_rule WHERE project_id = $1`,
          [projectId],
        );
        if (count >= limit) return undefined;
        const rows = await m.query<{ id: number }[]>(
          `INSERT INTO immutable_tag_rule (project_id, priority, tag_selectors, scope_selectors)
           VALUES ($1, $2, $3::jsonb, $4::jsonb) RETURNING id`,
          [projectId, fields.priority, JSON.stringify(fields.tagSelectors), JSON.stringify(fields.scopeSelectors)],
        );
        return rows[0].id;
      });
    } catch (error) {
      throw duplicateOf(error) ?? error;
    }
  }

  /** Changes what a rule says. DuplicateRuleError when another rule of the project says the same. */
  async update(m: EntityManager, id: number, fields: ImmutableRuleFields): Promise<void> {
    try {
      await m.query(
        `UPDATE immutable_tag_rule SET priority = $2, tag_selectors = $3::jsonb, scope_selectors = $4::jsonb
          WHERE id = $1`,
        [id, fields.priority, JSON.stringify(fields.tagSelectors), JSON.stringify(fields.scopeSelectors)],
      );
    } catch (error) {
      throw duplicateOf(error) ?? error;
    }
  }

  async setDisabled(m: EntityManager, id: number, disabled: boolean): Promise<void> {
    await m.query(`UPDATE immutable_tag_rule SET disabled = $2 WHERE id = $1`, [id, disabled]);
  }

  /** Deletes a rule of the project; false when the project has no such rule. */
  async delete(projectId: number, id: number): Promise<boolean> {
    const rows = await this.dataSource.query<[unknown[], number]>(
      `DELETE FROM immutable_tag_rule WHERE project_id = $1 AND id = $2 RETURNING id`,
      [projectId, id],
    );
    return (rows[0]?.length ?? 0) > 0;
  }
}
