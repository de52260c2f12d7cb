import { randomBytes } from 'node:crypto';
import { CredentialUnreadableError, openCredential, sealCredential } from './credential-cipher.js';

describe('credential cipher', () => {
  const key = randomBytes(32);

  it('seals with a random IV, so the same credential never looks the same twice, and opens it again', () => {
    const first = sealCredential(key, 'user:s3cret', 'uuid-1');
    const second = sealCredential(key, 'user:s3cret', 'uuid-1');
    expect(first.equals(second)).toBe(false);
    expect(first.toString('latin1')).not.toContain('s3cret');
    expect(openCredential(key, first, 'uuid-1')).toBe('user:s3cret');
    expect(openCredential(key, second, 'uuid-1')).toBe('user:s3cret');
  });

  it('opens nothing under another key, in another context, or once tampered with', () => {
    const sealed = sealCredential(key, 'token', 'uuid-1');
    expect(() => openCredential(randomBytes(32), sealed, 'uuid-1')).toThrow(CredentialUnreadableError);
    expect(() => openCredential(key, sealed, 'uuid-2')).toThrow(CredentialUnreadableError);
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1] ^= 1;
    expect(() => openCredential(key, tampered, 'uuid-1')).toThrow('cannot be decrypted');
    expect(() => openCredential(key, Buffer.from([2, ...sealed.subarray(1)]), 'uuid-1')).toThrow('known layout');
    expect(() => openCredential(key, sealed.subarray(0, 10), 'uuid-1')).toThrow('known layout');
  });

  it('takes 32-byte keys only', () => {
    expect(() => sealCredential(randomBytes(16), 'x', 'c')).toThrow('32 bytes');
  });
});
