import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AccessoryType,
  COSIGN_SIGNATURE_ANNOTATION,
  COSIGN_SIGNATURE_ARTIFACT_TYPE,
  COSIGN_SIMPLESIGNING_MEDIA_TYPE,
  HARBOR_SBOM_ARTIFACT_TYPE,
  MediaType,
  NOTATION_SIGNATURE_ARTIFACT_TYPE,
  NYDUS_BOOTSTRAP_ANNOTATION,
  SIGSTORE_BUNDLE_ARTIFACT_TYPE,
} from '@wharf/oci';
import { startTestRegistry, type TestRegistry } from './testing/test-registry.js';
import { RegistryWriter } from './writer.js';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
/** cosign's tag for an accessory of `digest`. */
const cosignTag = (digest: string, suffix = 'sig') => `${digest.replace(':', '-')}.${suffix}`;

interface Layer {
  mediaType: string;
  content: Buffer;
  annotations?: Record<string, string>;
}

/** Accessories as pushes over /v2 record them: by subject field and by cosign's tag convention. */
describe('registry accessories over HTTP', () => {
  let reg: TestRegistry;
  let writer: RegistryWriter;
  const url = (path: string) => `${reg.url}${path}`;

  async function pushBlob(name: string, data: Buffer): Promise<void> {
    const res = await fetch(url(`/v2/${name}/blobs/uploads/?digest=${sha(data)}`), { method: 'POST', body: data });
    expect(res.status).toBe(201);
  }

  /** Pushes a manifest with its config and layers under `reference` (a tag, or its digest when absent). */
  async function push(
    name: string,
    options: {
      reference?: string;
      artifactType?: string;
      configMediaType?: string;
      layers?: Layer[];
      subject?: string;
      /** The config's seed; a random one when absent. */
      seed?: string;
    } = {},
  ): Promise<string> {
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', seed: options.seed ?? randomBytes(8).toString('hex') }),
    );
    const layers = options.layers ?? [{ mediaType: MediaType.OciLayerTarGzip, content: randomBytes(100) }];
    await pushBlob(name, config);
    for (const layer of layers) await pushBlob(name, layer.content);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        ...(options.artifactType ? { artifactType: options.artifactType } : {}),
        config: { mediaType: options.configMediaType ?? MediaType.OciConfig, digest: sha(config), size: config.length },
        layers: layers.map((l) => ({
          mediaType: l.mediaType,
          digest: sha(l.content),
          size: l.content.length,
          ...(l.annotations ? { annotations: l.annotations } : {}),
        })),
        ...(options.subject
          ? { subject: { mediaType: MediaType.OciManifest, digest: options.subject, size: 10 } }
          : {}),
      }),
    );
    const res = await fetch(url(`/v2/${name}/manifests/${options.reference ?? sha(manifest)}`), {
      method: 'PUT',
      body: manifest,
      headers: { 'content-type': MediaType.OciManifest },
    });
    expect(res.status).toBe(201);
    return sha(manifest);
  }

  /** A signature as `cosign sign` (without OCI 1.1 mode) pushes it: a simple-signing layer with its signature. */
  function simpleSigning(subject: string): Layer {
    const payload = Buffer.from(
      JSON.stringify({
        critical: { identity: { 'docker-reference': 'example' }, image: { 'docker-manifest-digest': subject } },
        optional: null,
      }),
    );
    return {
      mediaType: COSIGN_SIMPLESIGNING_MEDIA_TYPE,
      content: payload,
      annotations: { [COSIGN_SIGNATURE_ANNOTATION]: randomBytes(64).toString('base64') },
    };
  }

  async function accessories(name: string): Promise<Record<string, { subject: string | null; type: string | null }>> {
    const rows = await reg.dataSource.query<
      { digest: string; accessory_subject: string | null; accessory_type: string | null }[]
    >(
      `SELECT m.digest, m.accessory_subject, m.accessory_type FROM registry_manifest m
         JOIN registry_repository r ON r.id = m.repository_id WHERE r.name = $1`,
      [name],
    );
    return Object.fromEntries(rows.map((r) => [r.digest, { subject: r.accessory_subject, type: r.accessory_type }]));
  }

  async function manifests(name: string): Promise<string[]> {
    return Object.keys(await accessories(name)).sort();
  }

  async function referrers(name: string, digest: string): Promise<string[]> {
    const res = await fetch(url(`/v2/${name}/referrers/${digest}`));
    expect(res.status).toBe(200);
    return ((await res.json()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest).sort();
  }

  beforeAll(async () => {
    reg = await startTestRegistry();
    writer = new RegistryWriter(reg.repository);
  });
  afterAll(async () => {
    await reg?.close();
  });

  it('classifies a manifest with a subject by its artifact type or config media type, as Harbor does', async () => {
    const name = 'kinds/app';
    const subject = await push(name, { reference: 'v1' });
    const empty = { configMediaType: MediaType.OciEmpty, subject };
    const cosign = await push(name, { ...empty, artifactType: COSIGN_SIGNATURE_ARTIFACT_TYPE });
    const cosignConfig = await push(name, { configMediaType: COSIGN_SIGNATURE_ARTIFACT_TYPE, subject });
    const bundle = await push(name, { ...empty, artifactType: SIGSTORE_BUNDLE_ARTIFACT_TYPE });
    const notation = await push(name, { ...empty, artifactType: NOTATION_SIGNATURE_ARTIFACT_TYPE });
    const sbom = await push(name, { ...empty, artifactType: HARBOR_SBOM_ARTIFACT_TYPE });
    const nydus = await push(name, {
      subject,
      layers: [
        { mediaType: MediaType.OciLayerTarGzip, content: randomBytes(50) },
        {
          mediaType: MediaType.OciLayerTarGzip,
          content: randomBytes(50),
          annotations: { [NYDUS_BOOTSTRAP_ANNOTATION]: 'true' },
        },
      ],
    });
    const generic = await push(name, { ...empty, artifactType: 'application/spdx+json' });

    const found = await accessories(name);
    expect(found[subject]).toEqual({ subject: null, type: null });
    const types = (digests: string[]) => digests.map((d) => found[d]);
    expect(types([cosign, cosignConfig, bundle, notation, sbom, nydus, generic])).toEqual(
      [
        AccessoryType.CosignSignature,
        AccessoryType.CosignSignature,
        AccessoryType.CosignSignature,
        AccessoryType.NotationSignature,
        AccessoryType.HarborSbom,
        AccessoryType.NydusAccelerator,
        AccessoryType.Subject,
      ].map((type) => ({ subject, type })),
    );
    expect(await referrers(name, subject)).toHaveLength(7);
  });

  it("attaches manifests by cosign's tag convention, which the referrers API leaves out", async () => {
    const name = 'conv/app';
    const subject = await push(name, { reference: 'v1' });
    const signature = await push(name, { reference: cosignTag(subject), layers: [simpleSigning(subject)] });
    const attestation = await push(name, {
      reference: cosignTag(subject, 'att'),
      layers: [{ mediaType: 'application/vnd.dsse.envelope.v1+json', content: randomBytes(40) }],
    });
    // A .sig tag on something that holds no simple-signing layer attaches nothing, as in Harbor.
    const notSigned = await push(name, { reference: cosignTag(sha('other'), 'sig') });
    // A tag that does not follow the convention attaches nothing either.
    const lookalike = await push(name, { reference: `${cosignTag(subject)}.old`, layers: [simpleSigning(subject)] });

    const found = await accessories(name);
    expect(found[signature]).toEqual({ subject, type: AccessoryType.CosignSignature });
    expect(found[attestation]).toEqual({ subject, type: AccessoryType.Subject });
    expect(found[notSigned]).toEqual({ subject: null, type: null });
    expect(found[lookalike]).toEqual({ subject: null, type: null });
    expect(await referrers(name, subject)).toEqual([]);

    // Signing again moves the tag to a new signature; the first stays an accessory, as in Harbor.
    const second = await push(name, { reference: cosignTag(subject), layers: [simpleSigning(subject)] });
    expect((await accessories(name))[second]).toEqual({ subject, type: AccessoryType.CosignSignature });
    expect((await accessories(name))[signature]).toEqual({ subject, type: AccessoryType.CosignSignature });
  });

  it('attaches a stored manifest given a convention tag later, by push or by the writer', async () => {
    const name = 'later/app';
    const subject = await push(name, { reference: 'v1' });
    const layers = [simpleSigning(subject)];
    const byDigest = await push(name, { layers, seed: 'same' });
    expect((await accessories(name))[byDigest]).toEqual({ subject: null, type: null });
    // The same manifest pushed again under the convention tag.
    expect(await push(name, { reference: cosignTag(subject), layers, seed: 'same' })).toBe(byDigest);
    expect((await accessories(name))[byDigest]).toEqual({ subject, type: AccessoryType.CosignSignature });

    const other = await push(name, { reference: 'v2' });
    const untagged = await push(name, { layers: [simpleSigning(other)] });
    expect(await writer.createTag(name, cosignTag(other), untagged)).toBe('created');
    expect((await accessories(name))[untagged]).toEqual({ subject: other, type: AccessoryType.CosignSignature });
    // An accessory stays the accessory of its first subject.
    expect(await writer.createTag(name, cosignTag(subject, 'sbom'), untagged)).toBe('created');
    expect((await accessories(name))[untagged]).toEqual({ subject: other, type: AccessoryType.CosignSignature });
  });

  it('finds a signature pushed before its subject once the subject arrives, and deletes it with the subject', async () => {
    const name = 'early/app';
    const config = Buffer.from(JSON.stringify({ architecture: 'arm64', os: 'linux', seed: 'early' }));
    const layer = randomBytes(100);
    const subjectManifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: sha(config), size: config.length },
        layers: [{ mediaType: MediaType.OciLayerTarGzip, digest: sha(layer), size: layer.length }],
      }),
    );
    const subject = sha(subjectManifest);
    const signature = await push(name, { reference: cosignTag(subject), layers: [simpleSigning(subject)] });
    expect((await accessories(name))[signature]).toEqual({ subject, type: AccessoryType.CosignSignature });

    await pushBlob(name, config);
    await pushBlob(name, layer);
    const res = await fetch(url(`/v2/${name}/manifests/v1`), {
      method: 'PUT',
      body: subjectManifest,
      headers: { 'content-type': MediaType.OciManifest },
    });
    expect(res.status).toBe(201);
    // An SBOM of the subject, and a signature of that SBOM by the tag convention: accessories of accessories.
    const sbom = await push(name, {
      configMediaType: MediaType.OciEmpty,
      artifactType: HARBOR_SBOM_ARTIFACT_TYPE,
      subject,
    });
    const sbomSignature = await push(name, { reference: cosignTag(sbom), layers: [simpleSigning(sbom)] });
    const unrelated = await push(name, { reference: 'v2' });
    expect((await accessories(name))[sbomSignature]).toEqual({ subject: sbom, type: AccessoryType.CosignSignature });

    expect(await writer.deleteArtifact(name, subject)).toEqual({ deleted: true });
    expect(await manifests(name)).toEqual([unrelated]);
    expect(await referrers(name, subject)).toEqual([]);
    const tags = (await reg.repository.listTags(name, 10))!;
    expect(JSON.parse(tags.tagsJson)).toEqual(['v2']);
  });

  it('deletes the accessories of a manifest deleted over /v2, and theirs, and nothing else', async () => {
    const name = 'v2del/app';
    const subject = await push(name, { reference: 'v1' });
    const signature = await push(name, { reference: cosignTag(subject), layers: [simpleSigning(subject)] });
    const notation = await push(name, {
      configMediaType: MediaType.OciEmpty,
      artifactType: NOTATION_SIGNATURE_ARTIFACT_TYPE,
      subject,
    });
    const sbom = await push(name, {
      configMediaType: MediaType.OciEmpty,
      artifactType: HARBOR_SBOM_ARTIFACT_TYPE,
      subject,
    });
    const sbomSignature = await push(name, { reference: cosignTag(sbom), layers: [simpleSigning(sbom)] });
    const other = await push(name, { reference: 'v2' });
    const otherSignature = await push(name, { reference: cosignTag(other), layers: [simpleSigning(other)] });
    expect(await manifests(name)).toHaveLength(7);

    const res = await fetch(url(`/v2/${name}/manifests/${subject}`), { method: 'DELETE' });
    expect(res.status).toBe(202);
    expect(await manifests(name)).toEqual([other, otherSignature].sort());
    for (const gone of [subject, signature, notation, sbom, sbomSignature]) {
      expect((await fetch(url(`/v2/${name}/manifests/${gone}`), { method: 'HEAD' })).status).toBe(404);
    }
    const tags = (await reg.repository.listTags(name, 10))!;
    expect(JSON.parse(tags.tagsJson)).toEqual([cosignTag(other), 'v2']);

    // Deleting a signature on its own leaves its subject.
    const again = await fetch(url(`/v2/${name}/manifests/${otherSignature}`), { method: 'DELETE' });
    expect(again.status).toBe(202);
    expect(await manifests(name)).toEqual([other]);
  });

  it('copies the accessories found by tag with their convention tags', async () => {
    const from = 'copysrc/app';
    const subject = await push(from, { reference: 'v1' });
    const signature = await push(from, { reference: cosignTag(subject), layers: [simpleSigning(subject)] });
    const sbom = await push(from, {
      configMediaType: MediaType.OciEmpty,
      artifactType: HARBOR_SBOM_ARTIFACT_TYPE,
      subject,
    });

    expect(await writer.copyArtifact({ repository: from, digest: subject }, 'copydst/app')).toEqual({
      digest: subject,
      tags: ['v1'],
    });
    const copied = await accessories('copydst/app');
    expect(copied).toEqual({
      [subject]: { subject: null, type: null },
      [signature]: { subject, type: AccessoryType.CosignSignature },
      [sbom]: { subject, type: AccessoryType.HarborSbom },
    });
    const tags = (await reg.repository.listTags('copydst/app', 10))!;
    expect(JSON.parse(tags.tagsJson)).toEqual([cosignTag(subject), 'v1']);
    const pulled = await fetch(url(`/v2/copydst/app/manifests/${cosignTag(subject)}`));
    expect(pulled.headers.get('docker-content-digest')).toBe(signature);
  });
});
