import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { TokenAccessController } from '@wharf/registry';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import {
  SIGNING_KEY_FILE,
  type SigningKey,
  libtrustKeyId,
  loadOrCreateSigningKey,
  signRegistryToken,
  TOKEN_BINDING_CLAIM,
  readTokenBinding,
  isScannerToken,
  SCANNER_TOKEN_CLAIM,
  type RegistryTokenBinding,
} from './registry-token.js';

/** The engine's request type, without depending on its HTTP framework here. */
type RegistryRequest = Parameters<TokenAccessController['authorize']>[0];

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-auth-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of text) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

describe('loadOrCreateSigningKey', () => {
  it('creates an EC P-256 PKCS#8 key, mode 0600, in a new directory made 0700', async () => {
    const dir = join(root, 'secret', 'keys');
    const key = await loadOrCreateSigningKey(dir);
    const file = join(dir, SIGNING_KEY_FILE);

    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const pem = await readFile(file, 'utf8');
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(key.alg).toBe('ES256');
    expect(key.privateKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(key.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(createPublicKey(key.publicKeyPem).equals(createPublicKey(key.privateKey))).toBe(true);
    expect(await readdir(dir)).toEqual([SIGNING_KEY_FILE]);
  });

  it('reads the same key back on every later start, never rewriting the file', async () => {
    const first = await loadOrCreateSigningKey(root);
    const file = join(root, SIGNING_KEY_FILE);
    const before = await stat(file);
    const pem = await readFile(file, 'utf8');

    const second = await loadOrCreateSigningKey(root);
    expect(second.kid).toBe(first.kid);
    expect(second.publicKeyPem).toBe(first.publicKeyPem);
    expect(await readFile(file, 'utf8')).toBe(pem);
    const after = await stat(file);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it('agrees on one key when several processes start at once', async () => {
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateSigningKey(root)));
    expect(new Set(keys.map((k) => k.kid)).size).toBe(1);
    expect(await readdir(root)).toEqual([SIGNING_KEY_FILE]);
  });

  it.each([0o644, 0o640, 0o604, 0o660])('refuses a key file with mode %o, saying how to fix it', async (mode) => {
    await loadOrCreateSigningKey(root);
    const file = join(root, SIGNING_KEY_FILE);
    await chmod(file, mode);
    await expect(loadOrCreateSigningKey(root)).rejects.toThrow(`chmod 600 ${file}`);
    await expect(loadOrCreateSigningKey(root)).rejects.toThrow(/group and others must have no access/);
  });

  it('accepts a key provided by the operator in SEC1 form, with mode 0400', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const file = join(root, SIGNING_KEY_FILE);
    await writeFile(file, privateKey.export({ type: 'sec1', format: 'pem' }), { mode: 0o400 });
    const key = await loadOrCreateSigningKey(root);
    expect(createPublicKey(key.publicKeyPem).equals(createPublicKey(privateKey))).toBe(true);
  });

  it('refuses a key of another type or curve, and a file that is not a key, without replacing it', async () => {
    const file = join(root, SIGNING_KEY_FILE);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    await writeFile(file, rsa, { mode: 0o600 });
    await expect(loadOrCreateSigningKey(root)).rejects.toThrow(/must be an EC P-256 key/);

    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    await writeFile(file, p384, { mode: 0o600 });
    await expect(loadOrCreateSigningKey(root)).rejects.toThrow(/must be an EC P-256 key/);

    await writeFile(file, 'not a key', { mode: 0o600 });
    await expect(loadOrCreateSigningKey(root)).rejects.toThrow(/is not a PEM private key/);
    expect(await readFile(file, 'utf8')).toBe('not a key');
  });

  it('refuses a key path that is a directory', async () => {
    await mkdir(join(root, SIGNING_KEY_FILE), { mode: 0o700 });
    await expect(loadOrCreateSigningKey(root)).rejects.toThrow(/is not a regular file/);
  });
});

describe('libtrustKeyId', () => {
  it('is twelve groups of four base32 characters encoding the first 240 bits of the SPKI SHA-256', async () => {
    const key = await loadOrCreateSigningKey(root);
    expect(key.kid).toMatch(/^(?:[A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    const der = createPublicKey(key.publicKeyPem).export({ type: 'spki', format: 'der' });
    const digest = createHash('sha256').update(der).digest();
    expect(base32Decode(key.kid.replaceAll(':', ''))).toEqual(digest.subarray(0, 30));
    expect(libtrustKeyId(createPublicKey(key.publicKeyPem))).toBe(key.kid);
  });
});

describe('signRegistryToken', () => {
  const ISSUER = 'wharf-token-issuer';
  const SERVICE = 'wharf-registry';
  let key: SigningKey;

  beforeEach(async () => {
    key = await loadOrCreateSigningKey(root);
  });

  const request = (token: string) => ({ headers: { authorization: `Bearer ${token}` } }) as unknown as RegistryRequest;

  async function controller(publicKeyPem = key.publicKeyPem) {
    return TokenAccessController.create({
      realm: 'https://wharf.example/service/token',
      service: SERVICE,
      issuer: ISSUER,
      publicKeyPem,
    });
  }

  it('signs an ES256 JWT with the claims of the Docker token protocol', async () => {
    const now = new Date('2026-03-01T12:00:00.750Z');
    const access = [{ type: 'repository', name: 'library/app', actions: ['pull', 'push'] }];
    const result = await signRegistryToken(key, {
      issuer: ISSUER,
      audience: SERVICE,
      subject: 'alice',
      access,
      expiresInSeconds: 1800,
      now,
    });

    expect(result.expiresIn).toBe(1800);
    expect(result.issuedAt).toBe('2026-03-01T12:00:00.000Z');
    expect(decodeProtectedHeader(result.token)).toEqual({ alg: 'ES256', kid: key.kid, typ: 'JWT' });
    const iat = Math.floor(now.getTime() / 1000);
    const claims = decodeJwt(result.token);
    expect(claims).toEqual({
      iss: ISSUER,
      sub: 'alice',
      aud: SERVICE,
      iat,
      nbf: iat,
      exp: iat + 1800,
      jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      access,
    });
  });

  it('gives every token its own id, and does not share the caller’s access array', async () => {
    const access = [{ type: 'repository', name: 'a/b', actions: ['pull'] }];
    const claims = { issuer: ISSUER, audience: SERVICE, subject: 'bob', access, expiresInSeconds: 60 };
    const a = await signRegistryToken(key, claims);
    access[0].actions.push('push');
    const b = await signRegistryToken(key, claims);
    expect(decodeJwt(a.token).jti).not.toBe(decodeJwt(b.token).jti);
    expect(decodeJwt(a.token).access).toEqual([{ type: 'repository', name: 'a/b', actions: ['pull'] }]);
  });

  it('is accepted by the registry engine for exactly the access it grants', async () => {
    const { token } = await signRegistryToken(key, {
      issuer: ISSUER,
      audience: SERVICE,
      subject: 'robot$ci',
      access: [{ type: 'repository', name: 'library/app', actions: ['pull'] }],
      expiresInSeconds: 300,
    });
    const registry = await controller();

    await expect(
      registry.authorize(request(token), [{ type: 'repository', name: 'library/app', actions: ['pull'] }]),
    ).resolves.toMatchObject({ allowed: true, actor: 'robot$ci' });

    const push = await registry.authorize(request(token), [
      { type: 'repository', name: 'library/app', actions: ['push'] },
    ]);
    expect(push).toMatchObject({ allowed: false, message: 'token does not grant repository:library/app:push' });
  });

  it('carries its binding in a claim of its own, beside an unchanged access claim', async () => {
    const access = [{ type: 'repository', name: 'library/app', actions: ['pull'] }];
    const binding = { subject: { kind: 'robot', id: 7 }, projects: { library: 3 } } as const;
    const { token } = await signRegistryToken(key, {
      issuer: ISSUER,
      audience: SERVICE,
      subject: 'robot$ci',
      access,
      binding,
      expiresInSeconds: 300,
    });
    const claims = decodeJwt(token);
    expect(claims.access).toEqual(access);
    expect(claims[TOKEN_BINDING_CLAIM]).toEqual(binding);
    expect(readTokenBinding(claims)).toEqual(binding);
    expect(readTokenBinding({ [TOKEN_BINDING_CLAIM]: { subject: { kind: 'anonymous' }, projects: {} } })).toEqual({
      subject: { kind: 'anonymous' },
      projects: {},
    });
    for (const bad of [
      undefined,
      'x',
      { subject: { kind: 'user' }, projects: {} },
      { subject: { kind: 'user', id: 0 }, projects: {} },
      { subject: { kind: 'root', id: 1 }, projects: {} },
      { subject: { kind: 'user', id: 1 }, projects: { a: '1' } },
      { subject: { kind: 'user', id: 1 }, projects: [] },
    ]) {
      expect(readTokenBinding({ [TOKEN_BINDING_CLAIM]: bad })).toBeUndefined();
    }
  });

  it("marks the scanner identity's tokens, and no other, as the scanner's", async () => {
    const sign = (binding: RegistryTokenBinding) =>
      signRegistryToken(key, {
        issuer: ISSUER,
        audience: SERVICE,
        subject: 'scanner',
        access: [{ type: 'repository', name: 'library/app', actions: ['pull'] }],
        binding,
        expiresInSeconds: 60,
      });
    const scanner = decodeJwt((await sign({ subject: { kind: 'scanner' }, projects: { library: 3 } })).token);
    expect(scanner[SCANNER_TOKEN_CLAIM]).toBe(true);
    expect(readTokenBinding(scanner)?.subject).toEqual({ kind: 'scanner' });
    expect(isScannerToken(scanner)).toBe(true);
    const robot = decodeJwt((await sign({ subject: { kind: 'robot', id: 7 }, projects: { library: 3 } })).token);
    expect(robot[SCANNER_TOKEN_CLAIM]).toBeUndefined();
    expect(isScannerToken(robot)).toBe(false);
    // Both marks are needed: the claim with another account's binding, or the binding without the claim, is not it.
    expect(isScannerToken({ ...robot, [SCANNER_TOKEN_CLAIM]: true })).toBe(false);
    expect(isScannerToken({ ...scanner, [SCANNER_TOKEN_CLAIM]: 'true' })).toBe(false);
    expect(isScannerToken(undefined)).toBe(false);
  });

  it('gives an anonymous caller a token with an empty subject that still verifies', async () => {
    const { token } = await signRegistryToken(key, {
      issuer: ISSUER,
      audience: SERVICE,
      subject: '',
      access: [{ type: 'repository', name: 'library/app', actions: ['pull'] }],
      expiresInSeconds: 300,
    });
    const decision = await (
      await controller()
    ).authorize(request(token), [{ type: 'repository', name: 'library/app', actions: ['pull'] }]);
    expect(decision.allowed).toBe(true);
  });

  it('is refused by a registry trusting another key, for another service, or once expired', async () => {
    const access = [{ type: 'repository', name: 'library/app', actions: ['pull'] }];
    const needed = [{ type: 'repository' as const, name: 'library/app', actions: ['pull' as const] }];
    const { token } = await signRegistryToken(key, {
      issuer: ISSUER,
      audience: SERVICE,
      subject: 'alice',
      access,
      expiresInSeconds: 300,
    });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    await expect((await controller(other)).authorize(request(token), needed)).resolves.toMatchObject({
      allowed: false,
      message: 'token is not valid for this registry',
    });

    const elsewhere = await signRegistryToken(key, {
      issuer: ISSUER,
      audience: 'another-registry',
      subject: 'alice',
      access,
      expiresInSeconds: 300,
    });
    await expect((await controller()).authorize(request(elsewhere.token), needed)).resolves.toMatchObject({
      allowed: false,
    });

    const old = await signRegistryToken(key, {
      issuer: ISSUER,
      audience: SERVICE,
      subject: 'alice',
      access,
      expiresInSeconds: 60,
      now: new Date(Date.now() - 3600_000),
    });
    await expect((await controller()).authorize(request(old.token), needed)).resolves.toMatchObject({
      allowed: false,
      message: 'token has expired',
    });
  });

  it.each([
    ['a zero lifetime', { expiresInSeconds: 0 }, /expiresInSeconds/],
    ['a fractional lifetime', { expiresInSeconds: 1.5 }, /expiresInSeconds/],
    ['an empty issuer', { issuer: '' }, /issuer/],
    ['an empty audience', { audience: '' }, /audience/],
    ['an invalid date', { now: new Date(Number.NaN) }, /now/],
    ['access that is not a list', { access: 'everything' }, /access must be an array/],
    ['access without a name', { access: [{ type: 'repository', actions: ['pull'] }] }, /access\[0\]\.name/],
    ['access with an empty action', { access: [{ type: 'repository', name: 'a', actions: [''] }] }, /actions/],
  ])('refuses %s', async (_label, override, message) => {
    const claims = {
      issuer: ISSUER,
      audience: SERVICE,
      subject: 'alice',
      access: [{ type: 'repository', name: 'a/b', actions: ['pull'] }],
      expiresInSeconds: 60,
      ...override,
    } as Parameters<typeof signRegistryToken>[1];
    await expect(signRegistryToken(key, claims)).rejects.toThrow(message);
  });
});
