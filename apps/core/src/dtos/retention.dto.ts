import { z } from 'zod';
import { cronProblem } from '../policy/cron.js';
import { RETENTION_TEMPLATES, RETENTION_TEMPLATE_NAMES, type RetentionTemplate } from '../policy/retention-rules.js';
import { SelectorPatternError, compilePattern } from '../policy/selector.js';
import { PageQuery } from './list.dto.js';
import { INT4_MAX, IdParam } from './project.dto.js';

/** At most this many rules in a policy, as Harbor allows. */
export const MAX_RETENTION_RULES = 15;
const MAX_SELECTORS = 15;

export const RetentionParamsDto = z.object({ id: IdParam });
export type RetentionParamsDto = z.infer<typeof RetentionParamsDto>;

function patternIssue(pattern: string): string | undefined {
  try {
    compilePattern(pattern);
    return undefined;
  } catch (error) {
    if (error instanceof SelectorPatternError) return error.message;
    throw error;
  }
}

const Pattern = z.string({ error: 'is required: a doublestar pattern such as "**"' }).superRefine((pattern, ctx) => {
  const issue = patternIssue(pattern);
  if (issue) ctx.addIssue({ code: 'custom', message: issue });
});

/** `extras` of a tag selector: empty, or JSON such as `{"untagged":true}`. */
const Extras = z
  .string()
  .max(256)
  .superRefine((extras, ctx) => {
    if (extras === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(extras);
    } catch {
      parsed = undefined;
    }
    const valid =
      typeof parsed === 'object' &&
      parsed !== null &&
      !Array.isArray(parsed) &&
      Object.entries(parsed).every(([key, value]) => key === 'untagged' && typeof value === 'boolean');
    if (!valid) ctx.addIssue({ code: 'custom', message: 'must be empty or JSON such as {"untagged":true}' });
  });

export const RetentionTagSelectorDto = z
  .object({
    kind: z.literal('doublestar', { error: 'must be "doublestar"' }),
    decoration: z.enum(['matches', 'excludes'], { error: 'must be "matches" or "excludes"' }),
    pattern: Pattern,
    extras: Extras.optional(),
  })
  .meta({ id: 'RetentionSelector' });

export const RetentionScopeSelectorDto = z.object({
  kind: z.literal('doublestar', { error: 'must be "doublestar"' }),
  decoration: z.enum(['repoMatches', 'repoExcludes'], { error: 'must be "repoMatches" or "repoExcludes"' }),
  pattern: Pattern,
  extras: z.string().max(256).optional(),
});

const Template = z.enum(RETENTION_TEMPLATE_NAMES as [RetentionTemplate, ...RetentionTemplate[]], {
  error: `must be one of ${RETENTION_TEMPLATE_NAMES.join(', ')}`,
});

export const RetentionRuleDto = z
  .object({
    id: z.number().int().min(0).max(INT4_MAX).optional(),
    priority: z.number().int().min(0).max(INT4_MAX).optional(),
    disabled: z.boolean().optional(),
    action: z.literal('retain', { error: 'must be "retain"' }),
    template: Template,
    params: z.record(z.string(), z.unknown()).optional(),
    tag_selectors: z
      .array(RetentionTagSelectorDto)
      .min(1, 'needs a tag selector, such as {"kind":"doublestar","decoration":"matches","pattern":"**"}')
      .max(MAX_SELECTORS),
    scope_selectors: z
      .strictObject(
        { repository: z.array(RetentionScopeSelectorDto).max(MAX_SELECTORS) },
        { error: 'only "repository" selectors apply to a project policy' },
      )
      .optional(),
  })
  .superRefine((rule, ctx) => {
    const spec = RETENTION_TEMPLATES[rule.template];
    const params = rule.params ?? {};
    for (const key of Object.keys(params)) {
      if (spec.unit === undefined || key !== rule.template) {
        ctx.addIssue({ code: 'custom', path: ['params', key], message: `is not a parameter of ${rule.template}` });
      }
    }
    if (spec.unit === undefined) return;
    const n = params[rule.template];
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', path: ['params'], message: `${rule.template} needs its number` });
    } else if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > spec.max) {
      ctx.addIssue({
        code: 'custom',
        path: ['params', rule.template],
        message: `must be a whole number from 0 to ${spec.max}`,
      });
    }
  })
  .meta({ id: 'RetentionRule' });
export type RetentionRuleDto = z.infer<typeof RetentionRuleDto>;

export const RetentionTriggerDto = z
  .object({
    kind: z.literal('Schedule', { error: 'must be "Schedule"' }),
    settings: z
      .strictObject({
        cron: z
          .string()
          .max(128)
          .superRefine((cron, ctx) => {
            const problem = cron === '' ? undefined : cronProblem(cron);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          .optional(),
      })
      .optional(),
    references: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'RetentionRuleTrigger' });

export const RetentionScopeDto = z
  .object({
    level: z.literal('project', { error: 'must be "project"' }),
    ref: z.number().int().min(1).max(INT4_MAX),
  })
  .meta({ id: 'RetentionPolicyScope' });

/** Harbor's RetentionPolicy as a request sends it; `id` is ignored (the path or the server names the policy). */
export const RetentionPolicyDto = z
  .object({
    id: z.number().int().optional(),
    algorithm: z.literal('or', { error: 'must be "or"' }),
    rules: z
      .array(RetentionRuleDto)
      .max(MAX_RETENTION_RULES, `only ${MAX_RETENTION_RULES} rules are allowed at most`)
      .optional(),
    trigger: RetentionTriggerDto,
    scope: RetentionScopeDto,
  })
  .meta({ id: 'RetentionPolicy' });
export type RetentionPolicyDto = z.infer<typeof RetentionPolicyDto>;

const StoredSelector = z.strictObject({
  kind: z.string(),
  decoration: z.string(),
  pattern: z.string(),
  extras: z.string().optional(),
});

/** A rule as stored and answered: every field present. */
export const RetentionRuleOutDto = z.strictObject({
  id: z.number().int(),
  priority: z.number().int(),
  disabled: z.boolean(),
  action: z.string(),
  template: z.string(),
  params: z.record(z.string(), z.unknown()),
  tag_selectors: z.array(StoredSelector),
  scope_selectors: z.record(z.string(), z.array(StoredSelector)),
});
export type RetentionRuleOutDto = z.infer<typeof RetentionRuleOutDto>;

export const RetentionPolicyOutDto = z
  .strictObject({
    id: z.number().int(),
    algorithm: z.string(),
    rules: z.array(RetentionRuleOutDto),
    trigger: z.strictObject({
      kind: z.string(),
      settings: z.strictObject({ cron: z.string() }),
      references: z.record(z.string(), z.unknown()),
    }),
    scope: z.strictObject({ level: z.string(), ref: z.number().int() }),
  })
  .meta({ id: 'RetentionPolicyOut' });
export type RetentionPolicyOutDto = z.infer<typeof RetentionPolicyOutDto>;

const SelectorMetadataDto = z.strictObject({
  display_text: z.string(),
  kind: z.string(),
  decorations: z.array(z.string()),
});

export const RetentionMetadataDto = z
  .strictObject({
    templates: z.array(
      z.strictObject({
        rule_template: z.string(),
        display_text: z.string(),
        action: z.string(),
        params: z.array(z.strictObject({ type: z.string(), unit: z.string(), required: z.boolean() })),
      }),
    ),
    scope_selectors: z.array(SelectorMetadataDto),
    tag_selectors: z.array(SelectorMetadataDto),
  })
  .meta({ id: 'RetentionMetadata' });
export type RetentionMetadataDto = z.infer<typeof RetentionMetadataDto>;

export const RetentionExecutionParamsDto = z.object({ id: IdParam, eid: IdParam });
export type RetentionExecutionParamsDto = z.infer<typeof RetentionExecutionParamsDto>;

export const RetentionTaskParamsDto = z.object({ id: IdParam, eid: IdParam, tid: IdParam });
export type RetentionTaskParamsDto = z.infer<typeof RetentionTaskParamsDto>;

export const RetentionListQueryDto = z.object({ ...PageQuery });
export type RetentionListQueryDto = z.infer<typeof RetentionListQueryDto>;

export const TriggerRetentionDto = z.object({ dry_run: z.boolean().optional() }).meta({ id: 'TriggerRetention' });
export type TriggerRetentionDto = z.infer<typeof TriggerRetentionDto>;

export const OperateRetentionExecutionDto = z
  .object({ action: z.literal('stop', { error: 'must be "stop", the one action an execution takes' }) })
  .meta({ id: 'OperateRetentionExecution' });
export type OperateRetentionExecutionDto = z.infer<typeof OperateRetentionExecutionDto>;

export const RetentionExecutionDto = z
  .strictObject({
    id: z.number().int(),
    policy_id: z.number().int(),
    start_time: z.iso.datetime(),
    end_time: z.iso.datetime(),
    status: z.string(),
    trigger: z.string(),
    dry_run: z.boolean(),
  })
  .meta({ id: 'RetentionExecution' });
export type RetentionExecutionDto = z.infer<typeof RetentionExecutionDto>;

export const RetentionExecutionListDto = z.array(RetentionExecutionDto);

export const RetentionExecutionTaskDto = z
  .strictObject({
    id: z.number().int(),
    execution_id: z.number().int(),
    repository: z.string(),
    job_id: z.string(),
    status: z.string(),
    status_code: z.number().int(),
    status_revision: z.number().int(),
    start_time: z.iso.datetime(),
    end_time: z.iso.datetime(),
    total: z.number().int(),
    retained: z.number().int(),
  })
  .meta({ id: 'RetentionExecutionTask' });
export type RetentionExecutionTaskDto = z.infer<typeof RetentionExecutionTaskDto>;

export const RetentionExecutionTaskListDto = z.array(RetentionExecutionTaskDto);
