import { type Selector, repositoryNameInProject, selects } from './selector.js';

/**
 * Harbor's tag retention, as pure functions over candidates: a candidate is one artifact (a digest) of a
 * repository with every tag it carries, so a tag that a rule retains keeps its whole artifact, its other tags
 * included, and removing a candidate removes the artifact with all its tags.
 */

/** The rule templates Harbor's API offers (its `/retentions/metadatas`), each retaining what it names. */
export const RETENTION_TEMPLATES = {
  latestPushedK: { display: 'the most recently pushed # artifacts', unit: 'COUNT', max: 32766 },
  latestPulledN: { display: 'the most recently pulled # artifacts', unit: 'COUNT', max: 32766 },
  nDaysSinceLastPush: { display: 'pushed within the last # days', unit: 'DAYS', max: 20190904 },
  nDaysSinceLastPull: { display: 'pulled within the last # days', unit: 'DAYS', max: 20190904 },
  always: { display: 'always', unit: undefined, max: undefined },
} as const;

export type RetentionTemplate = keyof typeof RETENTION_TEMPLATES;

export const RETENTION_TEMPLATE_NAMES = Object.keys(RETENTION_TEMPLATES) as RetentionTemplate[];

/** A tag selector as a rule holds it; `untagged` is what its `extras` said, or the decoration's default. */
export interface TagSelector {
  decoration: 'matches' | 'excludes';
  pattern: string;
  untagged: boolean;
}

/** A rule as the engine evaluates it. */
export interface RetentionRuleSpec {
  template: RetentionTemplate;
  /** The template's number (count or days); absent for `always`. */
  param?: number;
  disabled: boolean;
  tagSelectors: TagSelector[];
  /** Repository selectors, all of which a repository must pass; none selects every repository. */
  repositorySelectors: Selector[];
}

export interface RetentionCandidate {
  digest: string;
  tags: string[];
  /** The latest of the artifact's push and its tags' pushes. */
  pushedAt: Date;
  /** The latest pull of the artifact or of one of its tags; null when never pulled. */
  pulledAt: Date | null;
}

/**
 * Whether a tag selector's `untagged` holds when its extras do not say: a `matches` selector keeps untagged
 * artifacts in its selection and an `excludes` one leaves them out of its exclusion, as Harbor does for
 * policies written before the option existed.
 */
export function defaultUntagged(decoration: TagSelector['decoration']): boolean {
  return decoration === 'matches';
}

/**
 * Whether a tag selector selects the candidate. `matches`: one of its tags matches, or, untagged, when `untagged`
 * is set. `excludes`: one of its tags does not match, or, untagged, when `untagged` is not set (`untagged` then
 * means that untagged artifacts are excluded too).
 */
export function tagSelectorSelects(selector: TagSelector, candidate: RetentionCandidate): boolean {
  const matchesTag = (tag: string) =>
    selects({ kind: 'doublestar', decoration: 'matches', pattern: selector.pattern }, tag);
  if (selector.decoration === 'matches') {
    return candidate.tags.length === 0 ? selector.untagged : candidate.tags.some(matchesTag);
  }
  return candidate.tags.length === 0 ? !selector.untagged : candidate.tags.some((tag) => !matchesTag(tag));
}

/** Whether the rule applies to the repository (a full name, `project/path`): enabled and its scope selects it. */
export function ruleSelectsRepository(rule: RetentionRuleSpec, repository: string): boolean {
  if (rule.disabled) return false;
  const name = repositoryNameInProject(repository);
  return rule.repositorySelectors.every((selector) => selects(selector, name));
}

const DAY_MS = 24 * 3_600_000;

/** Go's zero time in seconds since the epoch: when Harbor says a never-pulled artifact was pulled. */
const NEVER = -62_135_596_800;

/** Seconds since the epoch, the precision Harbor compares times at. */
function seconds(time: Date | null): number {
  return time ? Math.floor(time.getTime() / 1000) : NEVER;
}

/** Newest first by `key`; equal ones keep the candidates' order. */
function newestBy(candidates: readonly RetentionCandidate[], key: (c: RetentionCandidate) => number) {
  return [...candidates].sort((a, b) => key(b) - key(a));
}

/** What the rule's template retains among the candidates its tag selectors chose. */
function evaluate(rule: RetentionRuleSpec, candidates: readonly RetentionCandidate[], now: Date): RetentionCandidate[] {
  const n = rule.param ?? 0;
  switch (rule.template) {
    case 'always':
      return [...candidates];
    case 'latestPushedK':
      return newestBy(candidates, (c) => seconds(c.pushedAt)).slice(0, n);
    case 'latestPulledN':
      return newestBy(candidates, (c) => seconds(c.pulledAt)).slice(0, n);
    case 'nDaysSinceLastPush': {
      const since = seconds(new Date(now.getTime() - n * DAY_MS));
      return candidates.filter((c) => seconds(c.pushedAt) >= since);
    }
    case 'nDaysSinceLastPull': {
      const since = seconds(new Date(now.getTime() - n * DAY_MS));
      return candidates.filter((c) => seconds(c.pulledAt) >= since);
    }
  }
}

/**
 * The digests the rules retain in one repository: each rule narrows the candidates by all its tag selectors, then
 * its template picks among them; a candidate is retained when any rule retains it (the "or" algorithm). `rules`
 * are those that apply to the repository.
 */
export function retainedDigests(
  rules: readonly RetentionRuleSpec[],
  candidates: readonly RetentionCandidate[],
  now: Date,
): Set<string> {
  const retained = new Set<string>();
  for (const rule of rules) {
    const selected = candidates.filter((c) => rule.tagSelectors.every((s) => tagSelectorSelects(s, c)));
    for (const candidate of evaluate(rule, selected, now)) retained.add(candidate.digest);
  }
  return retained;
}
