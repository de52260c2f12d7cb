import { describe, expect, it } from '@jest/globals';
import {
  type RetentionCandidate,
  type RetentionRuleSpec,
  type TagSelector,
  retainedDigests,
  ruleSelectsRepository,
  tagSelectorSelects,
} from './retention-rules.js';

const NOW = new Date('2030-06-30T12:00:00Z');
const daysAgo = (n: number) => new Date(NOW.getTime() - n * 24 * 3_600_000);

function candidate(digest: string, tags: string[], pushedDaysAgo: number, pulledDaysAgo?: number): RetentionCandidate {
  return {
    digest,
    tags,
    pushedAt: daysAgo(pushedDaysAgo),
    pulledAt: pulledDaysAgo === undefined ? null : daysAgo(pulledDaysAgo),
  };
}

function rule(template: RetentionRuleSpec['template'], param: number | undefined, selectors: TagSelector[]) {
  return {
    template,
    ...(param === undefined ? {} : { param }),
    disabled: false,
    tagSelectors: selectors,
    repositorySelectors: [],
  } satisfies RetentionRuleSpec;
}

const all: TagSelector = { decoration: 'matches', pattern: '**', untagged: true };
const allTagged: TagSelector = { decoration: 'matches', pattern: '**', untagged: false };

describe('tag selectors', () => {
  const multi = candidate('multi', ['v1', 'latest'], 1);
  const untagged = candidate('untagged', [], 1);

  it('matches an artifact when any of its tags matches', () => {
    expect(tagSelectorSelects({ decoration: 'matches', pattern: 'v*', untagged: false }, multi)).toBe(true);
    expect(tagSelectorSelects({ decoration: 'matches', pattern: 'rc*', untagged: false }, multi)).toBe(false);
  });

  it('excludes an artifact only when every tag matches the pattern', () => {
    // `latest` does not match v*, so the artifact stays selected by the exclusion of v*.
    expect(tagSelectorSelects({ decoration: 'excludes', pattern: 'v*', untagged: false }, multi)).toBe(true);
    expect(tagSelectorSelects({ decoration: 'excludes', pattern: '{v*,latest}', untagged: false }, multi)).toBe(false);
  });

  it('selects untagged artifacts by `untagged`: included by matches, excluded by excludes', () => {
    expect(tagSelectorSelects({ decoration: 'matches', pattern: '**', untagged: true }, untagged)).toBe(true);
    expect(tagSelectorSelects({ decoration: 'matches', pattern: '**', untagged: false }, untagged)).toBe(false);
    expect(tagSelectorSelects({ decoration: 'excludes', pattern: 'v*', untagged: true }, untagged)).toBe(false);
    expect(tagSelectorSelects({ decoration: 'excludes', pattern: 'v*', untagged: false }, untagged)).toBe(true);
  });
});

describe('rule templates', () => {
  const candidates = [
    candidate('a', ['a'], 1, 20),
    candidate('b', ['b'], 5, 2),
    candidate('c', ['c'], 10),
    candidate('d', ['d'], 40, 1),
  ];
  const retained = (r: RetentionRuleSpec) => [...retainedDigests([r], candidates, NOW)].sort();

  it('latestPushedK keeps the K most recently pushed', () => {
    expect(retained(rule('latestPushedK', 2, [all]))).toEqual(['a', 'b']);
    expect(retained(rule('latestPushedK', 0, [all]))).toEqual([]);
  });

  it('latestPulledN keeps the N most recently pulled, never-pulled last', () => {
    expect(retained(rule('latestPulledN', 2, [all]))).toEqual(['b', 'd']);
    expect(retained(rule('latestPulledN', 3, [all]))).toEqual(['a', 'b', 'd']);
  });

  it('nDaysSinceLastPush keeps what was pushed within N days', () => {
    expect(retained(rule('nDaysSinceLastPush', 7, [all]))).toEqual(['a', 'b']);
    expect(retained(rule('nDaysSinceLastPush', 10, [all]))).toEqual(['a', 'b', 'c']);
  });

  it('nDaysSinceLastPull keeps what was pulled within N days; never pulled is never kept', () => {
    expect(retained(rule('nDaysSinceLastPull', 3, [all]))).toEqual(['b', 'd']);
    expect(retained(rule('nDaysSinceLastPull', 100000, [all]))).toEqual(['a', 'b', 'd']);
  });

  it('always keeps everything its selectors select', () => {
    expect(retained(rule('always', undefined, [{ decoration: 'matches', pattern: '{a,c}', untagged: false }]))).toEqual(
      ['a', 'c'],
    );
  });

  it('counts K among the selected artifacts only', () => {
    expect(retained(rule('latestPushedK', 1, [{ decoration: 'excludes', pattern: 'a', untagged: false }]))).toEqual([
      'b',
    ]);
  });

  it('requires every tag selector of a rule', () => {
    const r = rule('always', undefined, [
      { decoration: 'matches', pattern: '[a-c]', untagged: false },
      { decoration: 'excludes', pattern: 'b', untagged: false },
    ]);
    expect(retained(r)).toEqual(['a', 'c']);
  });
});

describe('the or algorithm', () => {
  it('retains what any rule retains', () => {
    const candidates = [candidate('new', ['dev-2'], 1), candidate('old', ['v1'], 50), candidate('mid', ['dev-1'], 9)];
    const rules = [
      rule('latestPushedK', 1, [{ decoration: 'matches', pattern: 'dev-*', untagged: false }]),
      rule('always', undefined, [{ decoration: 'matches', pattern: 'v*', untagged: false }]),
    ];
    expect([...retainedDigests(rules, candidates, NOW)].sort()).toEqual(['new', 'old']);
  });

  it('keeps a digest whole when one of its tags is retained: the other tags are not candidates of their own', () => {
    const candidates = [candidate('shared', ['release-1', 'tmp-9'], 30), candidate('tmp', ['tmp-1'], 30)];
    const rules = [rule('always', undefined, [{ decoration: 'matches', pattern: 'release-*', untagged: false }])];
    expect([...retainedDigests(rules, candidates, NOW)]).toEqual(['shared']);
  });

  it('retains nothing without rules', () => {
    expect(retainedDigests([], [candidate('x', ['x'], 1)], NOW).size).toBe(0);
    expect(retainedDigests([rule('always', undefined, [allTagged])], [candidate('u', [], 1)], NOW).size).toBe(0);
  });
});

describe('repository scope', () => {
  const scoped = (
    decoration: 'repoMatches' | 'repoExcludes',
    pattern: string,
    disabled = false,
  ): RetentionRuleSpec => ({
    ...rule('always', undefined, [all]),
    disabled,
    repositorySelectors: [{ kind: 'doublestar', decoration, pattern }],
  });

  it('matches a repository by its name inside the project', () => {
    expect(ruleSelectsRepository(scoped('repoMatches', 'team/**'), 'proj/team/api')).toBe(true);
    expect(ruleSelectsRepository(scoped('repoMatches', 'proj/**'), 'proj/team/api')).toBe(false);
    expect(ruleSelectsRepository(scoped('repoExcludes', 'team/**'), 'proj/team/api')).toBe(false);
    expect(ruleSelectsRepository(scoped('repoExcludes', 'team/**'), 'proj/web')).toBe(true);
  });

  it('leaves disabled rules out', () => {
    expect(ruleSelectsRepository(scoped('repoMatches', '**', true), 'proj/web')).toBe(false);
  });
});
