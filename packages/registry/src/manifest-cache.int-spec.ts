import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MANIFEST_CHANGE_CHANNEL } from '@wharf/db';
import { MediaType } from '@wharf/oci';
import { startTestRegistry, type TestRegistry } from './testing/test-registry.js';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('manifest cache shared by two registry processes on one database', () => {
  let a: TestRegistry;
  let b: TestRegistry;

  beforeAll(async () => {
    a = await startTestRegistry();
    b = await startTestRegistry({}, a.database);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  async function push(reg: TestRegistry, name: string, tag: string, seed: string): Promise<string> {
    const config = Buffer.from(JSON.stringify({ seed }));
    const res = await fetch(`${reg.url}/v2/${name}/blobs/uploads/?digest=${sha(config)}`, {
      method: 'POST',
      body: config,
    });
    expect(res.status).toBe(201);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: sha(config), size: config.length },
        layers: [],
      }),
    );
    const put = await fetch(`${reg.url}/v2/${name}/manifests/${tag}`, {
      method: 'PUT',
      body: manifest,
      headers: { 'content-type': MediaType.OciManifest },
    });
    expect(put.status).toBe(201);
    return sha(manifest);
  }

  const digestAt = async (reg: TestRegistry, name: string, ref: string) => {
    const res = await fetch(`${reg.url}/v2/${name}/manifests/${ref}`, { method: 'HEAD' });
    return res.status === 200 ? res.headers.get('docker-content-digest') : res.status;
  };

  /**
   * Waits until B has received every change notice committed so far: PostgreSQL delivers notices in commit order,
   * so once B hears one sent now, those of earlier commits have reached it too, and no late one can empty what
   * B caches next.
   */
  async function settled(reg: TestRegistry): Promise<void> {
    const marker = `settled/${Math.random().toString(36).slice(2)}`;
    await a.dataSource.query('SELECT pg_notify($1, $2)', [MANIFEST_CHANGE_CHANNEL, marker]);
    await eventually(() => Promise.resolve(reg.notices.includes(marker)));
  }

  it('answers repeated reads from the cache', async () => {
    const first = await push(a, 'team/cached', 'v1', 'one');
    await settled(b);
    expect(await digestAt(b, 'team/cached', 'v1')).toBe(first);
    // Removed behind the registry's back (no change notice): B still answers from its cache.
    await a.dataSource.query(`DELETE FROM registry_tag WHERE name = 'v1'`);
    expect(await digestAt(b, 'team/cached', 'v1')).toBe(first);
  });

  it('sees a tag moved or deleted on the other process once the change notice arrives', async () => {
    const first = await push(a, 'team/moving', 'latest', 'first');
    await eventually(async () => (await digestAt(b, 'team/moving', 'latest')) === first);
    const second = await push(a, 'team/moving', 'latest', 'second');
    expect(await digestAt(a, 'team/moving', 'latest')).toBe(second);
    await eventually(async () => (await digestAt(b, 'team/moving', 'latest')) === second);
    const del = await fetch(`${a.url}/v2/team/moving/manifests/latest`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    await eventually(async () => (await digestAt(b, 'team/moving', 'latest')) === 404);
    expect(await digestAt(b, 'team/moving', second)).toBe(second);
    await fetch(`${a.url}/v2/team/moving/manifests/${second}`, { method: 'DELETE' });
    await eventually(async () => (await digestAt(b, 'team/moving', second)) === 404);
  });

  it('serves tag lists from the cache and refreshes them when a tag changes on the other process', async () => {
    const tagsAt = async (reg: TestRegistry) =>
      ((await (await fetch(`${reg.url}/v2/team/listed/tags/list`)).json()) as { tags: string[] }).tags;
    await push(a, 'team/listed', 'one', 'l1');
    await eventually(async () => (await tagsAt(b)).join() === 'one');
    await push(a, 'team/listed', 'two', 'l2');
    await eventually(async () => (await tagsAt(b)).join() === 'one,two');
    await a.dataSource.query(`DELETE FROM registry_tag WHERE name = 'two'`);
    expect(await tagsAt(b)).toEqual(['one', 'two']);
    expect((await fetch(`${a.url}/v2/team/listed/manifests/one`, { method: 'DELETE' })).status).toBe(202);
    await eventually(async () => (await tagsAt(b)).join() === '');
  });
});
