import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { type RetentionRuleOutDto } from '../dtos/retention.dto.js';
import { type RetentionCandidate } from '../policy/retention-rules.js';
import { TOP_LEVEL } from './artifact.repository.js';

/** The project metadata key that names a project's retention policy, as in Harbor. */
export const RETENTION_ID_KEY = 'retention_id';

/** Harbor's vendor type of retention executions (a policy's id is their vendor id). */
export const RETENTION_VENDOR_TYPE = 'RETENTION';

export interface RetentionTrigger {
  kind: string;
  settings: { cron: string };
}

export interface RetentionPolicyRecord {
  id: number;
  projectId: number;
  algorithm: string;
  rules: RetentionRuleOutDto[];
  trigger: RetentionTrigger;
}

/** What a policy holds besides its id and project. */
export type RetentionPolicyContent = Pick<RetentionPolicyRecord, 'algorithm' | 'rules' | 'trigger'>;

interface PolicyRow {
  id: string;
  project_id: number;
  algorithm: string;
  rules: RetentionRuleOutDto[];
  trigger: RetentionTrigger;
}

function toRecord(row: PolicyRow): RetentionPolicyRecord {
  return {
    id: Number(row.id),
    projectId: row.project_id,
    algorithm: row.algorithm,
    rules: row.rules,
    trigger: row.trigger,
  };
}

export interface RetentionRepositoryRef {
  id: number;
  /** The full name, `project/path`. */
  name: string;
}

interface CandidateRow {
  digest: string;
  tags: string[];
  pushed_at: Date;
  pulled_at: Date | null;
}

/** Retention policies, and the registry's content as the retention engine reads it. */
@Injectable()
export class RetentionRepository {
  constructor(private readonly dataSource: DataSource) {}

  async find(id: number, manager: EntityManager = this.dataSource.manager): Promise<RetentionPolicyRecord | undefined> {
    const rows = await manager.query<PolicyRow[]>(
      `SELECT id, project_id, algorithm, rules, trigger FROM retention_policy WHERE id = $1`,
      [id],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /**
   * Stores the project's policy and names it in the project's metadata; undefined, with nothing written, when the
   * project already has one. The caller holds the project's lock.
   */
  async create(
    manager: EntityManager,
    projectId: number,
    content: RetentionPolicyContent,
  ): Promise<number | undefined> {
    const rows = await manager.query<{ id: string }[]>(
      `INSERT INTO retention_policy (project_id, algorithm, rules, trigger) VALUES ($1, $2, $3, $4)
       ON CONFLICT (project_id) DO NOTHING RETURNING id`,
      [projectId, content.algorithm, JSON.stringify(content.rules), JSON.stringify(content.trigger)],
    );
    const id = rows[0] ? Number(rows[0].id) : undefined;
    if (id === undefined) return undefined;
    await manager.query(
      `INSERT INTO project_metadata (project_id, name, value) VALUES ($1, $2, $3)
       ON CONFLICT (project_id, name) DO UPDATE SET value = EXCLUDED.value`,
      [projectId, RETENTION_ID_KEY, String(id)],
    );
    return id;
  }

  /** Replaces the policy's rules, algorithm and trigger; false when it no longer exists. */
  async update(id: number, content: RetentionPolicyContent): Promise<boolean> {
    // Selected from the statement's rows: the driver answers an UPDATE's RETURNING in another shape.
    const rows = await this.dataSource.query<{ n: number }[]>(
      `WITH updated AS (
         UPDATE retention_policy SET algorithm = $2, rules = $3, trigger = $4, update_time = now() WHERE id = $1
         RETURNING id)
       SELECT count(*)::int AS n FROM updated`,
      [id, content.algorithm, JSON.stringify(content.rules), JSON.stringify(content.trigger)],
    );
    return (rows[0]?.n ?? 0) > 0;
  }

  /** Deletes the policy and the metadata that names it; false when it was already gone. */
  async delete(id: number): Promise<boolean> {
    return this.dataSource.transaction(async (m) => {
      const rows = await m.query<{ project_id: number }[]>(
        `WITH deleted AS (DELETE FROM retention_policy WHERE id = $1 RETURNING project_id) SELECT project_id FROM deleted`,
        [id],
      );
      if (!rows[0]) return false;
      await m.query(`DELETE FROM project_metadata WHERE project_id = $1 AND name = $2 AND value = $3`, [
        rows[0].project_id,
        RETENTION_ID_KEY,
        String(id),
      ]);
      return true;
    });
  }

  /** The repositories of a project, by name. */
  async repositoriesOf(projectId: number): Promise<RetentionRepositoryRef[]> {
    const rows = await this.dataSource.query<{ id: string; name: string }[]>(
      `SELECT id, name FROM registry_repository WHERE project_id = $1 ORDER BY name`,
      [projectId],
    );
    return rows.map((row) => ({ id: Number(row.id), name: row.name }));
  }

  /** The tags of an artifact of the repository now, sorted as candidates list them. */
  async tagsOf(repositoryId: number, digest: string): Promise<string[]> {
    const rows = await this.dataSource.query<{ name: string }[]>(
      `SELECT t.name FROM registry_tag t JOIN registry_manifest m ON m.id = t.manifest_id
        WHERE m.repository_id = $1 AND m.digest = $2 ORDER BY t.name`,
      [repositoryId, digest],
    );
    return rows.map((row) => row.name);
  }

  /**
   * The repository's top-level artifacts (neither an index's child nor an accessory) with their tags, as Harbor
   * lists them for retention: pushed when the artifact or its latest tag was, pulled when it or one of its tags
   * last was. Newest push first, then newest artifact first.
   */
  async candidates(repositoryId: number): Promise<RetentionCandidate[]> {
    const rows = await this.dataSource.query<CandidateRow[]>(
      `SELECT m.digest,
              COALESCE(array_agg(t.name ORDER BY t.name) FILTER (WHERE t.name IS NOT NULL), '{}') AS tags,
              GREATEST(m.created_at, max(t.updated_at)) AS pushed_at,
              GREATEST(m.pull_time, max(t.pull_time)) AS pulled_at
         FROM registry_manifest m LEFT JOIN registry_tag t ON t.manifest_id = m.id
        WHERE m.repository_id = $1 AND ${TOP_LEVEL}
        GROUP BY m.id
        ORDER BY pushed_at DESC, m.id DESC`,
      [repositoryId],
    );
    return rows.map((row) => ({
      digest: row.digest,
      tags: row.tags,
      pushedAt: row.pushed_at,
      pulledAt: row.pulled_at,
    }));
  }
}
