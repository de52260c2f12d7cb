import { describe, expect, it } from '@jest/globals';
import { Digester, digestOf, isDigest, parseDigest, requireDigest } from './digest.js';
import { OciError, OciErrorCode } from './errors.js';

const EMPTY_SHA256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const ABC_SHA256 = 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
const ABC_SHA512 =
  'sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f';

function thrown(run: () => unknown): OciError {
  try {
    run();
  } catch (error) {
    if (error instanceof OciError) return error;
    throw error;
  }
  throw new Error('expected an OciError');
}

describe('parseDigest', () => {
  it('splits a sha256 digest into algorithm and encoded part', () => {
    expect(parseDigest(ABC_SHA256)).toEqual({
      algorithm: 'sha256',
      encoded: ABC_SHA256.slice('sha256:'.length),
      digest: ABC_SHA256,
    });
  });

  it('accepts sha512 with its 128 hex characters', () => {
    expect(parseDigest(ABC_SHA512)?.algorithm).toBe('sha512');
  });

  it.each([
    ['empty string', ''],
    ['no algorithm', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['upper-case hex (sha256 encodings are lower-case)', EMPTY_SHA256.toUpperCase().replace('SHA256', 'sha256')],
    ['one character short', EMPTY_SHA256.slice(0, -1)],
    ['one character long', `${EMPTY_SHA256}0`],
    ['sha512 length under sha256', `sha256:${ABC_SHA512.slice('sha512:'.length)}`],
    ['non-hex character', `sha256:${'g'.repeat(64)}`],
    ['upper-case algorithm', EMPTY_SHA256.replace('sha256', 'SHA256')],
    ['algorithm this registry cannot verify', `md5:${'0'.repeat(32)}`],
    ['grammar-valid but unknown algorithm', `sha256+b64u:${'a'.repeat(64)}`],
    ['trailing newline', `${EMPTY_SHA256}\n`],
    ['whitespace around', ` ${EMPTY_SHA256}`],
    ['separator at the start of the algorithm', `+sha256:${'0'.repeat(64)}`],
  ])('refuses %s', (_label, value) => {
    expect(parseDigest(value)).toBeNull();
    expect(isDigest(value)).toBe(false);
  });
});

describe('requireDigest', () => {
  it('returns the parsed digest', () => {
    expect(requireDigest(EMPTY_SHA256).digest).toBe(EMPTY_SHA256);
  });

  it.each([undefined, null, ''])('answers DIGEST_INVALID (400) when the digest is missing (%j)', (value) => {
    const error = thrown(() => requireDigest(value));
    expect(error.code).toBe(OciErrorCode.DIGEST_INVALID);
    expect(error.status).toBe(400);
  });

  it('answers DIGEST_INVALID for a malformed sha256 digest, naming it', () => {
    const error = thrown(() => requireDigest('sha256:abc'));
    expect(error.code).toBe(OciErrorCode.DIGEST_INVALID);
    expect(error.detail).toEqual({ digest: 'sha256:abc' });
  });

  it('answers UNSUPPORTED with status 400 for a well-formed digest of another algorithm', () => {
    const error = thrown(() => requireDigest(`md5:${'0'.repeat(32)}`));
    expect(error.code).toBe(OciErrorCode.UNSUPPORTED);
    expect(error.status).toBe(400);
  });

  // `constructor` is a grammar-valid algorithm name that is also an Object.prototype key.
  it('answers UNSUPPORTED for the unknown algorithm "constructor"', () => {
    const error = thrown(() => requireDigest('constructor:abc'));
    expect(error.code).toBe(OciErrorCode.UNSUPPORTED);
  });

  it('answers DIGEST_INVALID for text that is not a digest at all', () => {
    expect(thrown(() => requireDigest('latest')).code).toBe(OciErrorCode.DIGEST_INVALID);
  });
});

describe('Digester and digestOf', () => {
  it('produce the well-known sha256 of empty content and of "abc"', () => {
    expect(digestOf(Buffer.alloc(0))).toBe(EMPTY_SHA256);
    expect(digestOf('abc')).toBe(ABC_SHA256);
    expect(new Digester().digest()).toBe(EMPTY_SHA256);
  });

  it('hash chunk by chunk to the same digest as the whole content', () => {
    const digester = new Digester();
    digester.update(Buffer.from('a')).update(Buffer.from('b')).update(Buffer.from('c'));
    expect(digester.digest()).toBe(ABC_SHA256);
  });

  it('support sha512', () => {
    expect(digestOf('abc', 'sha512')).toBe(ABC_SHA512);
    expect(new Digester('sha512').update(Buffer.from('abc')).digest()).toBe(ABC_SHA512);
    expect(parseDigest(digestOf('x', 'sha512'))).not.toBeNull();
  });
});
