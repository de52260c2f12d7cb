import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { StorageLimitExceededError, createDataSource, quotaExceededMessage } from '@wharf/db';
import { MediaType } from '@wharf/oci';
import { startTestRegistry, type TestRegistry } from './testing/test-registry.js';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * The storage limit as the database enforces it, in the transaction that stores a manifest. No policy runs here (the
 * registry is started without the host's pre-check), so what is refused is refused by the database alone.
 */
describe('storage limit enforced by the database', () => {
  let reg: TestRegistry;
  const url = (path: string) => `${reg.url}${path}`;
  const usage = async (project: string) =>
    Number(
      (
        await reg.dataSource.query<{ used: string }[]>(
          `SELECT q.used_storage AS used FROM quota q JOIN project p USING (project_id) WHERE p.name = $1`,
          [project],
        )
      )[0].used,
    );

  async function project(name: string, limit: number): Promise<void> {
    const [row] = await reg.dataSource.query<{ project_id: number }[]>(
      `INSERT INTO project (name) VALUES ($1) RETURNING project_id`,
      [name],
    );
    await reg.dataSource.query(`INSERT INTO quota (project_id, hard_storage) VALUES ($1, $2)`, [row.project_id, limit]);
  }

  async function pushBlob(repository: string, data: Buffer): Promise<{ digest: string; size: number }> {
    const res = await fetch(url(`/v2/${repository}/blobs/uploads/?digest=${sha(data)}`), {
      method: 'POST',
      body: data,
    });
    expect(res.status).toBe(201);
    return { digest: sha(data), size: data.length };
  }

  function manifestOf(config: { digest: string; size: number }, layer: { digest: string; size: number }): Buffer {
    return Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, ...config },
        layers: [{ mediaType: MediaType.OciLayerTarGzip, ...layer }],
      }),
    );
  }

  beforeAll(async () => {
    reg = await startTestRegistry();
  });
  afterAll(async () => {
    await reg?.close();
  });

  it('refuses a manifest that would take its project past the limit with 403 DENIED in Harbor’s words', async () => {
    await project('tight', 1000);
    const config = await pushBlob('tight/app', Buffer.from('{}'));
    const layer = await pushBlob('tight/app', randomBytes(2000));
    const body = manifestOf(config, layer);
    const res = await fetch(url('/v2/tight/app/manifests/v1'), {
      method: 'PUT',
      headers: { 'content-type': MediaType.OciManifest },
      body,
    });
    expect(res.status).toBe(403);
    const error = ((await res.json()) as { errors: { code: string; message: string }[] }).errors[0];
    expect(error.code).toBe('DENIED');
    // The first item that crosses the limit is named: here the manifest itself fits, and its layer does not.
    expect(error.message).toMatch(/^Quota exceeded when processing the request of adding .* of storage resource/);
    expect(await usage('tight')).toBe(0);
    expect((await fetch(url('/v2/tight/app/manifests/v1'), { method: 'HEAD' })).status).toBe(404);
  });

  it('lets only one of two pushes in when each fits and both do not', async () => {
    const configData = Buffer.from('{"a":1}');
    const [firstData, secondData] = [randomBytes(500), randomBytes(500)];
    const config = { digest: sha(configData), size: configData.length };
    const firstManifest = manifestOf(config, { digest: sha(firstData), size: 500 });
    const secondManifest = manifestOf(config, { digest: sha(secondData), size: 500 });
    const afterFirst = firstManifest.length + config.size + 500;
    // Either push fits alone; after the first, the second's manifest still fits and its layer does not.
    const limit = afterFirst + secondManifest.length + 100;
    await project('race', limit);
    await pushBlob('race/app', configData);
    const first = await pushBlob('race/app', firstData);
    const second = await pushBlob('race/app', secondData);

    // The first push's transaction holds the project's quota row, as a push in flight in another process would.
    const other = createDataSource(reg.database);
    await other.initialize();
    const runner = other.createQueryRunner();
    try {
      await runner.startTransaction();
      const [repository] = (await runner.query(`SELECT id FROM registry_repository WHERE name = $1`, ['race/app'])) as {
        id: string;
      }[];
      const [manifest] = (await runner.query(
        `INSERT INTO registry_manifest (repository_id, digest, media_type, size, payload)
         VALUES ($1, $2, $3, $4, $5) RETURNING id`,
        [repository.id, sha(firstManifest), MediaType.OciManifest, firstManifest.length, firstManifest],
      )) as { id: string }[];
      for (const [position, item] of [config, first].entries()) {
        await runner.query(
          `INSERT INTO registry_manifest_reference (manifest_id, position, kind, digest, media_type, size)
           VALUES ($1, $2, $3, $4, $5, $6)`,
          [
            manifest.id,
            position,
            position === 0 ? 'config' : 'layer',
            item.digest,
            MediaType.OciLayerTarGzip,
            item.size,
          ],
        );
      }

      // The second push is checked while the first is in flight: it waits for the quota row, then sees the first.
      const racing = reg.repository.putManifest({
        repository: 'race/app',
        digest: sha(secondManifest),
        mediaType: MediaType.OciManifest,
        payload: secondManifest,
        references: [
          { kind: 'config', digest: config.digest, mediaType: MediaType.OciConfig, size: config.size },
          { kind: 'layer', digest: second.digest, mediaType: MediaType.OciLayerTarGzip, size: second.size },
        ],
        tag: 'second',
      });
      const outcome = racing.then(
        () => 'stored',
        (error: unknown) => error,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      await runner.commitTransaction();

      const refused = await outcome;
      expect(refused).toBeInstanceOf(StorageLimitExceededError);
      const used = afterFirst + secondManifest.length;
      expect(refused).toMatchObject({ adding: 500, used, limit });
      expect((refused as Error).message).toBe(quotaExceededMessage(500, used, limit));
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
      await other.destroy();
    }
    // Only the first push counts, and the second left nothing behind.
    expect(await usage('race')).toBe(afterFirst);
    expect((await fetch(url('/v2/race/app/manifests/second'), { method: 'HEAD' })).status).toBe(404);
  });
});
