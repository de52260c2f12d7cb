import { describe, expect, it } from '@jest/globals';
import { ArtifactReference, RepositoryNameParam, queryFlag } from './repository.dto.js';

describe('RepositoryNameParam', () => {
  it('decodes a name the router decoded once already', () => {
    expect(RepositoryNameParam.parse('team%2Fapi')).toBe('team/api');
    expect(RepositoryNameParam.parse('nginx')).toBe('nginx');
  });

  it.each(['Nginx', 'a%zz', 'team%2F', '', 'a//b', '-lead'])('refuses %j', (raw) => {
    expect(RepositoryNameParam.safeParse(raw).success).toBe(false);
  });
});

describe('ArtifactReference', () => {
  it('tells a digest from a tag', () => {
    const digest = `sha256:${'c'.repeat(64)}`;
    expect(ArtifactReference.parse(digest)).toEqual({ digest });
    expect(ArtifactReference.parse('v1.2_rc-3')).toEqual({ tag: 'v1.2_rc-3' });
  });

  it.each(['sha256:short', '.hidden', 'x'.repeat(129), 'a b'])('refuses %j', (raw) => {
    expect(ArtifactReference.safeParse(raw).success).toBe(false);
  });
});

describe('queryFlag', () => {
  it("reads Go's boolean spellings and keeps the default when absent", () => {
    const flag = queryFlag(true);
    expect(flag.parse(undefined)).toBe(true);
    expect(flag.parse('false')).toBe(false);
    expect(flag.parse('0')).toBe(false);
    expect(flag.parse('TRUE')).toBe(true);
    expect(queryFlag(false).parse(undefined)).toBe(false);
    expect(flag.safeParse('yes').success).toBe(false);
  });
});
