import { describe, expect, it } from '@jest/globals';
import { SelectorPatternError, compilePattern, matchesPattern, repositoryNameInProject, selects } from './selector.js';

describe('doublestar patterns', () => {
  it.each([
    ['**', 'nginx', true],
    ['**', 'team/app/api', true],
    ['*', 'nginx', true],
    ['*', 'team/app', false],
    ['team/*', 'team/app', true],
    ['team/*', 'team/app/api', false],
    ['team/**', 'team', true],
    ['team/**', 'team/app/api', true],
    ['team/**', 'teams/app', false],
    ['**/api', 'api', true],
    ['**/api', 'team/app/api', true],
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['a/**/b', 'a/xb', false],
    ['v?', 'v1', true],
    ['v?', 'v10', false],
    ['v?', 'v/', false],
    ['v[0-9].*', 'v1.2', true],
    ['v[0-9].*', 'vx.2', false],
    ['v[!0-9]*', 'vx', true],
    ['v[!0-9]*', 'v1', false],
    ['v[^0-9]', 'v/', false],
    ['{latest,stable}', 'stable', true],
    ['{latest,stable}', 'latest-rc', false],
    ['{v1.*,release-*}', 'release-7', true],
    ['1.*', '1.0', true],
    ['1.*', '1x0', false],
    ['\\*', '*', true],
    ['\\*', 'a', false],
    ['release-**', 'release-1', true],
    ['a+b', 'a+b', true],
    ['a+b', 'aab', false],
  ])('%s against %s is %s', (pattern, name, expected) => {
    expect(matchesPattern(pattern, name)).toBe(expected);
  });

  it.each(['', '[abc', '{a,b', 'a\\', '[a/b]'])('refuses the malformed pattern %j', (pattern) => {
    expect(() => compilePattern(pattern)).toThrow(SelectorPatternError);
  });

  it('excludes inverts matches', () => {
    expect(selects({ kind: 'doublestar', decoration: 'matches', pattern: 'dev-*' }, 'dev-1')).toBe(true);
    expect(selects({ kind: 'doublestar', decoration: 'excludes', pattern: 'dev-*' }, 'dev-1')).toBe(false);
    expect(selects({ kind: 'doublestar', decoration: 'repoExcludes', pattern: 'dev-*' }, 'prod')).toBe(true);
  });

  it('names a repository without its project', () => {
    expect(repositoryNameInProject('library/team/nginx')).toBe('team/nginx');
    expect(repositoryNameInProject('nginx')).toBe('nginx');
  });
});
