import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { isErrno, publishSecretFile } from './secret-file.js';

/** Name of the key file inside the key directory. */
export const SIGNING_KEY_FILE = 'token_signing_key.pem';

export interface SigningKey {
  privateKey: KeyObject;
  /** SubjectPublicKeyInfo PEM: what a registry verifying the tokens is configured with. */
  publicKeyPem: string;
  /** libtrust key id of the public key (the `kid` Distribution looks its trusted keys up by). */
  kid: string;
  alg: 'ES256';
}

export interface RegistryTokenAccess {
  type: string;
  name: string;
  actions: string[];
}

/**
 * Who a token was issued to, by the account's id: a name can be taken again by another account after a delete. The
 * scanner is Wharf's own identity for its vulnerability scanner, which may pull any artifact it is given a token for
 * and nothing else, and which pull policies (vulnerability and signature gates) let through.
 */
export type RegistryTokenSubject = { kind: 'anonymous' } | { kind: 'scanner' } | { kind: 'user' | 'robot'; id: number };

/**
 * What a token's grants are bound to, beside the repository names of its `access` claim: the account they were
 * granted to, and for each project named there the project's id. A project deleted and created again under the same
 * name has another id, so a token issued for the old one grants nothing in the new one; and the registry can ask
 * whether the account still holds the access before honouring it.
 */
export interface RegistryTokenBinding {
  subject: RegistryTokenSubject;
  /** Project name → project id, for every project the `access` claim names. */
  projects: Readonly<Record<string, number>>;
}

/**
 * The private claim that carries the binding. Docker clients never read a token's claims, and a registry that does
 * not know this claim ignores it, so the token stays a standard Docker registry token.
 */
export const TOKEN_BINDING_CLAIM = 'wharf_binding';

/** The private claim that marks a token issued to the scanner identity (its binding's subject is the scanner too). */
export const SCANNER_TOKEN_CLAIM = 'wharf_scanner';

/** Whether verified claims are those of a token issued to the scanner identity. */
export function isScannerToken(claims: Readonly<Record<string, unknown>> | undefined): boolean {
  return claims?.[SCANNER_TOKEN_CLAIM] === true && readTokenBinding(claims)?.subject.kind === 'scanner';
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/** The binding of a verified token's claims; undefined when it has none or a malformed one. */
export function readTokenBinding(
  claims: Readonly<Record<string, unknown>> | undefined,
): RegistryTokenBinding | undefined {
  const value = claims?.[TOKEN_BINDING_CLAIM];
  if (typeof value !== 'object' || value === null) return undefined;
  const { subject, projects } = value as { subject?: unknown; projects?: unknown };
  if (typeof subject !== 'object' || subject === null) return undefined;
  const { kind, id } = subject as { kind?: unknown; id?: unknown };
  let parsedSubject: RegistryTokenSubject;
  if (kind === 'anonymous' || kind === 'scanner') parsedSubject = { kind };
  else if ((kind === 'user' || kind === 'robot') && isId(id)) parsedSubject = { kind, id };
  else return undefined;
  if (typeof projects !== 'object' || projects === null || Array.isArray(projects)) return undefined;
  const parsedProjects: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const [name, projectId] of Object.entries(projects as Record<string, unknown>)) {
    if (!isId(projectId)) return undefined;
    parsedProjects[name] = projectId;
  }
  return { subject: parsedSubject, projects: parsedProjects };
}

function copyBinding(binding: RegistryTokenBinding): RegistryTokenBinding {
  const copied = readTokenBinding({ [TOKEN_BINDING_CLAIM]: binding });
  if (!copied) throw new TypeError('binding must name a subject and map project names to project ids');
  return { subject: copied.subject, projects: { ...copied.projects } };
}

export interface RegistryTokenClaims {
  issuer: string;
  /** The registry service the token is for (`service` in the token request). */
  audience: string;
  /** The account the token is issued to; empty for an anonymous caller. */
  subject: string;
  access: readonly RegistryTokenAccess[];
  /** Carried in the `wharf_binding` claim when given. */
  binding?: RegistryTokenBinding;
  expiresInSeconds: number;
  now?: Date;
}

export interface RegistryToken {
  token: string;
  expiresIn: number;
  /** RFC 3339, as the token response's `issued_at`. */
  issuedAt: string;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * Docker's libtrust key id: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32, in twelve groups of four
 * joined by ':'. Distribution matches a token's `kid` against the keys of its trusted certificates this way.
 */
export function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const encoded = base32(createHash('sha256').update(der).digest().subarray(0, 30));
  const groups: string[] = [];
  for (let i = 0; i < encoded.length; i += 4) groups.push(encoded.slice(i, i + 4));
  return groups.join(':');
}

// Structural rather than `instanceof Error`: errors from another realm (a vm context) are still errno errors.
function signingKeyFromPem(pem: string, path: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new Error(`token signing key ${path} is not a PEM private key`);
  }
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(`token signing key ${path} must be an EC P-256 key (ES256)`);
  }
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    kid: libtrustKeyId(publicKey),
    alg: 'ES256',
  };
}

/** The key file's PEM, or undefined when there is none. Refuses a key that others than its owner may read or write. */
async function readKeyFile(path: string): Promise<string | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
  try {
    // fstat of the opened file, so the checked file is the one read even if the path is swapped meanwhile.
    const stats = await handle.stat();
    if (!stats.isFile()) throw new Error(`token signing key ${path} is not a regular file`);
    const mode = stats.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new Error(
        `token signing key ${path} has mode ${mode.toString(8).padStart(4, '0')}: group and others must have no ` +
          `access to it (chmod 600 ${path})`,
      );
    }
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

function generatePem(): Promise<string> {
  return new Promise((resolve, reject) => {
    generateKeyPair('ec', { namedCurve: 'P-256' }, (error, _publicKey, privateKey) =>
      error ? reject(error) : resolve(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
    );
  });
}

/**
 * The registry token signing key kept in `dir`. Created once, on first start (EC P-256, PKCS#8 PEM, mode 0600, in a
 * directory made 0700 if missing); after that always read back, never regenerated, so tokens issued by one process
 * verify in every other. Several processes starting together agree on one key.
 */
export async function loadOrCreateSigningKey(dir: string): Promise<SigningKey> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, SIGNING_KEY_FILE);
  const existing = await readKeyFile(path);
  if (existing !== undefined) return signingKeyFromPem(existing, path);
  const pem = await generatePem();
  if (await publishSecretFile(path, pem)) return signingKeyFromPem(pem, path);
  const winner = await readKeyFile(path);
  if (winner === undefined) throw new Error(`token signing key ${path} vanished while being created`);
  return signingKeyFromPem(winner, path);
}

function requireText(value: unknown, name: string, allowEmpty = false): string {
  if (typeof value !== 'string' || (!allowEmpty && value === '')) {
    throw new TypeError(`${name} must be a ${allowEmpty ? '' : 'non-empty '}string`);
  }
  return value;
}

function copyAccess(access: unknown): RegistryTokenAccess[] {
  if (!Array.isArray(access)) throw new TypeError('access must be an array');
  return (access as unknown[]).map((value, i) => {
    const entry = (typeof value === 'object' && value !== null ? value : {}) as Partial<
      Record<keyof RegistryTokenAccess, unknown>
    >;
    const type = requireText(entry.type, `access[${i}].type`);
    const name = requireText(entry.name, `access[${i}].name`);
    const { actions } = entry;
    if (!Array.isArray(actions) || !(actions as unknown[]).every((a) => typeof a === 'string' && a !== '')) {
      throw new TypeError(`access[${i}].actions must be an array of non-empty strings`);
    }
    return { type, name, actions: [...(actions as string[])] };
  });
}

/**
 * A registry bearer token (Docker token protocol): an ES256 JWT whose `access` claim lists what the bearer may do,
 * with `iss`, `sub`, `aud`, `exp`, `nbf`, `iat` and a random `jti`.
 */
export async function signRegistryToken(key: SigningKey, claims: RegistryTokenClaims): Promise<RegistryToken> {
  const issuer = requireText(claims.issuer, 'issuer');
  const audience = requireText(claims.audience, 'audience');
  const subject = requireText(claims.subject, 'subject', true);
  const { expiresInSeconds } = claims;
  if (!Number.isSafeInteger(expiresInSeconds) || expiresInSeconds <= 0) {
    throw new RangeError('expiresInSeconds must be a positive integer');
  }
  const nowMs = (claims.now ?? new Date()).getTime();
  if (!Number.isFinite(nowMs)) throw new RangeError('now must be a valid date');
  const issuedAt = Math.floor(nowMs / 1000);

  const payload: Record<string, unknown> = { access: copyAccess(claims.access) };
  if (claims.binding !== undefined) payload[TOKEN_BINDING_CLAIM] = copyBinding(claims.binding);
  if (claims.binding?.subject.kind === 'scanner') payload[SCANNER_TOKEN_CLAIM] = true;
  const token = await new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setSubject(subject)
    .setAudience(audience)
    .setIssuedAt(issuedAt)
    .setNotBefore(issuedAt)
    .setExpirationTime(issuedAt + expiresInSeconds)
    .setJti(randomBytes(16).toString('base64url'))
    .sign(key.privateKey);
  return { token, expiresIn: expiresInSeconds, issuedAt: new Date(issuedAt * 1000).toISOString() };
}
