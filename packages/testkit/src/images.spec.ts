import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  OCI_INDEX_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  OciLayoutWriter,
  buildArtifactLayout,
  buildImageLayout,
  buildMultiArchLayout,
  digestFile,
  listLayoutBlobs,
  readLayoutBlob,
  readLayoutIndex,
  seededBytes,
  sha256Digest,
} from './images.js';

interface ManifestJson {
  mediaType: string;
  artifactType?: string;
  config: { digest: string; mediaType: string };
  layers: { digest: string; size: number }[];
  subject?: { digest: string; mediaType: string; size: number };
}

describe('test image layouts', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'wharf-images-'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('gives the same digests for the same seed and different ones for another seed', async () => {
    const a = await buildImageLayout(join(root, 'a'), { seed: 'one', layerSizes: [1000, 70_000] });
    const b = await buildImageLayout(join(root, 'b'), { seed: 'one', layerSizes: [1000, 70_000] });
    const c = await buildImageLayout(join(root, 'c'), { seed: 'two', layerSizes: [1000, 70_000] });
    expect(b.manifest.digest).toBe(a.manifest.digest);
    expect(b.blobDigests).toEqual(a.blobDigests);
    expect(c.manifest.digest).not.toBe(a.manifest.digest);
    expect(c.layers[0].digest).not.toBe(a.layers[0].digest);
  });

  it('stores every blob under its own digest and lists the image in index.json', async () => {
    const image = await buildImageLayout(join(root, 'image'), { seed: 'x', layerSizes: [0, 512, 3 * 1024 * 1024 + 7] });
    const blobs = await listLayoutBlobs(image.path);
    expect([...blobs.keys()].sort()).toEqual([image.manifest.digest, ...image.blobDigests].sort());
    for (const [digest, path] of blobs) {
      expect(await digestFile(path)).toBe(digest);
    }
    const index = await readLayoutIndex(image.path);
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]).toMatchObject({
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      digest: image.manifest.digest,
      size: image.manifest.size,
      annotations: { 'org.opencontainers.image.ref.name': 'latest' },
    });
    const manifest = JSON.parse((await readLayoutBlob(image.path, image.manifest.digest)).toString()) as ManifestJson;
    expect(manifest.config.digest).toBe(image.config.digest);
    expect(manifest.layers.map((layer) => layer.digest)).toEqual(image.layers.map((layer) => layer.digest));
  });

  it('puts shared base layers below each image’s own, in one layout', async () => {
    const layout = await OciLayoutWriter.create(join(root, 'shared'));
    const base = await layout.writeLayer('shared', 4096, 'base');
    const a = await layout.addImage({ seed: 'a', layerSizes: [100], baseLayers: [base] });
    const b = await layout.addImage({ seed: 'b', layerSizes: [200, 300], baseLayers: [base] });
    expect(a.layers.map((layer) => layer.digest)).toEqual([base.digest, a.layers[1].digest]);
    expect(b.layers.map((layer) => layer.digest)).toEqual([base.digest, b.layers[1].digest, b.layers[2].digest]);
    expect(b.layers[1].digest).not.toBe(a.layers[1].digest);
    const config = JSON.parse((await readLayoutBlob(layout.path, b.config.digest)).toString()) as {
      rootfs: { diff_ids: string[] };
    };
    expect(config.rootfs.diff_ids).toEqual(b.layers.map((layer) => layer.diffId));
    const manifest = JSON.parse((await readLayoutBlob(layout.path, b.manifest.digest)).toString()) as ManifestJson;
    expect(manifest.layers.map((layer) => layer.digest)).toEqual(b.layers.map((layer) => layer.digest));
  });

  it('writes layers as gzip-compressed ustar archives whose digest is the config diff_id', async () => {
    const image = await buildImageLayout(join(root, 'tar'), { seed: 'tar', layerSizes: [1234] });
    const layer = image.layers[0];
    const tar = gunzipSync(await readFile(join(image.path, 'blobs', 'sha256', layer.digest.slice(7))));
    expect(sha256Digest(tar)).toBe(layer.diffId);
    expect(tar.length % 512).toBe(0);
    expect(tar.subarray(257, 262).toString()).toBe('ustar');
    const fileHeader = tar.subarray(512, 1024);
    expect(fileHeader.subarray(0, layer.filePath.length).toString()).toBe(layer.filePath);
    expect(parseInt(fileHeader.subarray(124, 135).toString(), 8)).toBe(1234);
    let sum = 0;
    for (const [i, byte] of fileHeader.entries()) sum += i >= 148 && i < 156 ? 32 : byte;
    expect(parseInt(fileHeader.subarray(148, 154).toString(), 8)).toBe(sum);
    expect(tar.subarray(1024, 1024 + 1234)).toEqual(seededBytes('tar/layer0', 1234));
    const config = JSON.parse((await readLayoutBlob(image.path, image.config.digest)).toString()) as {
      rootfs: { diff_ids: string[] };
    };
    expect(config.rootfs.diff_ids).toEqual([layer.diffId]);
  });

  it('builds a multi-arch index over one image per platform', async () => {
    const multi = await buildMultiArchLayout(join(root, 'multi'), { seed: 'm', layerSizes: [100], ref: '1.0' });
    expect(multi.images.map((image) => image.platform.architecture)).toEqual(['amd64', 'arm64']);
    const index = JSON.parse((await readLayoutBlob(multi.path, multi.index.digest)).toString()) as {
      mediaType: string;
      manifests: { digest: string; platform: { architecture: string } }[];
    };
    expect(index.mediaType).toBe(OCI_INDEX_MEDIA_TYPE);
    expect(index.manifests.map((m) => m.digest)).toEqual(multi.images.map((image) => image.manifest.digest));
    expect(new Set(multi.images.map((image) => image.layers[0].digest)).size).toBe(2);
    expect((await readLayoutIndex(multi.path)).manifests[0]).toMatchObject({
      mediaType: OCI_INDEX_MEDIA_TYPE,
      digest: multi.index.digest,
    });
  });

  it('builds an artifact whose subject is the image manifest', async () => {
    const built = await buildArtifactLayout(join(root, 'artifact'), { seed: 'a', layerSizes: [10] });
    const manifest = JSON.parse(
      (await readLayoutBlob(built.path, built.artifact.manifest.digest)).toString(),
    ) as ManifestJson;
    expect(manifest.artifactType).toBe(built.artifact.artifactType);
    expect(manifest.subject).toEqual({
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      digest: built.image.manifest.digest,
      size: built.image.manifest.size,
    });
    expect(manifest.config).toMatchObject({
      mediaType: 'application/vnd.oci.empty.v1+json',
      digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
    });
  });

  it('rejects invalid sizes and seeds', async () => {
    await expect(buildImageLayout(join(root, 'bad1'), { seed: 's', layerSizes: [-1] })).rejects.toThrow(/layer size/);
    await expect(buildImageLayout(join(root, 'bad2'), { seed: 's', layerSizes: [1.5] })).rejects.toThrow(/layer size/);
    await expect(buildImageLayout(join(root, 'bad3'), { seed: '', layerSizes: [1] })).rejects.toThrow(/seed/);
  });
});
