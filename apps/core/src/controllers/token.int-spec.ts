import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ProjectRole, loadOrCreateSigningKey } from '@wharf/auth';
import { decodeJwt, decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import { RegistryFixtures, grantedAccess } from '../registry/testing/registry-fixtures.js';
import { secretDirectory } from '@wharf/config';
import { type Credentials, type TestCore, startTestCore } from '../testing/test-core.js';

describe('token service', () => {
  let core: TestCore;
  let fx: RegistryFixtures;
  let sysadmin: Credentials;
  let developer: Credentials;
  let guest: Credentials;
  let maintainer: Credentials;
  let outsider: Credentials;
  let ci: Credentials;

  beforeAll(async () => {
    core = await startTestCore();
    fx = new RegistryFixtures(core);
    sysadmin = await fx.user('root', { sysadmin: true });
    const dev = await fx.user('dev');
    const guestUser = await fx.user('visitor');
    const maint = await fx.user('keeper');
    outsider = await fx.user('stranger');
    const priv = await fx.project('priv');
    await fx.project('pub', { public: true });
    await fx.project('other');
    await fx.member(priv, dev.userId, ProjectRole.Developer);
    await fx.member(priv, guestUser.userId, ProjectRole.Guest);
    await fx.member(priv, maint.userId, ProjectRole.Maintainer);
    developer = dev;
    guest = guestUser;
    maintainer = maint;
    ci = await fx.projectRobot('priv', 'ci', ['repository:pull', 'repository:push']);
  });

  afterAll(async () => {
    await core?.close();
  });

  it('answers a token, the same token as access_token, its lifetime and time of issue, uncached', async () => {
    const response = await fx.tokenResponse(['repository:priv/app:pull'], developer);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as {
      token: string;
      access_token: string;
      expires_in: number;
      issued_at: string;
    };
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBe(30 * 60);
    expect(Date.parse(body.issued_at)).toBeGreaterThan(Date.now() - 60_000);

    const key = await loadOrCreateSigningKey(secretDirectory(core.dataVolume));
    const { payload } = await jwtVerify(body.token, await importSPKI(key.publicKeyPem, 'ES256'), {
      issuer: 'harbor-token-issuer',
      audience: 'harbor-registry',
    });
    expect(payload.sub).toBe('dev');
    expect(payload.exp! - payload.iat!).toBe(30 * 60);
    expect(decodeProtectedHeader(body.token).kid).toBe(key.kid);
  });

  it('grants each role only what it may do, whatever it asks for', async () => {
    const ask = ['repository:priv/app:pull,push,delete'];
    expect(grantedAccess(await fx.token(ask, guest))).toEqual([
      { type: 'repository', name: 'priv/app', actions: ['pull'] },
    ]);
    expect(grantedAccess(await fx.token(ask, developer))).toEqual([
      { type: 'repository', name: 'priv/app', actions: ['pull', 'push'] },
    ]);
    expect(grantedAccess(await fx.token(ask, maintainer))).toEqual([
      { type: 'repository', name: 'priv/app', actions: ['pull', 'push', 'delete'] },
    ]);
    // Asked for pull only, a maintainer gets pull only: a token never holds more than was requested.
    expect(grantedAccess(await fx.token(['repository:priv/app:pull'], maintainer))).toEqual([
      { type: 'repository', name: 'priv/app', actions: ['pull'] },
    ]);
  });

  it('expands * to everything allowed, and keeps * only when everything is', async () => {
    expect(grantedAccess(await fx.token(['repository:priv/app:*'], developer))).toEqual([
      { type: 'repository', name: 'priv/app', actions: ['pull', 'push'] },
    ]);
    expect(grantedAccess(await fx.token(['repository:priv/app:*'], sysadmin))).toEqual([
      { type: 'repository', name: 'priv/app', actions: ['pull', 'push', 'delete', '*'] },
    ]);
  });

  it('grants a non-member nothing in a private project and pull in a public one', async () => {
    const token = await fx.token(['repository:priv/app:pull', 'repository:pub/app:pull,push'], outsider);
    expect(grantedAccess(token)).toEqual([{ type: 'repository', name: 'pub/app', actions: ['pull'] }]);
  });

  it('gives anonymous callers pull on public projects only', async () => {
    const token = await fx.token(['repository:pub/lib/base:pull,push', 'repository:priv/app:pull']);
    expect(decodeJwt(token).sub).toBe('');
    expect(grantedAccess(token)).toEqual([{ type: 'repository', name: 'pub/lib/base', actions: ['pull'] }]);
  });

  it('asks anonymous callers without scopes to log in, as docker login expects', async () => {
    const response = await fx.tokenResponse([]);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ errors: [{ code: 'UNAUTHORIZED', message: expect.any(String) }] });
    // With credentials, a scopeless token is how a login is checked.
    const login = await fx.tokenResponse([], developer);
    expect(login.status).toBe(200);
    expect(grantedAccess(((await login.json()) as { token: string }).token)).toEqual([]);
  });

  it('reads several scopes per value and repository names after the first colon', async () => {
    const token = await fx.token(
      ['repository:priv/app:pull repository:priv/tools/build:push,pull', 'repository:127.0.0.1:5000/priv/app:pull'],
      developer,
    );
    // The registry-host form names no repository of Wharf's, so it is granted nothing (rather than misread).
    expect(grantedAccess(token)).toEqual([
      { type: 'repository', name: 'priv/app', actions: ['pull'] },
      { type: 'repository', name: 'priv/tools/build', actions: ['pull', 'push'] },
    ]);
  });

  it('grants nothing for unknown projects, names without a project, unknown types and malformed scopes', async () => {
    const token = await fx.token(
      [
        'repository:nosuch/app:pull',
        'repository:app:pull',
        'repository(plugin):priv/plugin:pull',
        'artifact:priv/app:pull',
        'garbage',
        'repository:priv/app:pull',
      ],
      sysadmin,
    );
    // The legacy `repository(plugin)` class names a repository like any other.
    expect(grantedAccess(token)).toEqual([
      { type: 'repository', name: 'priv/plugin', actions: ['pull'] },
      { type: 'repository', name: 'priv/app', actions: ['pull'] },
    ]);
  });

  it('issues robots what their permissions hold, in their own project only', async () => {
    const token = await fx.token(['repository:priv/app:pull,push,delete', 'repository:other/app:pull'], ci);
    expect(decodeJwt(token).sub).toBe('robot$priv+ci');
    expect(grantedAccess(token)).toEqual([{ type: 'repository', name: 'priv/app', actions: ['pull', 'push'] }]);
  });

  it('lets a robot that may delete artifacts delete through the registry, and push only with pull', async () => {
    const cleaner = await fx.projectRobot('priv', 'cleaner', ['artifact:delete', 'repository:push']);
    expect(grantedAccess(await fx.token(['repository:priv/app:pull,push,delete'], cleaner))).toEqual([
      { type: 'repository', name: 'priv/app', actions: ['delete'] },
    ]);
  });

  it('refuses a disabled robot', async () => {
    const off = await fx.projectRobot('priv', 'off', ['repository:pull'], { disabled: true });
    const response = await fx.tokenResponse(['repository:priv/app:pull'], off);
    expect(response.status).toBe(401);
  });

  it('grants the catalog to system administrators only', async () => {
    expect(grantedAccess(await fx.token(['registry:catalog:*'], sysadmin))).toEqual([
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    expect(grantedAccess(await fx.token(['registry:catalog:*'], maintainer))).toEqual([]);
    expect(grantedAccess(await fx.token(['registry:catalog:*'], ci))).toEqual([]);
  });

  it('answers 401 in the error envelope for a wrong password, and 429 with Retry-After once guessing starts', async () => {
    const wrong = { username: outsider.username, password: 'not-the-password' };
    const first = await fx.tokenResponse(['repository:pub/app:pull'], wrong);
    expect(first.status).toBe(401);
    expect(await first.json()).toEqual({ errors: [{ code: 'UNAUTHORIZED', message: expect.any(String) }] });
    let last = first;
    for (let attempt = 0; attempt < 6 && last.status !== 429; attempt++) {
      last = await fx.tokenResponse(['repository:pub/app:pull'], wrong);
    }
    expect(last.status).toBe(429);
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('refuses another service and malformed queries with 400', async () => {
    const other = await fx.tokenResponse(['repository:priv/app:pull'], developer, 'notary');
    expect(other.status).toBe(400);
    expect(((await other.json()) as { errors: { message: string }[] }).errors[0].message).toContain('notary');
    const missing = await fetch(`${core.url}/service/token?scope=repository:priv/app:pull`);
    expect(missing.status).toBe(400);
    const twice = await fetch(`${core.url}/service/token?service=harbor-registry&service=x`);
    expect(twice.status).toBe(400);
  });

  it('takes the lifetime from the token_expiration setting', async () => {
    await fx.query(
      `INSERT INTO system_setting (name, value) VALUES ('token_expiration', '5'::jsonb)
       ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`,
    );
    try {
      const response = await fx.tokenResponse(['repository:pub/app:pull']);
      const body = (await response.json()) as { token: string; expires_in: number };
      expect(body.expires_in).toBe(300);
      const claims = decodeJwt(body.token);
      expect(claims.exp! - claims.iat!).toBe(300);
    } finally {
      await fx.query(`DELETE FROM system_setting WHERE name = 'token_expiration'`);
    }
  });
});
