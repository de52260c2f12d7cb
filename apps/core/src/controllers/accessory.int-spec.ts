import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  AccessoryType,
  COSIGN_SIMPLESIGNING_MEDIA_TYPE,
  HARBOR_SBOM_ARTIFACT_TYPE,
  MediaType,
  NOTATION_SIGNATURE_ARTIFACT_TYPE,
} from '@wharf/oci';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type Credentials, type TestCore, startTestCore } from '../testing/test-core.js';
import { type ArtifactFixtures, type Pushed, artifactFixtures } from '../testing/artifact-fixtures.js';

interface Accessory {
  id: number;
  artifact_id: number;
  subject_artifact_id: number;
  subject_artifact_digest: string;
  subject_artifact_repo: string;
  digest: string;
  type: string;
  size: number;
}

interface Artifact {
  id: number;
  digest: string;
  accessories?: Accessory[];
  inherited_accessories?: Accessory[];
  tags?: { name: string }[];
}

// Each request checks a password with scrypt; on a busy machine a few of them take seconds.
jest.setTimeout(120_000);

/** cosign's tag for a signature (or `.att`, `.sbom`) of `digest`. */
const cosignTag = (digest: string, suffix = 'sig') => `${digest.replace(':', '-')}.${suffix}`;

/**
 * Accessories through the API: signatures and SBOMs attached by their subject field or by cosign's tag convention
 * are listed with their subject, not as artifacts of their own, and go where their subject goes.
 */
describe('accessory API', () => {
  let core: TestCore;
  let fx: ArtifactFixtures;
  let contract: HarborContract;
  let admin: Credentials;
  // lab/app: image `web` (v1) with a cosign signature by tag, a notation signature and an SBOM by subject, and a
  // cosign signature of the SBOM by tag.
  let web: Pushed;
  let cosign: Pushed;
  let notation: Pushed;
  let sbom: Pushed;
  let sbomSignature: Pushed;

  const artifacts = (repository = 'app') => `/api/v2.0/projects/lab/repositories/${repository}/artifacts`;
  const get = <T = Artifact>(path: string) => core.request<T>('GET', path, { auth: admin });

  /** A signature as `cosign sign` pushes it without OCI 1.1: a simple-signing layer, tagged after its subject. */
  const cosignSignature = (repository: string, subject: Pushed) =>
    fx.image(repository, {
      tag: cosignTag(subject.digest),
      config: { architecture: '', os: '', nonce: randomBytes(4).toString('hex') },
      layerMediaType: COSIGN_SIMPLESIGNING_MEDIA_TYPE,
      layers: [Buffer.from(JSON.stringify({ critical: { image: { 'docker-manifest-digest': subject.digest } } }))],
    });

  const referrer = (repository: string, subject: Pushed, artifactType: string) =>
    fx.image(repository, {
      artifactType,
      configMediaType: MediaType.OciEmpty,
      config: {},
      layers: [randomBytes(32)],
      subject,
    });

  beforeAll(async () => {
    core = await startTestCore();
    fx = artifactFixtures(core);
    contract = await harborContract();
    admin = core.admin;
    await fx.project('lab');
    web = await fx.image('lab/app', { tag: 'v1' });
    cosign = await cosignSignature('lab/app', web);
    notation = await referrer('lab/app', web, NOTATION_SIGNATURE_ARTIFACT_TYPE);
    sbom = await referrer('lab/app', web, HARBOR_SBOM_ARTIFACT_TYPE);
    sbomSignature = await cosignSignature('lab/app', sbom);
  });

  afterAll(async () => {
    await core?.close();
  });

  it('lists a signed image as one artifact, with its accessories when asked', async () => {
    const plain = await get<Artifact[]>(artifacts());
    expect(plain.status).toBe(200);
    expect(plain.body.map((a) => a.digest)).toEqual([web.digest]);
    expect(plain.headers.get('x-total-count')).toBe('1');
    expect(plain.body[0].accessories).toBeUndefined();

    const listed = await get<Artifact[]>(`${artifacts()}?with_accessory=true`);
    const [artifact] = listed.body;
    expect(artifact.accessories).toEqual([
      expect.objectContaining({
        artifact_id: expect.any(Number),
        subject_artifact_id: artifact.id,
        subject_artifact_digest: web.digest,
        subject_artifact_repo: 'lab/app',
        digest: cosign.digest,
        type: AccessoryType.CosignSignature,
        size: cosign.size,
      }),
      expect.objectContaining({ digest: notation.digest, type: AccessoryType.NotationSignature }),
      expect.objectContaining({ digest: sbom.digest, type: AccessoryType.HarborSbom }),
    ]);
    for (const accessory of artifact.accessories ?? []) contract.assertValid('Accessory', accessory);

    const repository = await get<{ artifact_count: number }>('/api/v2.0/projects/lab/repositories/app');
    expect(repository.body.artifact_count).toBe(1);
  });

  it('keeps accessories reachable by digest and by their tag, and lists them all with base=*', async () => {
    const byDigest = await get(`${artifacts()}/${cosign.digest}?with_accessory=true`);
    expect(byDigest.status).toBe(200);
    expect(byDigest.body.digest).toBe(cosign.digest);
    const byTag = await get(`${artifacts()}/${cosignTag(web.digest)}`);
    expect(byTag.body.digest).toBe(cosign.digest);
    // The SBOM's own accessory hangs under the SBOM.
    const ofSbom = await get(`${artifacts()}/${sbom.digest}?with_accessory=true`);
    expect(ofSbom.body.accessories?.map((a) => [a.digest, a.type])).toEqual([
      [sbomSignature.digest, AccessoryType.CosignSignature],
    ]);
    const all = await get<Artifact[]>(`${artifacts()}?q=${encodeURIComponent('base=*')}`);
    expect(all.body.map((a) => a.digest).sort()).toEqual(
      [web, cosign, notation, sbom, sbomSignature].map((p) => p.digest).sort(),
    );
  });

  it('pages the accessories of an artifact and filters them by type', async () => {
    const first = await get<Accessory[]>(`${artifacts()}/v1/accessories?page=1&page_size=2`);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-total-count')).toBe('3');
    expect(first.headers.get('link')).toContain('rel="next"');
    expect(first.body.map((a) => a.digest)).toEqual([cosign.digest, notation.digest]);
    for (const accessory of first.body) contract.assertValid('Accessory', accessory);
    const second = await get<Accessory[]>(`${artifacts()}/v1/accessories?page=2&page_size=2`);
    expect(second.body.map((a) => a.digest)).toEqual([sbom.digest]);

    const query = (q: string) => get<Accessory[]>(`${artifacts()}/v1/accessories?q=${encodeURIComponent(q)}`);
    const signatures = await query('type=signature.cosign');
    expect(signatures.body.map((a) => a.digest)).toEqual([cosign.digest]);
    expect(signatures.headers.get('x-total-count')).toBe('1');
    expect((await query('type=sbom.harbor')).body.map((a) => a.digest)).toEqual([sbom.digest]);
    expect((await query('type={signature.cosign signature.notation}')).body.map((a) => a.digest)).toEqual([
      cosign.digest,
      notation.digest,
    ]);
    expect((await get(`${artifacts()}/v9/accessories`)).status).toBe(404);
  });

  it('makes a manifest an accessory when the tag API gives it a convention tag', async () => {
    const image = await fx.image('lab/tagged', { tag: 'v1' });
    const signature = await fx.image('lab/tagged', {
      layerMediaType: COSIGN_SIMPLESIGNING_MEDIA_TYPE,
      layers: [Buffer.from('{"critical":{}}')],
    });
    const before = await get<Artifact[]>(artifacts('tagged'));
    expect(before.body.map((a) => a.digest).sort()).toEqual([image.digest, signature.digest].sort());
    const tagged = await core.request('POST', `${artifacts('tagged')}/${signature.digest}/tags`, {
      auth: admin,
      body: { name: cosignTag(image.digest) },
    });
    expect(tagged.status).toBe(201);
    const after = await get<Artifact[]>(`${artifacts('tagged')}?with_accessory=true`);
    expect(after.body.map((a) => a.digest)).toEqual([image.digest]);
    expect(after.body[0].accessories?.map((a) => [a.digest, a.type])).toEqual([
      [signature.digest, AccessoryType.CosignSignature],
    ]);
  });

  it('copies an artifact with its accessories and their convention tags', async () => {
    const response = await core.request('POST', `${artifacts('copy')}?from=${encodeURIComponent('lab/app:v1')}`, {
      auth: admin,
    });
    expect(response.status).toBe(201);
    const copied = await get<Artifact[]>(`${artifacts('copy')}?with_accessory=true`);
    expect(copied.body.map((a) => a.digest)).toEqual([web.digest]);
    expect(copied.body[0].accessories?.map((a) => a.digest)).toEqual([cosign.digest, notation.digest, sbom.digest]);
    const signature = await get(`${artifacts('copy')}/${cosignTag(web.digest)}`);
    expect(signature.body.digest).toBe(cosign.digest);
    // Copying an accessory on its own is refused, as Harbor refuses it.
    const refused = await core.request(
      'POST',
      `${artifacts('copy2')}?from=${encodeURIComponent(`lab/app@${cosign.digest}`)}`,
      { auth: admin },
    );
    expect(refused.status).toBe(403);
  });

  it("gives an index's children its signatures as inherited accessories, when asked", async () => {
    const amd64 = await fx.image('lab/multi');
    const arm64 = await fx.image('lab/multi');
    const index = await fx.index(
      'lab/multi',
      [
        { image: amd64, platform: { architecture: 'amd64', os: 'linux' } },
        { image: arm64, platform: { architecture: 'arm64', os: 'linux' } },
      ],
      { tag: 'v1' },
    );
    const indexCosign = await cosignSignature('lab/multi', index);
    const indexNotation = await referrer('lab/multi', index, NOTATION_SIGNATURE_ARTIFACT_TYPE);
    // An SBOM describes the index itself: not a signature, so not inherited.
    await referrer('lab/multi', index, HARBOR_SBOM_ARTIFACT_TYPE);
    const childSbom = await referrer('lab/multi', amd64, HARBOR_SBOM_ARTIFACT_TYPE);
    const multi = artifacts('multi');

    const plain = await get(`${multi}/${amd64.digest}?with_accessory=true`);
    expect(plain.body.inherited_accessories).toBeUndefined();
    const child = await get(`${multi}/${amd64.digest}?with_accessory=true&with_inherited_accessory=true`);
    expect(child.status).toBe(200);
    expect(child.body.accessories?.map((a) => a.digest)).toEqual([childSbom.digest]);
    expect(child.body.inherited_accessories?.map((a) => [a.digest, a.type, a.subject_artifact_digest])).toEqual([
      [indexCosign.digest, AccessoryType.CosignSignature, index.digest],
      [indexNotation.digest, AccessoryType.NotationSignature, index.digest],
    ]);
    const { extra_attrs: _ignored, ...rest } = child.body as Artifact & { extra_attrs?: unknown };
    contract.assertValid('Artifact', rest);

    const all = await get<Artifact[]>(`${multi}?q=${encodeURIComponent('base=*')}&with_inherited_accessory=true`);
    const inheritedBy = Object.fromEntries(
      all.body.map((a) => [a.digest, a.inherited_accessories?.map((s) => s.digest) ?? null]),
    );
    expect(inheritedBy[arm64.digest]).toEqual([indexCosign.digest, indexNotation.digest]);
    expect(inheritedBy[index.digest]).toEqual([]);
  });

  it('deletes a subject with its accessories, and theirs', async () => {
    const response = await core.request('DELETE', `${artifacts()}/v1`, { auth: admin });
    expect(response.status).toBe(200);
    for (const gone of [web, cosign, notation, sbom, sbomSignature]) {
      expect((await get(`${artifacts()}/${gone.digest}`)).status).toBe(404);
    }
    expect((await get<Artifact[]>(`${artifacts()}?q=${encodeURIComponent('base=*')}`)).body).toEqual([]);
    expect(await fx.registry.listReferrers('lab/app', web.digest)).toEqual([]);
    const tags = await fx.registry.listTags('lab/app', 10);
    expect(JSON.parse(tags!.tagsJson)).toEqual([]);
  });
});
