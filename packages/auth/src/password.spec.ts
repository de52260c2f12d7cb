import { scryptSync } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { hashPassword, passwordNeedsRehash, passwordPolicyProblem, verifyPassword } from './password.js';

describe('passwordPolicyProblem', () => {
  it.each(['Harbor12345', 'aB3aaaaa', 'Zz9' + 'x'.repeat(125), 'Pässwört9X', 'with Space 1A'])('accepts %p', (pw) => {
    expect(passwordPolicyProblem(pw)).toBeUndefined();
  });

  it.each([
    ['', 'The password must be at least 8 characters long.'],
    ['aB3aaaa', 'The password must be at least 8 characters long.'],
    ['Zz9' + 'x'.repeat(126), 'The password must be at most 128 characters long.'],
    ['harbor12345', 'The password must contain at least one upper-case letter.'],
    ['HARBOR12345', 'The password must contain at least one lower-case letter.'],
    ['HarborHarbor', 'The password must contain at least one digit.'],
    ['12345678', 'The password must contain at least one upper-case letter and one lower-case letter.'],
    ['!!!!!!!!', 'The password must contain at least one upper-case letter, one lower-case letter and one digit.'],
  ])('refuses %p: %s', (pw, message) => {
    expect(passwordPolicyProblem(pw)).toBe(message);
  });

  it('counts characters, not UTF-16 code units', () => {
    // Seven characters, eleven UTF-16 code units: too short.
    expect(passwordPolicyProblem('Aa1' + '😀'.repeat(4))).toBe('The password must be at least 8 characters long.');
  });
});

describe('hashPassword / verifyPassword', () => {
  it('produces a self-describing scrypt hash that verifies', async () => {
    const stored = await hashPassword('Harbor12345');
    expect(stored).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    await expect(verifyPassword('Harbor12345', stored)).resolves.toBe(true);
    expect(passwordNeedsRehash(stored)).toBe(false);
  });

  it('refuses a wrong password, including one differing only in case or by a trailing space', async () => {
    const stored = await hashPassword('Harbor12345');
    await expect(verifyPassword('harbor12345', stored)).resolves.toBe(false);
    await expect(verifyPassword('Harbor12345 ', stored)).resolves.toBe(false);
    await expect(verifyPassword('', stored)).resolves.toBe(false);
  });

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hashPassword('Harbor12345'), hashPassword('Harbor12345')]);
    expect(a).not.toBe(b);
  });

  it('detects a tampered hash or salt', async () => {
    const stored = await hashPassword('Harbor12345');
    const parts = stored.split('$');
    const flip = (text: string) => (text[0] === 'A' ? 'B' : 'A') + text.slice(1);
    await expect(verifyPassword('Harbor12345', [...parts.slice(0, 5), flip(parts[5])].join('$'))).resolves.toBe(false);
    await expect(
      verifyPassword('Harbor12345', [...parts.slice(0, 4), flip(parts[4]), parts[5]].join('$')),
    ).resolves.toBe(false);
    // Other cost parameters derive another key from the same salt.
    await expect(verifyPassword('Harbor12345', stored.replace('$8$1$', '$4$1$'))).resolves.toBe(false);
  });

  it('verifies hashes made with other parameters, and flags them for rehashing', async () => {
    const stored = await hashPassword('Harbor12345');
    const parts = stored.split('$');
    // As an older release with a lower cost would have stored it.
    const salt = Buffer.from(parts[4], 'base64url');
    const key = scryptSync('Harbor12345', salt, 32, { N: 1024, r: 8, p: 1 });
    const cheaper = ['scrypt', 1024, 8, 1, parts[4], key.toString('base64url')].join('$');
    await expect(verifyPassword('Harbor12345', cheaper)).resolves.toBe(true);
    expect(passwordNeedsRehash(cheaper)).toBe(true);
  });

  it('treats differently composed but equal Unicode text as the same password', async () => {
    const composed = 'Caf\u00e9Latte1';
    const decomposed = 'Cafe\u0301Latte1';
    const stored = await hashPassword(composed);
    await expect(verifyPassword(decomposed, stored)).resolves.toBe(true);
  });

  it.each([
    '',
    'Harbor12345',
    'scrypt',
    'scrypt$16384$8$1$c2FsdA$aGFzaA',
    'scrypt$16384$8$1$$',
    'scrypt$16383$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'scrypt$16384$999$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'scrypt$16384$8$1$AAAA AAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'scrypt$016384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'bcrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$extra',
  ])('answers false, without throwing, for the malformed stored value %p', async (stored) => {
    await expect(verifyPassword('Harbor12345', stored)).resolves.toBe(false);
    expect(passwordNeedsRehash(stored)).toBe(true);
  });

  it('answers false for non-string input', async () => {
    const stored = await hashPassword('Harbor12345');
    await expect(verifyPassword(undefined as unknown as string, stored)).resolves.toBe(false);
    await expect(verifyPassword('Harbor12345', null as unknown as string)).resolves.toBe(false);
  });
});
