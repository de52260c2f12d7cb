import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  OCI_INDEX_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  buildArtifactLayout,
  readLayoutBlob,
  type ArtifactLayout,
} from '@wharf/testkit';
import { RegistryHttp, sha256 } from './support/http.js';
import { onlyOnWharf, startTestRegistry, type TestRegistry } from './support/target.js';

jest.setTimeout(120_000);

interface IndexJson {
  mediaType: string;
  manifests: { mediaType: string; digest: string; size: number; artifactType?: string }[];
}

describe('artifacts with a subject', () => {
  let env: TestRegistry;
  let http: RegistryHttp;
  let built: ArtifactLayout;
  const repository = 'library/signed';

  beforeAll(async () => {
    env = await startTestRegistry('referrers');
    http = new RegistryHttp(env.registry.url);
    built = await buildArtifactLayout(await env.tempDir('artifact'), {
      seed: 'e2e-referrers',
      layerSizes: [4096],
      artifactType: 'application/vnd.wharf.e2e.signature+json',
    });
    for (const digest of [...built.image.blobDigests, ...built.artifact.blobDigests]) {
      await http.pushBlob(repository, await readLayoutBlob(built.path, digest));
    }
    const imageManifest = await readLayoutBlob(built.path, built.image.manifest.digest);
    const pushed = await http.putManifest(repository, 'v1', imageManifest, OCI_MANIFEST_MEDIA_TYPE);
    expect(pushed.status).toBe(201);
  });

  afterAll(async () => {
    await env?.close();
  });

  it('stores an artifact manifest that points at an image and serves it by digest', async () => {
    const body = await readLayoutBlob(built.path, built.artifact.manifest.digest);
    const put = await http.putManifest(repository, built.artifact.manifest.digest, body, OCI_MANIFEST_MEDIA_TYPE);
    expect(put.status).toBe(201);
    expect(put.headers.get('docker-content-digest')).toBe(built.artifact.manifest.digest);
    if (env.target === 'wharf') {
      // A registry that understands `subject` says so, so clients skip the tag-schema fallback.
      expect(put.headers.get('oci-subject')).toBe(built.image.manifest.digest);
    }

    const fetched = await http.getManifest(repository, built.artifact.manifest.digest);
    expect(fetched.status).toBe(200);
    expect(sha256(fetched.body)).toBe(built.artifact.manifest.digest);
    expect(JSON.parse(fetched.body.toString())).toMatchObject({
      artifactType: built.artifact.artifactType,
      subject: { digest: built.image.manifest.digest },
    });
  });

  onlyOnWharf('lists the artifact among the referrers of its subject, with its artifactType', async () => {
    const response = await http.request('GET', `/v2/${repository}/referrers/${built.image.manifest.digest}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(OCI_INDEX_MEDIA_TYPE);
    const index = JSON.parse(response.body.toString()) as IndexJson;
    expect(index.mediaType).toBe(OCI_INDEX_MEDIA_TYPE);
    expect(index.manifests).toEqual([
      expect.objectContaining({
        mediaType: OCI_MANIFEST_MEDIA_TYPE,
        digest: built.artifact.manifest.digest,
        size: built.artifact.manifest.size,
        artifactType: built.artifact.artifactType,
      }),
    ]);
  });

  onlyOnWharf('filters referrers by artifactType and says that it did', async () => {
    const subject = built.image.manifest.digest;
    const matching = await http.request(
      'GET',
      `/v2/${repository}/referrers/${subject}?artifactType=${encodeURIComponent(built.artifact.artifactType)}`,
    );
    expect(matching.status).toBe(200);
    expect(matching.headers.get('oci-filters-applied')).toBe('artifactType');
    expect((JSON.parse(matching.body.toString()) as IndexJson).manifests.map((m) => m.digest)).toEqual([
      built.artifact.manifest.digest,
    ]);

    const other = await http.request(
      'GET',
      `/v2/${repository}/referrers/${subject}?artifactType=${encodeURIComponent('application/vnd.example.other')}`,
    );
    expect(other.status).toBe(200);
    expect((JSON.parse(other.body.toString()) as IndexJson).manifests).toEqual([]);
  });

  onlyOnWharf('answers an empty index for a digest nothing refers to', async () => {
    const response = await http.request('GET', `/v2/${repository}/referrers/${built.artifact.manifest.digest}`);
    expect(response.status).toBe(200);
    expect((JSON.parse(response.body.toString()) as IndexJson).manifests).toEqual([]);
  });
});
