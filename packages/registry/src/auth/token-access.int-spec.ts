import { type FastifyRequest } from 'fastify';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { startTestRegistry, type TestRegistry } from '../testing/test-registry.js';
import { TokenAccessController } from './token-access.controller.js';

const REALM = 'https://auth.example.test/service/token';
const SERVICE = 'wharf-registry';
const ISSUER = 'wharf-token-issuer';

function keyPair(kind: 'ec' | 'rsa') {
  return kind === 'ec'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
}

interface Claims {
  access: { type: string; name: string; actions: string[] }[];
  audience?: string;
  issuer?: string;
  expiresIn?: number;
}

function mint(privateKey: KeyObject, alg: 'ES256' | 'RS256', claims: Claims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ access: claims.access })
    .setProtectedHeader({ alg })
    .setSubject('ci-robot')
    .setIssuer(claims.issuer ?? ISSUER)
    .setAudience(claims.audience ?? SERVICE)
    .setIssuedAt(now - 5)
    .setNotBefore(now - 5)
    .setExpirationTime(now + (claims.expiresIn ?? 300))
    .sign(privateKey);
}

describe.each([
  ['ES256', 'ec'],
  ['RS256', 'rsa'],
] as const)('token authentication with %s', (alg, kind) => {
  let reg: TestRegistry;
  const keys = keyPair(kind);
  const other = keyPair(kind);

  beforeAll(async () => {
    const access = await TokenAccessController.create({
      realm: REALM,
      service: SERVICE,
      issuer: ISSUER,
      publicKeyPem: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    });
    reg = await startTestRegistry({ access });
  });
  afterAll(async () => {
    await reg?.close();
  });

  const call = (path: string, token?: string, init: RequestInit = {}) =>
    fetch(`${reg.url}${path}`, {
      ...init,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as object) },
    });

  it('challenges a request without a token, naming realm, service and scope', async () => {
    const base = await call('/v2/');
    expect(base.status).toBe(401);
    expect(base.headers.get('www-authenticate')).toBe(`Bearer realm="${REALM}",service="${SERVICE}"`);
    const res = await call('/v2/team/app/tags/list');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer realm="${REALM}",service="${SERVICE}",scope="repository:team/app:pull"`,
    );
    expect(((await res.json()) as { errors: { code: string }[] }).errors[0].code).toBe('UNAUTHORIZED');
  });

  it('accepts a valid token for exactly the scope it grants', async () => {
    const pull = await mint(keys.privateKey, alg, {
      access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }],
    });
    expect((await call('/v2/', pull)).status).toBe(200);
    // Pull is granted: the repository does not exist, so the engine answers 404, not 401.
    expect((await call('/v2/team/app/tags/list', pull)).status).toBe(404);
    const push = await call('/v2/team/app/blobs/uploads/', pull, { method: 'POST' });
    expect(push.status).toBe(401);
    expect(push.headers.get('www-authenticate')).toContain('scope="repository:team/app:pull,push"');
    expect(push.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect((await call('/v2/team/other/tags/list', pull)).status).toBe(401);
    expect((await call('/v2/_catalog', pull)).status).toBe(401);
  });

  it('allows push with push+pull, catalog with registry:catalog:*, delete only with delete', async () => {
    const token = await mint(keys.privateKey, alg, {
      access: [
        { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
        { type: 'registry', name: 'catalog', actions: ['*'] },
      ],
    });
    const data = Buffer.from('layer bytes');
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const res = await call(`/v2/team/app/blobs/uploads/?digest=${digest}`, token, { method: 'POST', body: data });
    expect(res.status).toBe(201);
    expect((await call('/v2/_catalog', token)).status).toBe(200);
    expect((await call(`/v2/team/app/blobs/${digest}`, token, { method: 'DELETE' })).status).toBe(401);
    const deleter = await mint(keys.privateKey, alg, {
      access: [{ type: 'repository', name: 'team/app', actions: ['delete'] }],
    });
    expect((await call(`/v2/team/app/blobs/${digest}`, deleter, { method: 'DELETE' })).status).toBe(202);
  });

  it('refuses expired tokens, tokens for another audience or issuer, and tokens signed by another key', async () => {
    const access = [{ type: 'repository', name: 'team/app', actions: ['pull'] }];
    const bad = [
      await mint(keys.privateKey, alg, { access, expiresIn: -120 }),
      await mint(keys.privateKey, alg, { access, audience: 'someone-else' }),
      await mint(keys.privateKey, alg, { access, issuer: 'impostor' }),
      await mint(other.privateKey, alg, { access }),
      'not-a-jwt',
    ];
    for (const token of bad) {
      const res = await call('/v2/team/app/tags/list', token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
  });

  it('stops accepting a token it has already verified once the token expires', async () => {
    const strict = await TokenAccessController.create({
      realm: REALM,
      service: SERVICE,
      issuer: ISSUER,
      publicKeyPem: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      clockToleranceSeconds: 0,
    });
    const token = await mint(keys.privateKey, alg, {
      access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }],
      expiresIn: 2,
    });
    const need = [{ type: 'repository' as const, name: 'team/app', actions: ['pull' as const] }];
    const request = { headers: { authorization: `Bearer ${token}` } } as unknown as FastifyRequest;
    expect(await strict.authorize(request, need)).toMatchObject({ allowed: true, actor: 'ci-robot' });
    expect(await strict.authorize(request, need)).toMatchObject({ allowed: true });
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect(await strict.authorize(request, need)).toMatchObject({ allowed: false, message: 'token has expired' });
  });
});
