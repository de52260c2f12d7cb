import { describe, expect, it } from '@jest/globals';
import { MAX_REPOSITORY_NAME_LENGTH, isValidRepositoryName, isValidTag } from './reference.js';

describe('isValidRepositoryName', () => {
  it.each([
    'a',
    'ubuntu',
    'library/ubuntu',
    'a/b/c/d/e',
    'my-org/my-app',
    'a--b',
    'a---b',
    'a.b',
    'a_b',
    'a__b',
    'a.b_c__d-e',
    '0',
    '9/8/7',
    'team/blobs/manifests',
  ])('accepts %j', (name) => {
    expect(isValidRepositoryName(name)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['upper case', 'Library/ubuntu'],
    ['leading separator', '-app'],
    ['trailing separator', 'app-'],
    ['leading dot', '.app'],
    ['trailing dot', 'app.'],
    ['two dots', 'a..b'],
    ['three underscores', 'a___b'],
    ['dot then dash', 'a.-b'],
    ['underscore then dot', 'a_.b'],
    ['empty component', 'a//b'],
    ['leading slash', '/a'],
    ['trailing slash', 'a/'],
    ['parent component', 'a/../b'],
    ['current component', 'a/./b'],
    ['only dots', '..'],
    ['colon', 'a:b'],
    ['at sign', 'a@b'],
    ['space', 'a b'],
    ['percent-encoding', 'a%2fb'],
    ['trailing newline', 'a\n'],
    ['non-ASCII letter', 'caf\u00e9'],
  ])('refuses %s (%j)', (_label, name) => {
    expect(isValidRepositoryName(name)).toBe(false);
  });

  it('caps the whole name at 255 characters', () => {
    expect(MAX_REPOSITORY_NAME_LENGTH).toBe(255);
    const component = 'a'.repeat(63);
    const atLimit = [component, component, component, 'b'.repeat(63)].join('/');
    expect(atLimit).toHaveLength(255);
    expect(isValidRepositoryName(atLimit)).toBe(true);
    expect(isValidRepositoryName(`${atLimit}c`)).toBe(false);
    expect(isValidRepositoryName('a'.repeat(256))).toBe(false);
  });
});

describe('isValidTag', () => {
  it.each(['latest', 'v1.0.0', '1', '_', '_private', 'v1.0-rc_1', 'A-Z.a-z_0-9', 'x'.repeat(128)])(
    'accepts %j',
    (tag) => {
      expect(isValidTag(tag)).toBe(true);
    },
  );

  it.each([
    ['empty', ''],
    ['129 characters', 'x'.repeat(129)],
    ['leading dot', '.hidden'],
    ['leading dash', '-v1'],
    ['a slash', 'v1/2'],
    ['a colon', 'v1:2'],
    ['a digest', 'sha256:abc'],
    ['a plus', 'v1+build'],
    ['a space', 'v 1'],
    ['parent path', '..'],
    ['trailing newline', 'latest\n'],
  ])('refuses %s (%j)', (_label, tag) => {
    expect(isValidTag(tag)).toBe(false);
  });
});
