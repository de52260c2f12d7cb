import { describe, expect, it } from '@jest/globals';
import { type ListenHandlers } from '@wharf/db';
import { OciError } from '@wharf/oci';
import { type ImmutableRuleRecord } from '../repositories/immutable-rule.repository.js';
import { ImmutabilityRules, matchesImmutableRule } from './immutability.js';
import { ImmutabilityPolicy } from './immutability.policy.js';

function rule(
  tag: string,
  repository: string,
  options: {
    disabled?: boolean;
    tagDecoration?: 'matches' | 'excludes';
    repoDecoration?: 'repoMatches' | 'repoExcludes';
  } = {},
): ImmutableRuleRecord {
  return {
    id: 1,
    projectId: 7,
    priority: 0,
    disabled: options.disabled ?? false,
    tagSelectors: [{ kind: 'doublestar', decoration: options.tagDecoration ?? 'matches', pattern: tag }],
    scopeSelectors: {
      repository: [{ kind: 'doublestar', decoration: options.repoDecoration ?? 'repoMatches', pattern: repository }],
    },
  };
}

/** A rule source that counts its reads, and a notice channel the test drives. */
function setup(rules: ImmutableRuleRecord[]) {
  const reads = { count: 0 };
  let handlers: ListenHandlers | undefined;
  const source = {
    rulesOfProject: () => {
      reads.count += 1;
      return Promise.resolve(rules);
    },
    rulesOfProjectNamed: () => {
      reads.count += 1;
      return Promise.resolve(rules);
    },
  };
  const cache = new ImmutabilityRules(source, (h) => {
    handlers = h;
    return { close: () => Promise.resolve() };
  });
  return { cache, reads, notices: () => handlers! };
}

describe('immutable tag rules', () => {
  it('match a repository without its project and a tag, as Harbor selects them', () => {
    const rules = [rule('v*', 'app/**')];
    expect(matchesImmutableRule(rules, 'lib/app', 'v1')).toBe(true);
    expect(matchesImmutableRule(rules, 'lib/app/web', 'v1')).toBe(true);
    expect(matchesImmutableRule(rules, 'lib/other', 'v1')).toBe(false);
    expect(matchesImmutableRule(rules, 'lib/app', 'latest')).toBe(false);
    // The project is not part of the name the selector sees.
    expect(matchesImmutableRule([rule('v1', 'lib/app')], 'lib/app', 'v1')).toBe(false);
  });

  it('honour excludes, repoExcludes and disabled rules', () => {
    expect(matchesImmutableRule([rule('dev-*', '**', { tagDecoration: 'excludes' })], 'p/a', 'v1')).toBe(true);
    expect(matchesImmutableRule([rule('dev-*', '**', { tagDecoration: 'excludes' })], 'p/a', 'dev-1')).toBe(false);
    expect(matchesImmutableRule([rule('**', 'tmp', { repoDecoration: 'repoExcludes' })], 'p/tmp', 'v1')).toBe(false);
    expect(matchesImmutableRule([rule('**', 'tmp', { repoDecoration: 'repoExcludes' })], 'p/app', 'v1')).toBe(true);
    expect(matchesImmutableRule([rule('**', '**', { disabled: true })], 'p/app', 'v1')).toBe(false);
    expect(matchesImmutableRule([rule('x', '**'), rule('v1', '**')], 'p/app', 'v1')).toBe(true);
  });

  it('are read once while notices flow, again after a notice, forget() or a gap, and every time without notices', async () => {
    const { cache, reads, notices } = setup([rule('v*', '**')]);
    expect(await cache.isImmutable(7, 'p/app', 'v1')).toBe(true);
    expect(await cache.isImmutable(7, 'p/app', 'v2')).toBe(true);
    expect(reads.count).toBe(2);

    notices().onConnected();
    await cache.isImmutable(7, 'p/app', 'v1');
    await cache.isImmutable(7, 'p/app', 'v1');
    expect(reads.count).toBe(3);
    notices().onMessage('');
    await cache.isImmutable(7, 'p/app', 'v1');
    expect(reads.count).toBe(4);
    cache.forget();
    await cache.isImmutable(7, 'p/app', 'v1');
    expect(reads.count).toBe(5);
    notices().onDisconnected();
    await cache.isImmutable(7, 'p/app', 'v1');
    await cache.isImmutable(7, 'p/app', 'v1');
    expect(reads.count).toBe(7);
  });

  it("refuse a tag change with Harbor's message and status 412", async () => {
    const { cache } = setup([rule('v*', '**')]);
    const policy = new ImmutabilityPolicy(cache);
    const refusal = await policy
      .beforeTagChange({ repository: 'lib/app', tag: 'v1', change: 'delete', digest: 'sha256:0' })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(refusal).toBeInstanceOf(OciError);
    expect(refusal).toMatchObject({
      status: 412,
      code: 'DENIED',
      message: "Failed to process request due to 'app:v1' configured as immutable.",
    });
    await expect(
      policy.beforeTagChange({ repository: 'lib/app', tag: 'latest', change: 'overwrite', digest: 'sha256:0' }),
    ).resolves.toBeUndefined();
  });
});
