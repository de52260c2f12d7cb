import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

/**
 * Harbor's rule for passwords and robot secrets: 8 to 128 characters with at least one upper-case letter, one
 * lower-case letter and one digit. `noun` names the thing in the message ("password", "secret").
 */
export function credentialPolicyProblem(value: string, noun: string): string | undefined {
  if (typeof value !== 'string') return `The ${noun} must be a string.`;
  // Counted in characters as a user sees them, not UTF-16 code units.
  const length = [...value].length;
  if (length < PASSWORD_MIN_LENGTH) return `The ${noun} must be at least ${PASSWORD_MIN_LENGTH} characters long.`;
  if (length > PASSWORD_MAX_LENGTH) return `The ${noun} must be at most ${PASSWORD_MAX_LENGTH} characters long.`;
  const missing: string[] = [];
  if (!/[A-Z]/.test(value)) missing.push('one upper-case letter');
  if (!/[a-z]/.test(value)) missing.push('one lower-case letter');
  if (!/[0-9]/.test(value)) missing.push('one digit');
  if (missing.length === 0) return undefined;
  const list = missing.length === 1 ? missing[0] : `${missing.slice(0, -1).join(', ')} and ${missing.at(-1)}`;
  return `The ${noun} must contain at least ${list}.`;
}

/** Why `password` breaks the password policy, in words for the user; undefined when it is acceptable. */
export function passwordPolicyProblem(password: string): string | undefined {
  return credentialPolicyProblem(password, 'password');
}

interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** Cost of new hashes. Stored hashes carry their own parameters, so these may rise without breaking old ones. */
const CURRENT: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 14, r: 8, p: 1 });
const SALT_BYTES = 16;
const KEY_BYTES = 32;
const SCHEME = 'scrypt';

/** Bounds on parameters read back from storage, so a corrupted row cannot make one verification eat the host. */
const LIMITS = { N: { min: 2 ** 10, max: 2 ** 20 }, r: { min: 1, max: 32 }, p: { min: 1, max: 16 } } as const;

function scryptAsync(password: string, salt: Buffer, keyLength: number, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    // Node refuses by default above 32 MiB; allow exactly what the parameters need, plus headroom.
    maxmem: 128 * params.N * params.r * params.p + 16 * 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** `scrypt$N$r$p$<salt>$<hash>`, salt and hash in base64url: parameters travel with the hash. */
export async function hashPassword(password: string): Promise<string> {
  if (typeof password !== 'string') throw new TypeError('password must be a string');
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(password, salt, KEY_BYTES, CURRENT);
  return [SCHEME, CURRENT.N, CURRENT.r, CURRENT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

interface ParsedHash extends ScryptParams {
  salt: Buffer;
  key: Buffer;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function parseInteger(text: string, bounds: { min: number; max: number }): number | undefined {
  if (!/^[1-9][0-9]{0,9}$/.test(text)) return undefined;
  const value = Number(text);
  return value >= bounds.min && value <= bounds.max ? value : undefined;
}

function parseStoredHash(stored: string): ParsedHash | undefined {
  if (typeof stored !== 'string') return undefined;
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== SCHEME) return undefined;
  const N = parseInteger(parts[1], LIMITS.N);
  const r = parseInteger(parts[2], LIMITS.r);
  const p = parseInteger(parts[3], LIMITS.p);
  if (N === undefined || r === undefined || p === undefined || (N & (N - 1)) !== 0) return undefined;
  if (!BASE64URL.test(parts[4]) || !BASE64URL.test(parts[5])) return undefined;
  const salt = Buffer.from(parts[4], 'base64url');
  const key = Buffer.from(parts[5], 'base64url');
  if (salt.length < 8 || salt.length > 64 || key.length < 16 || key.length > 64) return undefined;
  return { N, r, p, salt, key };
}

/**
 * Whether `password` matches a value made by {@link hashPassword}. Compares in constant time; answers false, never
 * throws, for a malformed stored value or a non-string password.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (typeof password !== 'string') return false;
  const parsed = parseStoredHash(stored);
  if (!parsed) return false;
  let key: Buffer;
  try {
    key = await scryptAsync(password, parsed.salt, parsed.key.length, parsed);
  } catch {
    return false;
  }
  return timingSafeEqual(key, parsed.key);
}

/** Whether a stored hash was made with other parameters than today's, so it should be replaced at the next login. */
export function passwordNeedsRehash(stored: string): boolean {
  const parsed = parseStoredHash(stored);
  return (
    !parsed ||
    parsed.N !== CURRENT.N ||
    parsed.r !== CURRENT.r ||
    parsed.p !== CURRENT.p ||
    parsed.salt.length !== SALT_BYTES ||
    parsed.key.length !== KEY_BYTES
  );
}
