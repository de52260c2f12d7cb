import { describe, expect, it } from '@jest/globals';
import {
  ROBOT_SECRET_LENGTH,
  generateRobotSecret,
  hashRobotSecret,
  newSalt,
  robotSecretPolicyProblem,
  verifyRobotSecret,
} from './robot-secret.js';

describe('generateRobotSecret', () => {
  const secrets = Array.from({ length: 500 }, () => generateRobotSecret());

  it('makes 32-character alphanumeric secrets that pass the secret policy', () => {
    expect(ROBOT_SECRET_LENGTH).toBe(32);
    for (const secret of secrets) {
      expect(secret).toMatch(/^[A-Za-z0-9]{32}$/);
      expect(secret).toMatch(/[A-Z]/);
      expect(secret).toMatch(/[a-z]/);
      expect(secret).toMatch(/[0-9]/);
      expect(robotSecretPolicyProblem(secret)).toBeUndefined();
    }
  });

  it('never repeats itself', () => {
    expect(new Set(secrets).size).toBe(secrets.length);
  });

  it('draws from the whole alphabet', () => {
    const seen = new Set(secrets.join(''));
    expect(seen.size).toBe(62);
  });
});

describe('robotSecretPolicyProblem', () => {
  it('applies the password rule to user-chosen secrets, in words about a secret', () => {
    expect(robotSecretPolicyProblem('Secret123')).toBeUndefined();
    expect(robotSecretPolicyProblem('short1A')).toBe('The secret must be at least 8 characters long.');
    expect(robotSecretPolicyProblem('nouppercase1')).toBe('The secret must contain at least one upper-case letter.');
  });
});

describe('hashRobotSecret / verifyRobotSecret', () => {
  const secret = generateRobotSecret();
  const salt = newSalt();
  const hash = hashRobotSecret(secret, salt);

  it('makes a per-robot salt of 32 hex characters, different every time', () => {
    expect(salt).toMatch(/^[0-9a-f]{32}$/);
    expect(newSalt()).not.toBe(salt);
  });

  it('hashes to 64 hex characters, the same for the same secret and salt', () => {
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hashRobotSecret(secret, salt)).toBe(hash);
    expect(hashRobotSecret(secret, newSalt())).not.toBe(hash);
  });

  it('is HMAC-SHA256 keyed by the salt', () => {
    // RFC 4231 test case 2.
    expect(hashRobotSecret('what do ya want for nothing?', 'Jefe')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('verifies the right secret and refuses a wrong secret or salt', () => {
    expect(verifyRobotSecret(secret, salt, hash)).toBe(true);
    expect(verifyRobotSecret(secret, salt, hash.toUpperCase())).toBe(true);
    expect(verifyRobotSecret(secret.slice(0, -1), salt, hash)).toBe(false);
    expect(verifyRobotSecret(`${secret}x`, salt, hash)).toBe(false);
    expect(verifyRobotSecret('', salt, hash)).toBe(false);
    expect(verifyRobotSecret(secret, newSalt(), hash)).toBe(false);
  });

  it.each([
    ['an empty hash', ''],
    ['a truncated hash', hash.slice(0, 63)],
    ['a hash one character long', `${hash}0`],
    ['a non-hex hash', `${hash.slice(0, 63)}g`],
    ['a hash with whitespace', ` ${hash.slice(1)}`],
  ])('answers false, without throwing, for %s', (_label, stored) => {
    expect(verifyRobotSecret(secret, salt, stored)).toBe(false);
  });

  it('answers false for an empty salt or non-string input', () => {
    expect(verifyRobotSecret(secret, '', hashRobotSecret(secret, ''))).toBe(false);
    expect(verifyRobotSecret(undefined as unknown as string, salt, hash)).toBe(false);
    expect(verifyRobotSecret(secret, null as unknown as string, hash)).toBe(false);
    expect(verifyRobotSecret(secret, salt, 42 as unknown as string)).toBe(false);
  });
});
