import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ManifestReference, type RegistryRepository } from '@wharf/db';
import { MediaType, OciError, OciErrorCode, accessoryOf, parseManifest } from '@wharf/oci';
import { startTestRegistry, type TestRegistry } from './testing/test-registry.js';
import { type RegistryPolicy, type TagChangeContext } from './types.js';
import { RegistryWriter } from './writer.js';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The writer with the registry's own repository, at the medium level: real PostgreSQL, no HTTP. */
describe('registry writer', () => {
  let reg: TestRegistry;
  let repository: RegistryRepository;
  /** Tags the policy refuses to move or delete, as `repository:tag`. */
  const refused = new Set<string>();
  const asked: TagChangeContext[] = [];
  const policy: RegistryPolicy = {
    name: 'refuse',
    beforeTagChange: (context) => {
      asked.push(context);
      if (!refused.has(`${context.repository}:${context.tag}`)) return Promise.resolve();
      return Promise.reject(new OciError(OciErrorCode.DENIED, `${context.tag} is kept`, undefined, 412));
    },
  };
  let writer: RegistryWriter;

  /** Stores an image (a config and a layer, linked) and answers its digest. */
  async function image(name: string, options: { tag?: string; subject?: string } = {}): Promise<string> {
    const blobs = [randomBytes(16), randomBytes(32)];
    for (const blob of blobs) await repository.linkBlob(name, sha(blob), blob.length);
    const payload = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: sha(blobs[0]), size: blobs[0].length },
        layers: [{ mediaType: MediaType.OciLayerTarGzip, digest: sha(blobs[1]), size: blobs[1].length }],
        ...(options.subject ? { subject: { mediaType: MediaType.OciManifest, digest: options.subject, size: 1 } } : {}),
      }),
    );
    const references: ManifestReference[] = [
      { kind: 'config', digest: sha(blobs[0]), mediaType: MediaType.OciConfig, size: blobs[0].length },
      { kind: 'layer', digest: sha(blobs[1]), mediaType: MediaType.OciLayerTarGzip, size: blobs[1].length },
    ];
    await repository.putManifest({
      repository: name,
      digest: sha(payload),
      mediaType: MediaType.OciManifest,
      payload,
      subjectDigest: options.subject,
      // As the engine classifies a push.
      accessory: accessoryOf(parseManifest(payload, MediaType.OciManifest), sha(payload), options.tag),
      references,
      tag: options.tag,
    });
    return sha(payload);
  }

  async function index(name: string, children: string[], tag?: string): Promise<string> {
    const payload = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: children.map((digest) => ({ mediaType: MediaType.OciManifest, digest, size: 1 })),
      }),
    );
    await repository.putManifest({
      repository: name,
      digest: sha(payload),
      mediaType: MediaType.OciIndex,
      payload,
      references: children.map((digest) => ({ kind: 'manifest', digest, mediaType: MediaType.OciManifest, size: 1 })),
      tag,
    });
    return sha(payload);
  }

  async function manifests(name: string): Promise<string[]> {
    const rows = await reg.dataSource.query<{ digest: string }[]>(
      `SELECT m.digest FROM registry_manifest m JOIN registry_repository r ON r.id = m.repository_id
        WHERE r.name = $1 ORDER BY m.digest`,
      [name],
    );
    return rows.map((r) => r.digest);
  }

  async function tags(name: string): Promise<string[]> {
    const page = await repository.listTags(name, 100);
    return page ? (JSON.parse(page.tagsJson) as string[]) : [];
  }

  beforeAll(async () => {
    reg = await startTestRegistry();
    repository = reg.repository;
    writer = new RegistryWriter(repository, [policy]);
  });
  afterAll(async () => {
    await reg?.close();
  });

  it('deletes an artifact deeply: accessories, and the index children nothing else holds', async () => {
    const kept = await image('deep/app', { tag: 'kept' });
    const loose = await image('deep/app');
    const shared = await image('deep/app');
    const root = await index('deep/app', [kept, loose, shared], 'v1');
    const other = await index('deep/app', [shared]);
    const signature = await image('deep/app', { subject: root, tag: 'sig' });
    const countersign = await image('deep/app', { subject: signature });

    expect(await writer.deleteArtifact('deep/app', shared)).toEqual({
      deleted: false,
      reason: 'referenced',
      parent: expect.any(String),
    });
    expect(await writer.deleteArtifact('deep/app', root, { actor: 'ann' })).toEqual({ deleted: true });
    expect(await manifests('deep/app')).toEqual([kept, other, shared].sort());
    expect(await tags('deep/app')).toEqual(['kept']);
    expect(asked.map((c) => [c.tag, c.change])).toEqual([
      ['v1', 'delete'],
      ['sig', 'delete'],
    ]);
    const events = await reg.dataSource.query<{ digest: string }[]>(
      `SELECT payload->>'digest' AS digest FROM event_outbox
        WHERE type = 'DELETE_ARTIFACT' AND payload->>'repository' = 'deep/app' AND payload->>'actor' = 'ann'`,
    );
    expect(events.map((e) => e.digest).sort()).toEqual([root, loose, signature, countersign].sort());
    expect(await writer.deleteArtifact('deep/app', root)).toEqual({ deleted: false, reason: 'not-found' });
  });

  it('deletes nothing when the policy refuses a tag anywhere in what an artifact takes with it', async () => {
    const root = await image('refuse/app', { tag: 'v1' });
    const signature = await image('refuse/app', { subject: root, tag: 'sig' });
    refused.add('refuse/app:sig');
    await expect(writer.deleteArtifact('refuse/app', root)).rejects.toMatchObject({
      status: 412,
      message: 'sig is kept',
    });
    expect(await manifests('refuse/app')).toEqual([root, signature].sort());
    expect(await tags('refuse/app')).toEqual(['sig', 'v1']);
    await expect(writer.deleteRepository('refuse/app')).rejects.toBeInstanceOf(OciError);
    expect(await manifests('refuse/app')).toHaveLength(2);
    refused.delete('refuse/app:sig');
    expect(await writer.deleteRepository('refuse/app')).toBe(true);
    expect(await manifests('refuse/app')).toEqual([]);
  });

  it('copies an index with its children, accessories and tags, linking the blobs', async () => {
    const children = [await image('src/app'), await image('src/app')];
    const root = await index('src/app', children, 'v1');
    await repository.createTag('src/app', 'stable', root);
    const signature = await image('src/app', { subject: root });

    expect(await writer.copyArtifact({ repository: 'src/app', digest: root }, 'dst/app', { actor: 'cy' })).toEqual({
      digest: root,
      tags: ['stable', 'v1'],
    });
    expect(await manifests('dst/app')).toEqual([root, signature, ...children].sort());
    expect(await tags('dst/app')).toEqual(['stable', 'v1']);
    const source = await repository.lockManifest('src/app', children[0], reg.dataSource.manager);
    for (const reference of source!.references) {
      expect(await repository.blobInRepository('dst/app', reference.digest)).not.toBeNull();
    }
    const pushes = await reg.dataSource.query<{ digest: string; tag: string | null }[]>(
      `SELECT payload->>'digest' AS digest, payload->>'tag' AS tag FROM event_outbox
        WHERE type = 'PUSH_ARTIFACT' AND payload->>'repository' = 'dst/app' AND payload->>'actor' = 'cy'`,
    );
    // One push event per manifest new to the target, and one per tag of the root, as pushes by tag would make.
    expect(pushes).toHaveLength(5);
    expect(pushes.filter((p) => p.digest === root).map((p) => p.tag)).toEqual(['stable', 'v1']);
    expect(await writer.copyArtifact({ repository: 'src/app', digest: sha('none') }, 'dst/app')).toBeNull();
  });

  it('copies nothing when the policy refuses moving one of the tags in the target', async () => {
    const before = await image('held/app', { tag: 'b' });
    const root = await image('src/two', { tag: 'a' });
    await repository.createTag('src/two', 'b', root);
    refused.add('held/app:b');
    await expect(writer.copyArtifact({ repository: 'src/two', digest: root }, 'held/app')).rejects.toMatchObject({
      status: 412,
    });
    expect(await manifests('held/app')).toEqual([before]);
    expect(await tags('held/app')).toEqual(['b']);
    refused.delete('held/app:b');
  });

  it("commits with the caller's transaction when given one", async () => {
    const digest = await image('tx/app', { tag: 'v1' });
    await reg.dataSource
      .transaction(async (manager) => {
        expect(await writer.deleteTag('tx/app', 'v1', { manager })).toBe(true);
        expect(await writer.createTag('tx/app', 'v2', digest, { manager })).toBe('created');
        throw new Error('the caller changes its mind');
      })
      .catch(() => undefined);
    expect(await tags('tx/app')).toEqual(['v1']);
    expect(await writer.deleteTag('tx/app', 'v1', { digest: sha('elsewhere') })).toBe(false);
    expect(await writer.createTag('tx/app', 'v1', digest)).toBe('exists');
    expect(await writer.createTag('tx/app', 'v3', sha('none'))).toBe('not-found');
  });
});
