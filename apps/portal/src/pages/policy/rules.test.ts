import { describe, expect, it } from 'vitest';
import {
  NEW_RETENTION_FIELDS,
  immutableRuleOf,
  immutableSentence,
  retentionFields,
  retentionProblems,
  retentionRuleOf,
  retentionSentence,
  type RetentionRule,
} from './rules.js';

const STORED: RetentionRule = {
  id: 1,
  priority: 0,
  disabled: false,
  action: 'retain',
  template: 'latestPushedK',
  params: { latestPushedK: 10 },
  tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: '**', extras: '{"untagged":false}' }],
  scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] },
};

describe('retention rule sentences', () => {
  it('says what a rule keeps as Harbor does', () => {
    expect(retentionSentence(STORED)).toBe(
      'For the repositories matching **, retain the 10 most recently pushed artifacts with tags matching **',
    );
  });

  it('names exclusions, days and untagged artifacts', () => {
    expect(
      retentionSentence({
        template: 'nDaysSinceLastPull',
        params: { nDaysSinceLastPull: 7 },
        tag_selectors: [{ decoration: 'excludes', pattern: 'dev-*', extras: '{"untagged":true}' }],
        scope_selectors: { repository: [{ decoration: 'repoExcludes', pattern: 'tmp/**' }] },
      }),
    ).toBe(
      'For the repositories excluding tmp/**, retain the artifacts pulled within the last 7 days with tags excluding dev-* excluding untagged artifacts',
    );
    expect(
      retentionSentence({
        template: 'always',
        tag_selectors: [{ decoration: 'matches', pattern: 'v*' }],
        scope_selectors: { repository: [{ decoration: 'repoMatches', pattern: 'app' }] },
      }),
    ).toBe(
      'For the repositories matching app, retain all artifacts with tags matching v* including untagged artifacts',
    );
  });

  it('says which tags an immutability rule fixes', () => {
    expect(
      immutableSentence({
        tag_selectors: [{ decoration: 'matches', pattern: 'release-*' }],
        scope_selectors: { repository: [{ decoration: 'repoMatches', pattern: '**' }] },
      }),
    ).toBe('For the repositories matching **, tags matching release-* are immutable');
  });
});

describe('the rule editor', () => {
  it('reads a stored rule into its fields and writes the same rule back', () => {
    const fields = retentionFields(STORED);
    expect(fields).toMatchObject({ template: 'latestPushedK', param: '10', untagged: false, tagPattern: '**' });
    const rule = retentionRuleOf(fields, true);
    expect(rule.params).toEqual({ latestPushedK: 10 });
    expect(rule.tag_selectors).toEqual([
      { kind: 'doublestar', decoration: 'matches', pattern: '**', extras: '{"untagged":false}' },
    ]);
    expect(rule.scope_selectors).toEqual(STORED.scope_selectors);
  });

  it('leaves the number out for a template that takes none', () => {
    expect(retentionRuleOf({ ...NEW_RETENTION_FIELDS, template: 'always', param: '5' }, false).params).toEqual({});
  });

  it('refuses a missing or out-of-range number and empty patterns, by field', () => {
    expect(retentionProblems(NEW_RETENTION_FIELDS, true)).toEqual({});
    expect(retentionProblems({ ...NEW_RETENTION_FIELDS, param: '0' }, true).param).toMatch(/1 to 32766/);
    expect(retentionProblems({ ...NEW_RETENTION_FIELDS, param: '2.5' }, true).param).toBeDefined();
    expect(retentionProblems({ ...NEW_RETENTION_FIELDS, param: '40000' }, true).param).toBeDefined();
    expect(
      retentionProblems({ ...NEW_RETENTION_FIELDS, template: 'nDaysSinceLastPush', param: '40000' }, true),
    ).toEqual({});
    expect(retentionProblems({ ...NEW_RETENTION_FIELDS, param: '' }, false)).toEqual({});
    expect(
      Object.keys(retentionProblems({ ...NEW_RETENTION_FIELDS, tagPattern: ' ', repositoryPattern: '' }, true)),
    ).toEqual(['repositoryPattern', 'tagPattern']);
  });

  it("writes an immutability rule with trimmed patterns and Harbor's template", () => {
    expect(
      immutableRuleOf({
        repositoryDecoration: 'repoExcludes',
        repositoryPattern: ' tmp ',
        tagDecoration: 'matches',
        tagPattern: 'v* ',
      }),
    ).toEqual({
      action: 'immutable',
      template: 'immutable_template',
      tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: 'v*' }],
      scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoExcludes', pattern: 'tmp' }] },
    });
  });
});
