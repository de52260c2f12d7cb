import { type components } from '@wharf/api-client';

export type RetentionPolicy = components['schemas']['RetentionPolicyOut'];
export type RetentionRule = RetentionPolicy['rules'][number];
export type RetentionMetadata = components['schemas']['RetentionMetadata'];
export type RetentionTemplate = components['schemas']['RetentionRule']['template'];
export type ImmutableRule = components['schemas']['ImmutableRule'];

/** A policy holds 15 rules at most, retention and immutability alike (Harbor's limit, which the API enforces). */
export const MAX_RULES = 15;

interface Selector {
  decoration: string;
  pattern: string;
  extras?: string;
}

/** What the template keeps, with its number: "the 10 most recently pushed artifacts". */
const TEMPLATE_WORDS: Record<RetentionTemplate, (n: string) => string> = {
  latestPushedK: (n) => `the ${n} most recently pushed artifacts`,
  latestPulledN: (n) => `the ${n} most recently pulled artifacts`,
  nDaysSinceLastPush: (n) => `the artifacts pushed within the last ${n} days`,
  nDaysSinceLastPull: (n) => `the artifacts pulled within the last ${n} days`,
  always: () => 'all artifacts',
};

function isTemplate(template: string): template is RetentionTemplate {
  return Object.hasOwn(TEMPLATE_WORDS, template);
}

/** The words of a template as the rule editor offers it, with "#" where its number goes: "the # most recently pushed artifacts". */
export function templateLabel(template: string, fallback: string): string {
  return isTemplate(template) ? TEMPLATE_WORDS[template]('#') : fallback;
}

/** Whether a selector's `extras` (`{"untagged":true}`) say to count untagged artifacts; Harbor's default otherwise. */
export function untaggedOf(selector: Selector): boolean {
  if (selector.extras) {
    try {
      const extras = JSON.parse(selector.extras) as { untagged?: unknown };
      if (typeof extras.untagged === 'boolean') return extras.untagged;
    } catch {
      // Unreadable extras say nothing: the decoration's default holds, as on the server.
    }
  }
  return selector.decoration === 'matches';
}

function repositoryWords(selectors: readonly Selector[] | undefined): string {
  const selector = selectors?.[0];
  if (!selector) return 'For all repositories';
  return `For the repositories ${selector.decoration === 'repoExcludes' ? 'excluding' : 'matching'} ${selector.pattern}`;
}

/** The number a rule's template takes, from its params (Harbor keys it by the template's name). */
export function ruleParam(rule: { template: string; params?: Record<string, unknown> }): number | undefined {
  const value = rule.params?.[rule.template];
  return typeof value === 'number' ? value : typeof value === 'string' && value !== '' ? Number(value) : undefined;
}

/**
 * A retention rule as a sentence, as Harbor's portal shows it: "For the repositories matching **, retain the 10 most
 * recently pushed artifacts with tags matching ** including untagged artifacts".
 */
export function retentionSentence(rule: {
  template: string;
  params?: Record<string, unknown>;
  tag_selectors: readonly Selector[];
  scope_selectors?: Record<string, readonly Selector[]>;
}): string {
  const param = ruleParam(rule);
  const what = isTemplate(rule.template) ? TEMPLATE_WORDS[rule.template](String(param ?? '?')) : rule.template;
  const tag = rule.tag_selectors[0];
  let tags = '';
  if (tag) {
    const excludes = tag.decoration === 'excludes';
    tags = ` with tags ${excludes ? 'excluding' : 'matching'} ${tag.pattern}`;
    if (untaggedOf(tag)) tags += excludes ? ' excluding untagged artifacts' : ' including untagged artifacts';
  }
  return `${repositoryWords(rule.scope_selectors?.['repository'])}, retain ${what}${tags}`;
}

/** An immutability rule as a sentence: "For the repositories matching **, tags matching release-* are immutable". */
export function immutableSentence(rule: {
  tag_selectors?: readonly Selector[];
  scope_selectors?: Record<string, readonly Selector[]>;
}): string {
  const tag = rule.tag_selectors?.[0];
  const tags = tag ? `tags ${tag.decoration === 'excludes' ? 'excluding' : 'matching'} ${tag.pattern}` : 'all tags';
  return `${repositoryWords(rule.scope_selectors?.['repository'])}, ${tags} are immutable`;
}

/** The fields of the rule editors, as text while they are being typed. */
export interface SelectorFields {
  repositoryDecoration: 'repoMatches' | 'repoExcludes';
  repositoryPattern: string;
  tagDecoration: 'matches' | 'excludes';
  tagPattern: string;
}

export interface RetentionFields extends SelectorFields {
  template: RetentionTemplate;
  param: string;
  untagged: boolean;
}

export const NEW_RETENTION_FIELDS: RetentionFields = {
  template: 'latestPushedK',
  param: '10',
  repositoryDecoration: 'repoMatches',
  repositoryPattern: '**',
  tagDecoration: 'matches',
  tagPattern: '**',
  untagged: true,
};

export const NEW_IMMUTABLE_FIELDS: SelectorFields = {
  repositoryDecoration: 'repoMatches',
  repositoryPattern: '**',
  tagDecoration: 'matches',
  tagPattern: '**',
};

function selectorFields(rule: {
  tag_selectors?: Selector[];
  scope_selectors?: Record<string, Selector[]>;
}): SelectorFields {
  const repository = rule.scope_selectors?.['repository']?.[0];
  const tag = rule.tag_selectors?.[0];
  return {
    repositoryDecoration: repository?.decoration === 'repoExcludes' ? 'repoExcludes' : 'repoMatches',
    repositoryPattern: repository?.pattern ?? '**',
    tagDecoration: tag?.decoration === 'excludes' ? 'excludes' : 'matches',
    tagPattern: tag?.pattern ?? '**',
  };
}

export function retentionFields(rule: RetentionRule): RetentionFields {
  const tag = rule.tag_selectors[0];
  const param = ruleParam(rule);
  return {
    ...selectorFields(rule),
    template: isTemplate(rule.template) ? rule.template : 'latestPushedK',
    param: param === undefined ? '' : String(param),
    untagged: tag ? untaggedOf(tag) : true,
  };
}

export function immutableFields(rule: ImmutableRule): SelectorFields {
  return selectorFields(rule);
}

/** Whether a template takes a number, as the metadata says (every template but "always" does). */
export function takesParam(metadata: RetentionMetadata | undefined, template: string): boolean {
  const spec = metadata?.templates.find((t) => t.rule_template === template);
  return spec ? spec.params.length > 0 : template !== 'always';
}

/** The largest number each template takes, as the server checks it. */
const PARAM_MAX: Record<string, number> = {
  latestPushedK: 32766,
  latestPulledN: 32766,
  nDaysSinceLastPush: 20190904,
  nDaysSinceLastPull: 20190904,
};

export type FieldProblems = Partial<Record<'param' | 'repositoryPattern' | 'tagPattern', string>>;

function selectorProblems(fields: SelectorFields): FieldProblems {
  const problems: FieldProblems = {};
  if (!fields.repositoryPattern.trim()) problems.repositoryPattern = 'Enter a repository pattern, such as ** for all.';
  if (!fields.tagPattern.trim()) problems.tagPattern = 'Enter a tag pattern, such as ** for all.';
  return problems;
}

/** What is wrong with the fields of a retention rule, by field; empty when it can be saved. */
export function retentionProblems(fields: RetentionFields, withParam: boolean): FieldProblems {
  const problems = selectorProblems(fields);
  if (withParam) {
    const max = PARAM_MAX[fields.template] ?? Number.MAX_SAFE_INTEGER;
    const value = fields.param.trim();
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
      problems.param = `Enter a whole number from 1 to ${max}.`;
    }
  }
  return problems;
}

export function immutableProblems(fields: SelectorFields): FieldProblems {
  return selectorProblems(fields);
}

function selectors(fields: SelectorFields) {
  return {
    scope_selectors: {
      repository: [
        {
          kind: 'doublestar' as const,
          decoration: fields.repositoryDecoration,
          pattern: fields.repositoryPattern.trim(),
        },
      ],
    },
    tag: { kind: 'doublestar' as const, decoration: fields.tagDecoration, pattern: fields.tagPattern.trim() },
  };
}

/** The rule the fields describe, as the retention API takes it. */
export function retentionRuleOf(fields: RetentionFields, withParam: boolean): components['schemas']['RetentionRule'] {
  const { scope_selectors, tag } = selectors(fields);
  return {
    action: 'retain',
    template: fields.template,
    params: withParam ? { [fields.template]: Number(fields.param.trim()) } : {},
    tag_selectors: [{ ...tag, extras: JSON.stringify({ untagged: fields.untagged }) }],
    scope_selectors,
  };
}

/** The rule the fields describe, as the immutability API takes it. */
export function immutableRuleOf(fields: SelectorFields): components['schemas']['ImmutableRuleInput'] {
  const { scope_selectors, tag } = selectors(fields);
  return { action: 'immutable', template: 'immutable_template', tag_selectors: [tag], scope_selectors };
}

/** A stored retention rule as the API takes it back, unchanged. */
export function retentionRuleInput(rule: RetentionRule): components['schemas']['RetentionRule'] {
  return {
    id: rule.id,
    priority: rule.priority,
    disabled: rule.disabled,
    action: 'retain',
    template: isTemplate(rule.template) ? rule.template : 'always',
    params: rule.params,
    tag_selectors: rule.tag_selectors.map((s) => ({
      kind: 'doublestar',
      decoration: s.decoration === 'excludes' ? 'excludes' : 'matches',
      pattern: s.pattern,
      ...(s.extras !== undefined ? { extras: s.extras } : {}),
    })),
    scope_selectors: {
      repository: (rule.scope_selectors['repository'] ?? []).map((s) => ({
        kind: 'doublestar',
        decoration: s.decoration === 'repoExcludes' ? 'repoExcludes' : 'repoMatches',
        pattern: s.pattern,
        ...(s.extras !== undefined ? { extras: s.extras } : {}),
      })),
    },
  };
}
