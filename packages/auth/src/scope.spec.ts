import { describe, expect, it } from '@jest/globals';
import { formatTokenScope, parseScopes } from './scope.js';

describe('parseScopes', () => {
  it('parses one repository scope', () => {
    expect(parseScopes(['repository:library/nginx:pull'])).toEqual({
      scopes: [{ type: 'repository', name: 'library/nginx', actions: ['pull'] }],
      invalid: [],
    });
  });

  it('keeps colons of a registry host and port in the name', () => {
    expect(parseScopes(['repository:localhost:5000/library/a:pull,push']).scopes).toEqual([
      { type: 'repository', name: 'localhost:5000/library/a', actions: ['pull', 'push'] },
    ]);
  });

  it('reads several space-separated scopes in one value and several values', () => {
    const { scopes, invalid } = parseScopes([
      'repository:team/app:pull repository:team/base:pull',
      'registry:catalog:*',
    ]);
    expect(invalid).toEqual([]);
    expect(scopes).toEqual([
      { type: 'repository', name: 'team/app', actions: ['pull'] },
      { type: 'repository', name: 'team/base', actions: ['pull'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
  });

  it('merges scopes for the same type and name, keeping the first order of actions', () => {
    const { scopes } = parseScopes([
      'repository:team/app:pull',
      'repository:team/app:push,pull repository:team/app:delete',
    ]);
    expect(scopes).toEqual([{ type: 'repository', name: 'team/app', actions: ['pull', 'push', 'delete'] }]);
  });

  it('drops empty and duplicate actions', () => {
    expect(parseScopes(['repository:a/b:pull,,pull,push,']).scopes).toEqual([
      { type: 'repository', name: 'a/b', actions: ['pull', 'push'] },
    ]);
  });

  it('keeps a scope that asks for no action, with an empty list', () => {
    expect(parseScopes(['repository:a/b:']).scopes).toEqual([{ type: 'repository', name: 'a/b', actions: [] }]);
  });

  it('reads a resource class', () => {
    const { scopes } = parseScopes(['repository(plugin):vieux/sshfs:pull']);
    expect(scopes).toEqual([{ type: 'repository', class: 'plugin', name: 'vieux/sshfs', actions: ['pull'] }]);
    expect(formatTokenScope(scopes[0])).toBe('repository(plugin):vieux/sshfs:pull');
  });

  it('treats the same name with and without a class as one resource', () => {
    expect(parseScopes(['repository:a/b:pull repository(plugin):a/b:push']).scopes).toEqual([
      { type: 'repository', class: 'plugin', name: 'a/b', actions: ['pull', 'push'] },
    ]);
  });

  it('ignores surrounding and repeated spaces and empty values', () => {
    expect(parseScopes(['', '  repository:a/b:pull   repository:c/d:push  ']).scopes).toHaveLength(2);
    expect(parseScopes([])).toEqual({ scopes: [], invalid: [] });
  });

  it.each([
    ['no colon', 'repository'],
    ['one colon', 'repository:a/b'],
    ['empty type', ':a/b:pull'],
    ['empty name', 'repository::pull'],
    ['upper-case type', 'Repository:a/b:pull'],
    ['unclosed class', 'repository(plugin:a/b:pull'],
    ['empty class', 'repository():a/b:pull'],
    ['bad action', 'repository:a/b:pull,PUSH'],
    ['control character in an action', 'repository:a/b:pu\u0000ll'],
    ['control character in the name', 'repository:a/\u0007b:pull'],
    ['name too long', `repository:${'a'.repeat(1025)}:pull`],
  ])('sets aside a scope with %s, keeping the valid ones', (_label, bad) => {
    const { scopes, invalid } = parseScopes([`repository:ok/one:pull ${bad}`]);
    expect(scopes).toEqual([{ type: 'repository', name: 'ok/one', actions: ['pull'] }]);
    expect(invalid).toEqual([bad]);
  });

  it('formats a scope back into its string', () => {
    expect(formatTokenScope({ type: 'repository', name: 'localhost:5000/a', actions: ['pull', 'push'] })).toBe(
      'repository:localhost:5000/a:pull,push',
    );
  });
});
