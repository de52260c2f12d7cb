import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { type KeyObject, generateKeyPairSync, sign } from 'node:crypto';
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
import { ContainerTool, Skopeo } from './support/clients.js';
import { sha256 } from './support/http.js';
import { e2eTarget } from './support/target.js';

jest.setTimeout(300_000);

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';

/**
 * Content trust with real clients against `wharf start core`: a project that demands cosign signatures refuses
 * skopeo's and podman's pulls of an unsigned image with Harbor's 412 message; a signature pushed by skopeo from an
 * OCI layout under cosign's tag (a simple-signing payload signed with ECDSA P-256, as `cosign sign --key` makes it)
 * lets them pull; once the project trusts a key, a signature by another key no longer does. Core has no reference.
 */
const describeCore = e2eTarget() === 'wharf' ? describe : describe.skip;

describeCore('wharf core: content trust with skopeo and podman', () => {
  let workDir: string;
  let database: TestDatabase;
  let core: CoreProcess;
  let skopeo: Skopeo;
  let podman: ContainerTool;
  let host: string;
  let image: TestImageLayout;
  let adminCreds: string;
  const repository = 'trusted/app';

  const basic = () => `Basic ${Buffer.from(adminCreds).toString('base64')}`;

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const response = await fetch(`${core.url}/api/v2.0${path}`, {
      method,
      headers: { authorization: basic(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, text: await response.text() };
  }

  /** What `cosign sign --key` pushes for `subject`, laid out as an OCI image layout under `tag`. */
  async function cosignLayout(name: string, subject: string, key: KeyObject, tag: string): Promise<string> {
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
            annotations: { 'dev.cosignproject.cosign/signature': sign('sha256', payload, key).toString('base64') },
          },
        ],
      }),
    );
    const dir = join(workDir, name);
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    for (const blob of [config, payload, manifest]) {
      await writeFile(join(dir, 'blobs', 'sha256', sha256(blob).slice('sha256:'.length)), blob);
    }
    await writeFile(
      join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            mediaType: OCI_MANIFEST,
            digest: sha256(manifest),
            size: manifest.length,
            annotations: { 'org.opencontainers.image.ref.name': tag },
          },
        ],
      }),
    );
    return dir;
  }

  /** skopeo copies the image out of Wharf: its error, or null when it succeeded. */
  async function skopeoPull(target: string): Promise<string | null> {
    try {
      await skopeo.copy(`docker://${host}/${repository}:1.0`, `oci:${join(workDir, target)}:1.0`, [
        '--src-creds',
        adminCreds,
      ]);
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  }

  async function podmanPull(): Promise<string | null> {
    try {
      await podman.run([
        'pull',
        '--quiet',
        '--tls-verify=false',
        '--signature-policy',
        podman.policy,
        '--creds',
        adminCreds,
        `${host}/${repository}:1.0`,
      ]);
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  }

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'wharf-e2e-trust-'));
    database = await createTestDatabase('wharf_e2e_content_trust');
    core = await startWharfCore({ database, dataDir: join(workDir, 'data') });
    host = core.host;
    adminCreds = `${core.admin.username}:${core.admin.password}`;
    skopeo = await Skopeo.create(await mkdtemp(join(workDir, 'skopeo-')));
    podman = await ContainerTool.create('podman', await mkdtemp(join(workDir, 'podman-')));
    image = await buildImageLayout(join(workDir, 'app'), { seed: 'e2e-trust', layerSizes: [4096], ref: '1.0' });
    const created = await api('POST', '/projects', {
      project_name: 'trusted',
      metadata: { public: 'false', enable_content_trust_cosign: 'true' },
    });
    expect(created.status).toBe(201);
    await skopeo.copy(`oci:${image.path}:1.0`, `docker://${host}/${repository}:1.0`, [
      '--preserve-digests',
      '--dest-creds',
      adminCreds,
    ]);
  });

  afterAll(async () => {
    await Promise.allSettled([core?.stop()]);
    await Promise.allSettled([database?.drop(), rm(workDir, { recursive: true, force: true })]);
  });

  it("refuses skopeo's and podman's pulls of the unsigned image with Harbor's message", async () => {
    expect(await skopeoPull('refused')).toMatch(/The image is not signed by cosign\./);
    expect(await podmanPull()).toMatch(/The image is not signed by cosign\./);
  });

  const signer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const stranger = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

  it("lets them pull once skopeo has pushed a cosign signature under cosign's tag", async () => {
    const tag = `${image.manifest.digest.replace(':', '-')}.sig`;
    const layout = await cosignLayout('signature', image.manifest.digest, signer.privateKey, tag);
    await skopeo.copy(`oci:${layout}:${tag}`, `docker://${host}/${repository}:${tag}`, [
      '--preserve-digests',
      '--dest-creds',
      adminCreds,
    ]);
    expect(await skopeoPull('allowed')).toBeNull();
    expect(await podmanPull()).toBeNull();
  });

  it('refuses the pull again once the project trusts only another key, and allows it when it trusts the signer', async () => {
    const trusted = await api('POST', '/projects/trusted/trusted-keys', {
      type: 'cosign',
      name: 'elsewhere',
      pem: stranger.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    });
    expect(trusted.status).toBe(201);
    expect(await skopeoPull('untrusted')).toMatch(/The image is not signed by cosign\./);
    const also = await api('POST', '/projects/trusted/trusted-keys', {
      type: 'cosign',
      name: 'release',
      pem: signer.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    });
    expect(also.status).toBe(201);
    expect(await skopeoPull('trusted')).toBeNull();
  });
});
