import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { credentialPolicyProblem } from './password.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const ROBOT_SECRET_LENGTH = 32;
const SALT_BYTES = 16;
const HASH_HEX = /^[0-9a-fA-F]{64}$/;

/**
 * A fresh robot secret: 32 characters drawn uniformly from [A-Za-z0-9] (about 190 bits), redrawn until it holds an
 * upper-case letter, a lower-case letter and a digit, so it passes the same policy a user-chosen secret must.
 */
export function generateRobotSecret(): string {
  for (;;) {
    let secret = '';
    for (let i = 0; i < ROBOT_SECRET_LENGTH; i++) secret += ALPHABET[randomInt(ALPHABET.length)];
    if (credentialPolicyProblem(secret, 'secret') === undefined) return secret;
  }
}

/** Why a secret chosen by a user for a robot is refused (Harbor's rule, same as passwords); undefined if accepted. */
export function robotSecretPolicyProblem(secret: string): string | undefined {
  return credentialPolicyProblem(secret, 'secret');
}

/** A random per-robot salt, 32 hex characters. */
export function newSalt(): string {
  return randomBytes(SALT_BYTES).toString('hex');
}

/**
 * HMAC-SHA256 of the secret keyed by the robot's salt, hex. A fast keyed hash suffices because generated secrets
 * carry ~190 bits of entropy; robots authenticate on every registry token request, where a slow KDF would cost.
 */
export function hashRobotSecret(secret: string, salt: string): string {
  return createHmac('sha256', salt).update(secret, 'utf8').digest('hex');
}

/** Constant-time check of a presented secret; false, never a throw, on malformed input. */
export function verifyRobotSecret(secret: string, salt: string, hash: string): boolean {
  if (typeof secret !== 'string' || typeof salt !== 'string' || typeof hash !== 'string') return false;
  if (salt.length === 0 || !HASH_HEX.test(hash)) return false;
  const expected = Buffer.from(hash, 'hex');
  const actual = Buffer.from(hashRobotSecret(secret, salt), 'hex');
  return timingSafeEqual(actual, expected);
}
