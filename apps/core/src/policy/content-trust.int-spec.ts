import { type KeyObject, generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { decodeJwt, SignJWT } from 'jose';
import { CORE_SECRETS } from '../constants.js';
import { RegistryClient, RegistryFixtures, sha256 } from '../registry/testing/registry-fixtures.js';
import { SCANNER_TOKEN_CLAIM } from '../registry/scanner-token.js';
import { TokenService } from '../services/token.service.js';
import { type CoreSecrets } from '../secrets.js';
import {
  OCI_MANIFEST,
  type SignatureArtifact,
  type Subject,
  cosignBundle,
  cosignKeys,
  cosignSignature,
  cosignTag,
  notationPki,
  notationSignature,
} from '../testing/signature-fixtures.js';
import { type TestCore, startTestCore } from '../testing/test-core.js';

jest.setTimeout(120_000);

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const ACCEPT = `${OCI_MANIFEST}, ${OCI_INDEX}`;

interface Accessory {
  digest: string;
  type: string;
  verified?: boolean | null;
}

/**
 * Content trust over /v2 with real signatures pushed as clients push them: cosign's (by tag convention and through
 * the subject field) and notation's (through the subject field), Harbor's 412 for an unsigned pull, and trusted keys
 * that make only a verifying signature count.
 */
describe('content trust', () => {
  let core: TestCore;
  let fx: RegistryFixtures;

  const projectApi = (name: string) => `/api/v2.0/projects/${name}`;

  async function client(repository: string, claims: Record<string, unknown> = {}): Promise<RegistryClient> {
    const token = await fx.token([`repository:${repository}:pull,push,delete`], core.admin);
    if (Object.keys(claims).length === 0) return new RegistryClient(core.url, token);
    // The same grant, with claims only a token issued to the scanner identity carries.
    const { signingKey } = core.server.app.get<symbol, CoreSecrets>(CORE_SECRETS);
    const payload = { ...decodeJwt(token), ...claims };
    const resigned = await new SignJWT(payload)
      .setProtectedHeader({ alg: signingKey.alg, kid: signingKey.kid, typ: 'JWT' })
      .sign(signingKey.privateKey);
    return new RegistryClient(core.url, resigned);
  }

  async function setMetadata(project: string, metadata: Record<string, string>): Promise<void> {
    const response = await core.request('PUT', projectApi(project), { auth: core.admin, body: { metadata } });
    expect(response.status).toBe(200);
  }

  async function pushImage(repository: string, tag: string): Promise<Subject> {
    const c = await client(repository);
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', n: randomBytes(6).toString('hex') }),
    );
    const pushed = await c.pushImage(repository, tag, config, [randomBytes(64)]);
    return { digest: pushed.digest, mediaType: OCI_MANIFEST, size: pushed.manifest.length };
  }

  async function pushSignature(repository: string, artifact: SignatureArtifact, tag?: string): Promise<void> {
    const c = await client(repository);
    for (const blob of artifact.blobs) expect((await c.pushBlob(repository, blob)).status).toBe(201);
    const put = await c.putManifest(repository, tag ?? artifact.digest, artifact.manifest);
    expect(put.status).toBe(201);
  }

  async function pushIndex(repository: string, tag: string, children: Subject[]): Promise<Subject> {
    const c = await client(repository);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: children.map((child, i) => ({
          ...child,
          platform: { architecture: i === 0 ? 'amd64' : 'arm64', os: 'linux' },
        })),
      }),
    );
    const put = await c.request('PUT', `/v2/${repository}/manifests/${tag}`, {
      headers: { 'content-type': OCI_INDEX },
      body: index,
    });
    expect(put.status).toBe(201);
    return { digest: sha256(index), mediaType: OCI_INDEX, size: index.length };
  }

  /** The status of a GET and of a HEAD of the manifest, and the GET's error envelope. */
  async function pull(repository: string, reference: string, claims: Record<string, unknown> = {}) {
    const c = await client(repository, claims);
    const path = `/v2/${repository}/manifests/${reference}`;
    const get = await c.request('GET', path, { headers: { accept: ACCEPT } });
    const head = await c.request('HEAD', path, { headers: { accept: ACCEPT } });
    const body = get.status === 200 ? undefined : (JSON.parse(get.body.toString('utf8')) as unknown);
    return { get: get.status, head: head.status, body };
  }

  const refusedBy = (kind: 'cosign' | 'notation') => ({
    get: 412,
    head: 412,
    body: { errors: [{ code: 'PROJECTPOLICYVIOLATION', message: `The image is not signed by ${kind}.` }] },
  });
  const allowed = { get: 200, head: 200, body: undefined };

  async function addKey(project: string, type: 'cosign' | 'notation', pem: string, name = `${type} key`) {
    return core.request<{ errors?: { code: string; message: string }[] }>(
      'POST',
      `${projectApi(project)}/trusted-keys`,
      { auth: core.admin, body: { type, name, pem } },
    );
  }

  async function accessories(repository: string, reference: string): Promise<Accessory[]> {
    const [project, ...rest] = repository.split('/');
    const response = await core.request<Accessory[]>(
      'GET',
      `${projectApi(project)}/repositories/${encodeURIComponent(rest.join('/'))}/artifacts/${reference}/accessories`,
      { auth: core.admin },
    );
    expect(response.status).toBe(200);
    return response.body;
  }

  beforeAll(async () => {
    core = await startTestCore();
    fx = new RegistryFixtures(core);
    for (const name of ['cos', 'nota', 'plain']) await fx.project(name);
  });

  afterAll(async () => {
    await core?.close();
  });

  it('serves everything while the project asks for no signature', async () => {
    const image = await pushImage('plain/app', 'v1');
    expect(await pull('plain/app', 'v1')).toEqual(allowed);
    expect(await pull('plain/app', image.digest)).toEqual(allowed);
  });

  describe('cosign', () => {
    const keys = cosignKeys();
    const stranger = cosignKeys();
    let unsigned: Subject;
    let byTag: Subject;
    let byReferrer: Subject;
    let tampered: Subject;
    let foreign: Subject;
    let bundled: Subject;
    let foreignBundle: Subject;
    let tamperedBundle: Subject;

    beforeAll(async () => {
      bundled = await pushImage('cos/app', 'bundled');
      await pushSignature('cos/app', cosignBundle(bundled, keys.privateKey));
      foreignBundle = await pushImage('cos/app', 'foreign-bundle');
      await pushSignature('cos/app', cosignBundle(foreignBundle, stranger.privateKey));
      tamperedBundle = await pushImage('cos/app', 'tampered-bundle');
      await pushSignature('cos/app', cosignBundle(tamperedBundle, keys.privateKey, { tamper: true }));
      unsigned = await pushImage('cos/app', 'unsigned');
      byTag = await pushImage('cos/app', 'by-tag');
      await pushSignature('cos/app', cosignSignature(byTag, keys.privateKey), cosignTag(byTag.digest));
      byReferrer = await pushImage('cos/app', 'by-referrer');
      await pushSignature('cos/app', cosignSignature(byReferrer, keys.privateKey, { referrers: true }));
      tampered = await pushImage('cos/app', 'tampered');
      await pushSignature(
        'cos/app',
        cosignSignature(tampered, keys.privateKey, { tamper: true }),
        cosignTag(tampered.digest),
      );
      foreign = await pushImage('cos/app', 'foreign');
      await pushSignature('cos/app', cosignSignature(foreign, stranger.privateKey), cosignTag(foreign.digest));
      expect(await pull('cos/app', 'unsigned')).toEqual(allowed);
      await setMetadata('cos', { enable_content_trust_cosign: 'true' });
    });

    it("refuses an unsigned artifact with Harbor's 412, by tag and by digest, GET and HEAD", async () => {
      expect(await pull('cos/app', 'unsigned')).toEqual(refusedBy('cosign'));
      expect(await pull('cos/app', unsigned.digest)).toEqual(refusedBy('cosign'));
    });

    it('serves an artifact signed by tag convention or through its subject field, and the signatures', async () => {
      for (const reference of ['by-tag', byTag.digest, 'by-referrer', byReferrer.digest]) {
        expect(await pull('cos/app', reference)).toEqual(allowed);
      }
      expect(await pull('cos/app', cosignTag(byTag.digest))).toEqual(allowed);
    });

    it('refuses an artifact again once its signature is deleted', async () => {
      const image = await pushImage('cos/app', 'revoked');
      const signature = cosignSignature(image, keys.privateKey);
      await pushSignature('cos/app', signature, cosignTag(image.digest));
      expect(await pull('cos/app', 'revoked')).toEqual(allowed);
      expect(await pull('cos/app', 'revoked')).toEqual(allowed);
      const c = await client('cos/app');
      expect((await c.request('DELETE', `/v2/cos/app/manifests/${signature.digest}`)).status).toBe(202);
      // The change notice reaches the kept verdicts in a moment.
      const deadline = Date.now() + 5_000;
      let result = await pull('cos/app', 'revoked');
      while (result.get === 200 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        result = await pull('cos/app', 'revoked');
      }
      expect(result).toEqual(refusedBy('cosign'));
    });

    it('counts any signature while the project trusts no key, as Harbor does', async () => {
      expect(await pull('cos/app', 'tampered')).toEqual(allowed);
      expect(await pull('cos/app', 'foreign')).toEqual(allowed);
      for (const image of [bundled, foreignBundle, tamperedBundle]) {
        expect(await pull('cos/app', image.digest)).toEqual(allowed);
      }
      expect((await accessories('cos/app', 'tampered')).map((a) => a.verified)).toEqual([null]);
    });

    it('lets the scanner identity pull an unsigned artifact', async () => {
      const issued = await core.server.app.get(TokenService).issueForScanner('cos/app', 60);
      const scanner = new RegistryClient(core.url, issued!.token);
      for (const method of ['GET', 'HEAD']) {
        const answer = await scanner.request(method, '/v2/cos/app/manifests/unsigned', { headers: { accept: ACCEPT } });
        expect(answer.status).toBe(200);
      }
      // The claim alone, on another account's token, is not the scanner.
      expect(await pull('cos/app', 'unsigned', { [SCANNER_TOKEN_CLAIM]: true })).toEqual(refusedBy('cosign'));
    });

    it('lets cosign and notation read what they sign with a token that may push, as Harbor does', async () => {
      const path = `/v2/cos/app/manifests/unsigned`;
      const as = async (actions: string, agent: string) => {
        const token = await fx.token([`repository:cos/app:${actions}`], core.admin);
        const c = new RegistryClient(core.url, token);
        return (await c.request('GET', path, { headers: { accept: ACCEPT, 'user-agent': agent } })).status;
      };
      expect(await as('pull,push', 'cosign/v2.4.1 (linux; amd64)')).toBe(200);
      expect(await as('pull,push', 'notation/1.3.0')).toBe(200);
      expect(await as('pull', 'cosign/v2.4.1 (linux; amd64)')).toBe(412);
      expect(await as('pull,push', 'containers/5.32 (github.com/containers/image)')).toBe(412);
    });

    it('covers the children of a signed index, pulled by digest, and not those of an unsigned one', async () => {
      const amd64 = await pushImage('cos/multi', 'amd64');
      const arm64 = await pushImage('cos/multi', 'arm64');
      const signedIndex = await pushIndex('cos/multi', 'signed', [amd64, arm64]);
      await pushSignature('cos/multi', cosignSignature(signedIndex, keys.privateKey), cosignTag(signedIndex.digest));
      const lone = await pushImage('cos/multi', 'lone');
      const unsignedIndex = await pushIndex('cos/multi', 'unsigned', [lone]);
      expect(await pull('cos/multi', 'signed')).toEqual(allowed);
      expect(await pull('cos/multi', amd64.digest)).toEqual(allowed);
      expect(await pull('cos/multi', arm64.digest)).toEqual(allowed);
      expect(await pull('cos/multi', unsignedIndex.digest)).toEqual(refusedBy('cosign'));
      expect(await pull('cos/multi', lone.digest)).toEqual(refusedBy('cosign'));
    });

    it('with a trusted key, counts only a signature that verifies against it', async () => {
      const added = await addKey('cos', 'cosign', keys.publicPem);
      expect(added.status).toBe(201);
      expect(await pull('cos/app', 'by-tag')).toEqual(allowed);
      expect(await pull('cos/app', byReferrer.digest)).toEqual(allowed);
      expect(await pull('cos/app', 'tampered')).toEqual(refusedBy('cosign'));
      expect(await pull('cos/app', 'foreign')).toEqual(refusedBy('cosign'));
      expect((await accessories('cos/app', 'by-tag')).map((a) => a.verified)).toEqual([true]);
      expect((await accessories('cos/app', 'tampered')).map((a) => a.verified)).toEqual([false]);
      expect((await accessories('cos/app', 'foreign')).map((a) => a.verified)).toEqual([false]);
      // Sigstore bundles found through the referrers API verify the same way.
      expect(await pull('cos/app', 'bundled')).toEqual(allowed);
      expect(await pull('cos/app', 'foreign-bundle')).toEqual(refusedBy('cosign'));
      expect(await pull('cos/app', 'tampered-bundle')).toEqual(refusedBy('cosign'));
      expect((await accessories('cos/app', 'bundled')).map((a) => a.verified)).toEqual([true]);

      // Trusting the other key too lets its signature count; removing both goes back to existence only.
      const other = await addKey('cos', 'cosign', stranger.publicPem, 'other');
      expect(other.status).toBe(201);
      expect(await pull('cos/app', 'foreign')).toEqual(allowed);
      const listed = await core.request<{ id: number }[]>('GET', `${projectApi('cos')}/trusted-keys`, {
        auth: core.admin,
      });
      for (const { id } of listed.body) {
        const deleted = await core.request('DELETE', `${projectApi('cos')}/trusted-keys/${id}`, { auth: core.admin });
        expect(deleted.status).toBe(200);
      }
      expect(await pull('cos/app', 'tampered')).toEqual(allowed);
    });

    it('serves everything again once the switch is off', async () => {
      await setMetadata('cos', { enable_content_trust_cosign: 'false' });
      expect(await pull('cos/app', 'unsigned')).toEqual(allowed);
    });
  });

  describe('notation', () => {
    const pki = notationPki('wharf');
    const otherPki = notationPki('elsewhere');
    let unsigned: Subject;
    let signed: Subject;
    let tampered: Subject;
    let foreign: Subject;

    beforeAll(async () => {
      unsigned = await pushImage('nota/app', 'unsigned');
      signed = await pushImage('nota/app', 'signed');
      await pushSignature('nota/app', notationSignature(signed, pki));
      tampered = await pushImage('nota/app', 'tampered');
      await pushSignature('nota/app', notationSignature(tampered, pki, { tamper: true }));
      foreign = await pushImage('nota/app', 'foreign');
      await pushSignature('nota/app', notationSignature(foreign, otherPki));
      await setMetadata('nota', { enable_content_trust: 'true' });
    });

    it("refuses an unsigned artifact with Harbor's notation message, and serves a signed one", async () => {
      expect(await pull('nota/app', 'unsigned')).toEqual(refusedBy('notation'));
      expect(await pull('nota/app', unsigned.digest)).toEqual(refusedBy('notation'));
      expect(await pull('nota/app', 'signed')).toEqual(allowed);
      expect(await pull('nota/app', signed.digest)).toEqual(allowed);
      expect(await pull('nota/app', 'tampered')).toEqual(allowed);
      expect(await pull('nota/app', foreign.digest)).toEqual(allowed);
    });

    it('checks cosign first when both switches are on, as Harbor does', async () => {
      await setMetadata('nota', { enable_content_trust_cosign: 'true' });
      expect(await pull('nota/app', 'signed')).toEqual(refusedBy('cosign'));
      await setMetadata('nota', { enable_content_trust_cosign: 'false' });
      expect(await pull('nota/app', 'signed')).toEqual(allowed);
    });

    it('with a trust store, counts only a signature whose chain reaches it and whose JWS verifies', async () => {
      expect((await addKey('nota', 'notation', pki.caPem, 'wharf CA')).status).toBe(201);
      expect(await pull('nota/app', 'signed')).toEqual(allowed);
      expect(await pull('nota/app', 'tampered')).toEqual(refusedBy('notation'));
      expect(await pull('nota/app', 'foreign')).toEqual(refusedBy('notation'));
      expect((await accessories('nota/app', 'signed')).map((a) => a.verified)).toEqual([true]);
      expect((await accessories('nota/app', 'tampered')).map((a) => a.verified)).toEqual([false]);
      // A cosign key says nothing about notation signatures.
      expect((await addKey('nota', 'cosign', cosignKeys().publicPem)).status).toBe(201);
      expect(await pull('nota/app', 'signed')).toEqual(allowed);
      // The leaf certificate itself may be the trusted one.
      expect((await addKey('nota', 'notation', otherPki.leafPem, 'elsewhere signer')).status).toBe(201);
      expect(await pull('nota/app', 'foreign')).toEqual(allowed);
    });
  });

  describe('trusted keys API', () => {
    const keysOf = (project: string) => `${projectApi(project)}/trusted-keys`;

    it('adds, lists, reads and removes keys, with their fingerprints', async () => {
      const { publicPem } = cosignKeys();
      const added = await addKey('plain', 'cosign', publicPem, 'release');
      expect(added.status).toBe(201);
      const location = added.headers.get('location') ?? '';
      expect(location).toMatch(/^\/api\/v2\.0\/projects\/plain\/trusted-keys\/\d+$/);
      const id = Number(location.split('/').pop());
      const one = await core.request<Record<string, unknown>>('GET', `${keysOf('plain')}/${id}`, { auth: core.admin });
      expect(one.body).toEqual({
        id,
        type: 'cosign',
        name: 'release',
        pem: publicPem,
        fingerprint: expect.stringMatching(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/),
        creation_time: expect.any(String),
      });
      expect((await addKey('plain', 'cosign', publicPem, 'again')).status).toBe(409);
      const list = await core.request<unknown[]>('GET', keysOf('plain'), { auth: core.admin });
      expect(list.body).toEqual([one.body]);
      expect((await core.request('DELETE', `${keysOf('plain')}/${id}`, { auth: core.admin })).status).toBe(200);
      expect((await core.request('GET', `${keysOf('plain')}/${id}`, { auth: core.admin })).status).toBe(404);
      expect((await core.request('DELETE', `${keysOf('plain')}/${id}`, { auth: core.admin })).status).toBe(404);
    });

    it('refuses private keys, certificates as cosign keys, garbage and unsupported keys with 400', async () => {
      const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
      const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
      const ed = generateKeyPairSync('ed25519');
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const pki = notationPki('api');
      const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();
      const cases: ['cosign' | 'notation', string, RegExp][] = [
        ['cosign', cosignKeys().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), /private key/],
        ['cosign', spki(k1.publicKey), /curve secp256k1/],
        ['cosign', spki(small.publicKey), /2048 bits/],
        ['cosign', spki(ed.publicKey), /ECDSA or RSA/],
        ['cosign', pki.caPem, /PUBLIC KEY/],
        ['cosign', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', /not a readable/],
        ['notation', spki(rsa.publicKey), /CERTIFICATE/],
        ['notation', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', /not a readable/],
        ['notation', `${pki.caPem}${pki.leafPem}`, /exactly one/],
      ];
      for (const [type, pem, message] of cases) {
        const response = await addKey('plain', type, pem);
        expect(response.status).toBe(400);
        expect(response.body.errors?.[0]?.message).toMatch(message);
      }
      expect((await addKey('plain', 'cosign', spki(rsa.publicKey), 'rsa')).status).toBe(201);
      const bad = await core.request('POST', keysOf('plain'), {
        auth: core.admin,
        body: { type: 'gpg', name: 'x', pem: 'x' },
      });
      expect(bad.status).toBe(400);
    });
  });
});
