import { Injectable } from '@nestjs/common';
import { type Action } from '@wharf/auth';
import { ExecutionRepository } from '@wharf/db';
import { DataSource } from 'typeorm';
import { type RequestAuth } from '../auth/principal.js';
import {
  type RetentionMetadataDto,
  type RetentionPolicyDto,
  type RetentionPolicyOutDto,
  type RetentionRuleOutDto,
} from '../dtos/retention.dto.js';
import { ApiError } from '../errors/api-error.js';
import { RETENTION_TEMPLATES, RETENTION_TEMPLATE_NAMES } from '../policy/retention-rules.js';
import { ProjectRepository } from '../repositories/project.repository.js';
import {
  RETENTION_ID_KEY,
  RETENTION_VENDOR_TYPE,
  type RetentionPolicyContent,
  type RetentionPolicyRecord,
  RetentionRepository,
} from '../repositories/retention.repository.js';
import { AccessService } from './access.service.js';
import { ScheduleService } from './schedule.service.js';

/** What `/retentions/metadatas` answers: the templates and selectors a policy may use. */
export const RETENTION_METADATA: RetentionMetadataDto = {
  templates: RETENTION_TEMPLATE_NAMES.map((template) => {
    const spec = RETENTION_TEMPLATES[template];
    return {
      rule_template: template,
      display_text: spec.display,
      action: 'retain',
      params: spec.unit === undefined ? [] : [{ type: 'int', unit: spec.unit, required: true }],
    };
  }),
  scope_selectors: [{ display_text: 'Repositories', kind: 'doublestar', decorations: ['repoMatches', 'repoExcludes'] }],
  tag_selectors: [{ display_text: 'Tags', kind: 'doublestar', decorations: ['matches', 'excludes'] }],
};

/** A policy's content as stored: every rule with all its fields, numbered by position when it came without id. */
function normalize(policy: RetentionPolicyDto): RetentionPolicyContent {
  const rules = (policy.rules ?? []).map((rule, i): RetentionRuleOutDto => ({
    id: rule.id ?? i + 1,
    priority: rule.priority ?? 0,
    disabled: rule.disabled ?? false,
    action: rule.action,
    template: rule.template,
    params: rule.params ?? {},
    tag_selectors: rule.tag_selectors.map((s) => ({
      kind: s.kind,
      decoration: s.decoration,
      pattern: s.pattern,
      ...(s.extras !== undefined ? { extras: s.extras } : {}),
    })),
    scope_selectors: {
      repository: (rule.scope_selectors?.repository ?? []).map((s) => ({
        kind: s.kind,
        decoration: s.decoration,
        pattern: s.pattern,
        ...(s.extras !== undefined ? { extras: s.extras } : {}),
      })),
    },
  }));
  return {
    algorithm: policy.algorithm,
    rules,
    trigger: { kind: 'Schedule', settings: { cron: policy.trigger.settings?.cron ?? '' } },
  };
}

/** Harbor refuses a policy with two rules alike in everything but their id. */
function checkRuleConflicts(rules: readonly RetentionRuleOutDto[]): void {
  const seen = new Map<string, number>();
  rules.forEach((rule, i) => {
    const key = JSON.stringify({ ...rule, id: 0 });
    const earlier = seen.get(key);
    if (earlier !== undefined) throw ApiError.conflict(`rule ${i} is the same as rule ${earlier}`);
    seen.set(key, i);
  });
}

export function policyDto(policy: RetentionPolicyRecord): RetentionPolicyOutDto {
  return {
    id: policy.id,
    algorithm: policy.algorithm,
    rules: policy.rules,
    trigger: { kind: policy.trigger.kind, settings: { cron: policy.trigger.settings.cron }, references: {} },
    scope: { level: 'project', ref: policy.projectId },
  };
}

/**
 * Harbor's tag retention policies: one per project, named by the project's `retention_id` metadata. Who may read,
 * change or run a policy is decided by the tag-retention permission in the policy's project.
 */
@Injectable()
export class RetentionService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly policies: RetentionRepository,
    private readonly projects: ProjectRepository,
    private readonly access: AccessService,
    private readonly executions: ExecutionRepository,
    private readonly schedules: ScheduleService,
  ) {}

  /** The policy, when it exists and the caller may act on it with `action`. */
  async authorized(auth: RequestAuth, id: number, action: Action): Promise<RetentionPolicyRecord> {
    const policy = await this.policies.find(id);
    if (!policy) throw ApiError.notFound(`retention policy ${id} not found`);
    await this.requireAccess(auth, policy.projectId, action);
    return policy;
  }

  async get(auth: RequestAuth, id: number): Promise<RetentionPolicyOutDto> {
    return policyDto(await this.authorized(auth, id, 'read'));
  }

  async create(auth: RequestAuth, body: RetentionPolicyDto): Promise<number> {
    const content = normalize(body);
    checkRuleConflicts(content.rules);
    const projectId = body.scope.ref;
    await this.requireAccess(auth, projectId, 'create');
    return this.dataSource
      .transaction(async (m) => {
        if (!(await this.projects.lock(m, projectId))) throw ApiError.badRequest(`invalid project id ${projectId}`);
        const existing = (await this.projects.metadata(projectId, m))[RETENTION_ID_KEY];
        if (existing) {
          throw ApiError.badRequest(`project ${projectId} already has retention policy ${existing}`);
        }
        const id = await this.policies.create(m, projectId, content);
        if (id === undefined) throw ApiError.badRequest(`project ${projectId} already has a retention policy`);
        return id;
      })
      .then(async (id) => {
        await this.schedule(id, content.trigger.settings.cron);
        return id;
      });
  }

  async update(auth: RequestAuth, id: number, body: RetentionPolicyDto): Promise<void> {
    const content = normalize(body);
    checkRuleConflicts(content.rules);
    const policy = await this.authorized(auth, id, 'update');
    if (body.scope.ref !== policy.projectId) {
      throw ApiError.badRequest(`retention policy ${id} belongs to project ${policy.projectId}, not ${body.scope.ref}`);
    }
    if (!(await this.policies.update(id, content))) throw ApiError.notFound(`retention policy ${id} not found`);
    await this.schedule(id, content.trigger.settings.cron);
  }

  async delete(auth: RequestAuth, id: number): Promise<void> {
    await this.authorized(auth, id, 'delete');
    if (!(await this.policies.delete(id))) throw ApiError.notFound(`retention policy ${id} not found`);
    await this.schedules.remove({ vendorType: RETENTION_VENDOR_TYPE, vendorId: id });
    // Its ended runs go with it, as in Harbor; one still running ends on its own, finding no policy.
    await this.executions.sweep(RETENTION_VENDOR_TYPE, 0, id);
  }

  /** The policy's schedule follows its trigger's cron: none when the cron is empty. */
  private async schedule(id: number, cron: string | undefined): Promise<void> {
    const ref = { vendorType: RETENTION_VENDOR_TYPE, vendorId: id };
    await this.schedules.set(ref, cron ? { type: 'Custom', cron } : { type: 'None' });
  }

  private async requireAccess(auth: RequestAuth, projectId: number, action: Action): Promise<void> {
    const project = await this.projects.findRefById(projectId);
    if (project && (await this.access.canInProject(auth.principal, project, 'tag-retention', action))) return;
    // Only an administrator learns that a project does not exist; anyone else is refused either way.
    if (auth.principal.kind === 'anonymous') throw ApiError.unauthorized();
    if (!project && auth.principal.kind === 'user' && auth.principal.sysadmin) {
      throw ApiError.badRequest(`invalid project id ${projectId}`);
    }
    throw ApiError.forbidden();
  }
}
