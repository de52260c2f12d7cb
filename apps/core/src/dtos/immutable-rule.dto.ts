import { z } from 'zod';
import { IdParam, ProjectParamsDto } from './project.dto.js';
import { ListQuery } from './repository.dto.js';

export const ImmutableSelectorDto = z
  .object({
    kind: z.string().max(32),
    decoration: z.string().max(32),
    pattern: z.string().max(1024),
    extras: z.string().max(1024).optional(),
  })
  .meta({ id: 'ImmutableSelector' });
export type ImmutableSelectorDto = z.infer<typeof ImmutableSelectorDto>;

/**
 * Harbor's ImmutableRule: one tag selector (`matches` or `excludes` a doublestar pattern) and one repository selector
 * (`repoMatches` or `repoExcludes`) under scope_selectors.repository, with action `immutable` and template
 * `immutable_template`.
 */
export const ImmutableRuleDto = z
  .object({
    id: z.number().int().optional(),
    priority: z.number().int().min(-2147483648).max(2147483647).optional(),
    disabled: z.boolean().optional(),
    action: z.string().max(64).optional(),
    template: z.string().max(64).optional(),
    params: z.record(z.string(), z.unknown()).optional(),
    tag_selectors: z.array(ImmutableSelectorDto).max(16).optional(),
    scope_selectors: z.record(z.string().max(64), z.array(ImmutableSelectorDto).max(16)).optional(),
  })
  .meta({ id: 'ImmutableRule' });
export type ImmutableRuleDto = z.infer<typeof ImmutableRuleDto>;

export const ImmutableRuleListDto = z.array(ImmutableRuleDto);

export const ImmutableRuleParamsDto = ProjectParamsDto.extend({ immutable_rule_id: IdParam });
export type ImmutableRuleParamsDto = z.infer<typeof ImmutableRuleParamsDto>;

export const ImmutableRuleListQuery = ListQuery;
export type ImmutableRuleListQuery = z.infer<typeof ImmutableRuleListQuery>;
