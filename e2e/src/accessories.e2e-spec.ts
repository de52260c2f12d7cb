import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { type KeyObject, generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CoreProcess,
  type TestDatabase,
  type TestImageLayout,
  buildImageLayout,
  createTestDatabase,
  startWharfCore,
} from '@wharf/testkit';
import { Skopeo } from './support/clients.js';
import { sha256 } from './support/http.js';
import { e2eTarget } from './support/target.js';

jest.setTimeout(300_000);

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
const HARBOR_SBOM = 'application/vnd.goharbor.harbor.sbom.v1';

interface Accessory {
  digest: string;
  type: string;
  subject_artifact_digest: string;
}

interface Artifact {
  digest: string;
  accessories?: Accessory[];
}

/**
 * Accessories with real clients against `wharf start core`: skopeo pushes an image and a cosign signature under
 * cosign's `sha256-<hex>.sig` tag (a simple-signing payload signed with ECDSA P-256, as `cosign sign` makes it), an
 * SBOM with a subject goes up as oras pushes one, and the API shows one artifact with two accessories until the
 * image is deleted. Core has no reference.
 */
const describeCore = e2eTarget() === 'wharf' ? describe : describe.skip;

describeCore('wharf core: signatures and SBOMs as accessories, with skopeo', () => {
  let workDir: string;
  let database: TestDatabase;
  let core: CoreProcess;
  let skopeo: Skopeo;
  let host: string;
  let image: TestImageLayout;
  let adminCreds: string;
  let publicKey: KeyObject;
  let signatureDigest: string;
  let sbomDigest: string;
  const repository = 'signed/app';
  const artifacts = '/projects/signed/repositories/app/artifacts';

  const basic = () => `Basic ${Buffer.from(adminCreds).toString('base64')}`;

  async function api<T = unknown>(
    method: string,
    path: string,
  ): Promise<{ status: number; headers: Headers; body: T }> {
    const response = await fetch(`${core.url}/api/v2.0${path}`, { method, headers: { authorization: basic() } });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** /v2 with a token for the repository, as a client library gets one from the token service. */
  async function registry(
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: Buffer } = {},
  ) {
    const query = new URLSearchParams({ service: 'harbor-registry', scope: `repository:${repository}:pull,push` });
    const token = await fetch(`${core.url}/service/token?${query.toString()}`, { headers: { authorization: basic() } });
    expect(token.status).toBe(200);
    const { token: bearer } = (await token.json()) as { token: string };
    const url = path.startsWith('http') ? path : `${core.url}${path}`;
    const response = await fetch(url, {
      method,
      headers: { ...init.headers, authorization: `Bearer ${bearer}` },
      body: init.body,
    });
    return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
  }

  /** An oras-style monolithic blob upload. */
  async function pushBlob(data: Buffer): Promise<string> {
    const digest = sha256(data);
    const started = await registry('POST', `/v2/${repository}/blobs/uploads/`);
    expect(started.status).toBe(202);
    const location = new URL(started.headers.get('location')!, core.url);
    location.searchParams.set('digest', digest);
    const finished = await registry('PUT', location.toString(), {
      headers: { 'content-type': 'application/octet-stream' },
      body: data,
    });
    expect(finished.status).toBe(201);
    return digest;
  }

  /** Writes a manifest and its blobs as skopeo's `dir:` transport lays them out. */
  async function dirLayout(name: string, manifest: Buffer, blobs: Buffer[]): Promise<string> {
    const dir = join(workDir, name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'version'), 'Directory Transport Version: 1.1\n');
    await writeFile(join(dir, 'manifest.json'), manifest);
    for (const blob of blobs) await writeFile(join(dir, sha256(blob).slice('sha256:'.length)), blob);
    return dir;
  }

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'wharf-e2e-accessories-'));
    database = await createTestDatabase('wharf_e2e_accessories');
    core = await startWharfCore({ database, dataDir: join(workDir, 'data') });
    host = core.host;
    adminCreds = `${core.admin.username}:${core.admin.password}`;
    skopeo = await Skopeo.create(await mkdtemp(join(workDir, 'skopeo-')));
    image = await buildImageLayout(join(workDir, 'app'), { seed: 'e2e-accessories', layerSizes: [4096], ref: '1.0' });
    const created = await fetch(`${core.url}/api/v2.0/projects`, {
      method: 'POST',
      headers: { authorization: basic(), 'content-type': 'application/json' },
      body: JSON.stringify({ project_name: 'signed', metadata: { public: 'false' } }),
    });
    expect(created.status).toBe(201);
  });

  afterAll(async () => {
    await Promise.allSettled([core?.stop()]);
    await Promise.allSettled([database?.drop(), rm(workDir, { recursive: true, force: true })]);
  });

  it("pushes an image, then its cosign signature under cosign's tag, with skopeo", async () => {
    await skopeo.copy(`oci:${image.path}:1.0`, `docker://${host}/${repository}:1.0`, [
      '--preserve-digests',
      '--dest-creds',
      adminCreds,
    ]);
    const subject = image.manifest.digest;

    // What `cosign sign --key` pushes: the simple-signing payload as the only layer, its ECDSA P-256 signature in the
    // layer's annotation, an image config naming the payload's diff id.
    const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    publicKey = keys.publicKey;
    const payload = Buffer.from(
      JSON.stringify({
        critical: {
          identity: { 'docker-reference': `${host}/${repository}` },
          image: { 'docker-manifest-digest': subject },
          type: 'cosign container image signature',
        },
        optional: null,
      }),
    );
    const signature = sign('sha256', payload, keys.privateKey).toString('base64');
    const config = Buffer.from(
      JSON.stringify({
        architecture: '',
        created: '0001-01-01T00:00:00Z',
        history: [{ created: '0001-01-01T00:00:00Z' }],
        os: '',
        rootfs: { type: 'layers', diff_ids: [sha256(payload)] },
        config: {},
      }),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: sha256(config) },
        layers: [
          {
            mediaType: SIMPLE_SIGNING,
            size: payload.length,
            digest: sha256(payload),
            annotations: { 'dev.cosignproject.cosign/signature': signature },
          },
        ],
      }),
    );
    signatureDigest = sha256(manifest);
    const dir = await dirLayout('signature', manifest, [config, payload]);
    const tag = `${subject.replace(':', '-')}.sig`;
    await skopeo.copy(`dir:${dir}`, `docker://${host}/${repository}:${tag}`, [
      '--preserve-digests',
      '--dest-creds',
      adminCreds,
    ]);

    // cosign verify's view: the signature found by its tag, the payload naming the image, the signature valid.
    const served = Buffer.from(
      await skopeo.run([
        'inspect',
        '--raw',
        '--tls-verify=false',
        '--creds',
        adminCreds,
        `docker://${host}/${repository}:${tag}`,
      ]),
    );
    expect(sha256(served)).toBe(signatureDigest);
    const layer = (
      JSON.parse(served.toString()) as { layers: { digest: string; annotations: Record<string, string> }[] }
    ).layers[0];
    const blob = await registry('GET', `/v2/${repository}/blobs/${layer.digest}`);
    expect(blob.status).toBe(200);
    const signed = JSON.parse(blob.body.toString()) as { critical: { image: { 'docker-manifest-digest': string } } };
    expect(signed.critical.image['docker-manifest-digest']).toBe(subject);
    const signatureBytes = Buffer.from(layer.annotations['dev.cosignproject.cosign/signature'], 'base64');
    expect(verify('sha256', blob.body, publicKey, signatureBytes)).toBe(true);
  });

  it('pushes an SBOM that names the image as its subject, as oras does', async () => {
    const empty = Buffer.from('{}');
    const sbom = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'app', packages: [] }));
    await pushBlob(empty);
    await pushBlob(sbom);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: HARBOR_SBOM,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', size: 2, digest: sha256(empty) },
        layers: [{ mediaType: 'application/spdx+json', size: sbom.length, digest: sha256(sbom) }],
        subject: { mediaType: OCI_MANIFEST, size: image.manifest.size, digest: image.manifest.digest },
      }),
    );
    sbomDigest = sha256(manifest);
    const put = await registry('PUT', `/v2/${repository}/manifests/${sbomDigest}`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: manifest,
    });
    expect(put.status).toBe(201);
    expect(put.headers.get('oci-subject')).toBe(image.manifest.digest);
    const referrers = await registry('GET', `/v2/${repository}/referrers/${image.manifest.digest}`);
    const index = JSON.parse(referrers.body.toString()) as { manifests: { digest: string; artifactType: string }[] };
    expect(index.manifests).toEqual([expect.objectContaining({ digest: sbomDigest, artifactType: HARBOR_SBOM })]);
  });

  it('lists one artifact with its signature and SBOM as accessories', async () => {
    const listed = await api<Artifact[]>('GET', `${artifacts}?with_accessory=true`);
    expect(listed.status).toBe(200);
    expect(listed.headers.get('x-total-count')).toBe('1');
    expect(listed.body.map((a) => a.digest)).toEqual([image.manifest.digest]);
    expect(listed.body[0].accessories?.map((a) => [a.digest, a.type, a.subject_artifact_digest])).toEqual([
      [signatureDigest, 'signature.cosign', image.manifest.digest],
      [sbomDigest, 'sbom.harbor', image.manifest.digest],
    ]);
    const accessories = await api<Accessory[]>('GET', `${artifacts}/1.0/accessories`);
    expect(accessories.headers.get('x-total-count')).toBe('2');
    const signatures = await api<Accessory[]>(
      'GET',
      `${artifacts}/1.0/accessories?q=${encodeURIComponent('type=signature.cosign')}`,
    );
    expect(signatures.body.map((a) => a.digest)).toEqual([signatureDigest]);
    const repositoryInfo = await api<{ artifact_count: number }>('GET', '/projects/signed/repositories/app');
    expect(repositoryInfo.body.artifact_count).toBe(1);
  });

  it('deletes the image with its accessories: nothing is left to pull or refer to it', async () => {
    const deleted = await api('DELETE', `${artifacts}/1.0`);
    expect(deleted.status).toBe(200);
    for (const digest of [image.manifest.digest, signatureDigest, sbomDigest]) {
      expect((await api(`GET`, `${artifacts}/${digest}`)).status).toBe(404);
      expect((await registry('HEAD', `/v2/${repository}/manifests/${digest}`)).status).toBe(404);
    }
    const referrers = await registry('GET', `/v2/${repository}/referrers/${image.manifest.digest}`);
    expect(referrers.status).toBe(200);
    expect((JSON.parse(referrers.body.toString()) as { manifests: unknown[] }).manifests).toEqual([]);
    const tags = JSON.parse(
      await skopeo.run(['list-tags', '--tls-verify=false', '--creds', adminCreds, `docker://${host}/${repository}`]),
    ) as {
      Tags: string[];
    };
    expect(tags.Tags).toEqual([]);
    expect((await api<Artifact[]>('GET', artifacts)).body).toEqual([]);
  });
});
