import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MediaType, OciError, OciErrorCode } from '@wharf/oci';
import { startTestRegistry, type TestRegistry } from './testing/test-registry.js';
import {
  type ManifestDeleteContext,
  type ManifestGetContext,
  type RegistryPolicy,
  type TagChangeContext,
} from './types.js';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A host's policy: nothing may be committed under `locked/`, and no manifest may be tagged `forbidden`. */
const lockPolicy: RegistryPolicy = {
  name: 'lock',
  beforeBlobCommit: ({ repository }) => {
    if (repository.startsWith('locked/')) {
      return Promise.reject(new OciError(OciErrorCode.DENIED, `${repository} is locked`));
    }
    return Promise.resolve();
  },
  beforeManifestPut: ({ tag }) => {
    if (tag === 'forbidden') return Promise.reject(new OciError(OciErrorCode.DENIED, 'tag forbidden is reserved'));
    return Promise.resolve();
  },
};

describe('policy chain supplied by the host', () => {
  let reg: TestRegistry;
  const url = (path: string) => `${reg.url}${path}`;
  const codeOf = async (res: Response) => ((await res.json()) as { errors: { code: string }[] }).errors[0].code;

  beforeAll(async () => {
    reg = await startTestRegistry({ policies: [lockPolicy] });
  });
  afterAll(async () => {
    await reg?.close();
  });

  it('refuses pushes and cross-repository mounts the policy denies, storing nothing', async () => {
    const data = Buffer.from('a layer');
    const pushed = await fetch(url(`/v2/open/src/blobs/uploads/?digest=${sha(data)}`), { method: 'POST', body: data });
    expect(pushed.status).toBe(201);

    const monolithic = await fetch(url(`/v2/locked/app/blobs/uploads/?digest=${sha(data)}`), {
      method: 'POST',
      body: data,
    });
    expect(monolithic.status).toBe(403);
    expect(await codeOf(monolithic)).toBe('DENIED');

    const mount = await fetch(url(`/v2/locked/app/blobs/uploads/?mount=${sha(data)}&from=open/src`), {
      method: 'POST',
    });
    expect(mount.status).toBe(403);
    expect((await fetch(url(`/v2/locked/app/blobs/${sha(data)}`), { method: 'HEAD' })).status).toBe(404);

    const session = await fetch(url('/v2/locked/app/blobs/uploads/'), { method: 'POST' });
    const done = await fetch(url(`${session.headers.get('location')}?digest=${sha(data)}`), {
      method: 'PUT',
      body: data,
    });
    expect(done.status).toBe(403);
    expect((await fetch(url(`/v2/locked/app/blobs/${sha(data)}`), { method: 'HEAD' })).status).toBe(404);
    // The refused session is over, and none of its bytes stayed in storage.
    expect((await fetch(url(session.headers.get('location')!))).status).toBe(404);
    const uuid = session.headers.get('location')!.split('/').pop()!;
    await expect(stat(join(reg.storageRoot, 'uploads', uuid))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a manifest the policy denies and keeps the tag absent', async () => {
    const config = Buffer.from('{}');
    await fetch(url(`/v2/open/src/blobs/uploads/?digest=${sha(config)}`), { method: 'POST', body: config });
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: sha(config), size: config.length },
      layers: [],
    });
    const put = (tag: string) =>
      fetch(url(`/v2/open/src/manifests/${tag}`), {
        method: 'PUT',
        body: manifest,
        headers: { 'content-type': MediaType.OciManifest },
      });
    const refused = await put('forbidden');
    expect(refused.status).toBe(403);
    expect(await codeOf(refused)).toBe('DENIED');
    expect((await fetch(url('/v2/open/src/manifests/forbidden'))).status).toBe(404);
    expect((await put('allowed')).status).toBe(201);
    const tags = (await (await fetch(url('/v2/open/src/tags/list'))).json()) as { tags: string[] };
    expect(tags.tags).toEqual(['allowed']);
  });
});

describe('tag and delete policies', () => {
  let reg: TestRegistry;
  const url = (path: string) => `${reg.url}${path}`;
  const tagChanges: TagChangeContext[] = [];
  const manifestDeletes: ManifestDeleteContext[] = [];
  /** A host's policy: tags named `pinned…` never move nor go; every change is recorded. */
  const pinPolicy: RegistryPolicy = {
    name: 'pin',
    beforeTagChange: (context) => {
      tagChanges.push(context);
      if (context.tag.startsWith('pinned')) {
        return Promise.reject(new OciError(OciErrorCode.DENIED, 'pinned stays', undefined, 412));
      }
      return Promise.resolve();
    },
    beforeManifestDelete: (context) => {
      manifestDeletes.push(context);
      return Promise.resolve();
    },
  };
  const config = Buffer.from('{"pin":1}');
  const manifestOf = (layer: string) =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: sha(config), size: config.length },
      layers: [],
      annotations: { layer },
    });
  const put = (reference: string, body: string) =>
    fetch(url(`/v2/pins/app/manifests/${reference}`), {
      method: 'PUT',
      body,
      headers: { 'content-type': MediaType.OciManifest },
    });

  beforeAll(async () => {
    reg = await startTestRegistry({ policies: [pinPolicy] });
    await fetch(url(`/v2/pins/app/blobs/uploads/?digest=${sha(config)}`), { method: 'POST', body: config });
  });
  afterAll(async () => {
    await reg?.close();
  });

  it('asks before a push moves an existing tag, not before it creates one, and keeps a refused tag', async () => {
    const first = manifestOf('a');
    expect((await put('pinned', first)).status).toBe(201);
    expect(tagChanges).toEqual([]);
    const over = await put('pinned', manifestOf('b'));
    expect(over.status).toBe(412);
    expect(await over.json()).toEqual({ errors: [{ code: 'DENIED', message: 'pinned stays' }] });
    expect(tagChanges).toEqual([
      expect.objectContaining({
        repository: 'pins/app',
        tag: 'pinned',
        change: 'overwrite',
        digest: sha(first),
        newDigest: sha(manifestOf('b')),
      }),
    ]);
    const served = await fetch(url('/v2/pins/app/manifests/pinned'), { headers: { accept: MediaType.OciManifest } });
    expect(served.headers.get('docker-content-digest')).toBe(sha(first));
  });

  it('lets only one of two pushes racing to create a pinned tag in, and refuses the other', async () => {
    const contenders = [manifestOf('race-1'), manifestOf('race-2')];
    const statuses = (await Promise.all(contenders.map((body) => put('pinned-race', body)))).map((r) => r.status);
    expect([...statuses].sort()).toEqual([201, 412]);
    const served = await fetch(url('/v2/pins/app/manifests/pinned-race'), {
      method: 'HEAD',
      headers: { accept: MediaType.OciManifest },
    });
    expect(served.headers.get('docker-content-digest')).toBe(sha(contenders[statuses.indexOf(201)]));
  });

  it('asks before deleting a tag, or a manifest with the tags it takes, and deletes nothing refused', async () => {
    tagChanges.length = 0;
    const pinned = sha(manifestOf('a'));
    for (const reference of ['pinned', pinned]) {
      expect((await fetch(url(`/v2/pins/app/manifests/${reference}`), { method: 'DELETE' })).status).toBe(412);
    }
    expect(tagChanges.map((c) => [c.tag, c.change, c.digest])).toEqual([
      ['pinned', 'delete', pinned],
      ['pinned', 'delete', pinned],
    ]);
    expect(manifestDeletes).toEqual([]);
    expect((await fetch(url('/v2/pins/app/manifests/pinned'), { method: 'HEAD' })).status).toBe(200);

    const loose = manifestOf('c');
    expect((await put('loose', loose)).status).toBe(201);
    expect((await fetch(url(`/v2/pins/app/manifests/${sha(loose)}`), { method: 'DELETE' })).status).toBe(202);
    expect(manifestDeletes).toEqual([{ repository: 'pins/app', digest: sha(loose), tags: ['loose'] }]);
    expect(tagChanges.at(-1)).toMatchObject({ tag: 'loose', change: 'delete', digest: sha(loose) });
  });
});

describe('read policies', () => {
  let reg: TestRegistry;
  const url = (path: string) => `${reg.url}${path}`;
  const reads: ManifestGetContext[] = [];
  /** A host's gate: manifests annotated `blocked` are not served, whoever asks and however. */
  const blocked = new Set<string>();
  const gatePolicy: RegistryPolicy = {
    name: 'gate',
    beforeManifestGet: (context) => {
      reads.push(context);
      if (blocked.has(context.digest)) {
        return Promise.reject(new OciError(OciErrorCode.DENIED, `${context.digest} is blocked`, undefined, 412));
      }
      return Promise.resolve();
    },
  };
  const config = Buffer.from('{"gate":1}');
  const manifestOf = (note: string) =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: sha(config), size: config.length },
      layers: [],
      annotations: { note },
    });
  const put = (reference: string, body: string, mediaType: string = MediaType.OciManifest) =>
    fetch(url(`/v2/gated/app/manifests/${reference}`), { method: 'PUT', body, headers: { 'content-type': mediaType } });

  beforeAll(async () => {
    reg = await startTestRegistry({ policies: [gatePolicy] });
    await fetch(url(`/v2/gated/app/blobs/uploads/?digest=${sha(config)}`), { method: 'POST', body: config });
  });
  afterAll(async () => {
    await reg?.close();
  });

  it('asks before serving a manifest by tag or digest, on GET and HEAD, cached or not, and sends nothing refused', async () => {
    const open = manifestOf('open');
    const shut = manifestOf('blocked');
    expect((await put('open', open)).status).toBe(201);
    expect((await put('shut', shut)).status).toBe(201);
    blocked.add(sha(shut));
    for (const round of [1, 2]) {
      for (const method of ['GET', 'HEAD'] as const) {
        for (const reference of ['shut', sha(shut)]) {
          const refused = await fetch(url(`/v2/gated/app/manifests/${reference}`), { method });
          expect([round, method, reference, refused.status]).toEqual([round, method, reference, 412]);
          expect(refused.headers.get('docker-content-digest')).toBeNull();
          if (method === 'GET') {
            const body = (await refused.json()) as { errors: { code: string; message: string }[] };
            expect(body.errors[0]).toMatchObject({ code: 'DENIED', message: `${sha(shut)} is blocked` });
          }
        }
        const served = await fetch(url('/v2/gated/app/manifests/open'), { method });
        expect(served.status).toBe(200);
        if (method === 'GET') expect(await served.text()).toBe(open);
      }
    }
    expect(reads.find((r) => r.reference === 'shut' && r.method === 'HEAD')).toMatchObject({
      repository: 'gated/app',
      digest: sha(shut),
      mediaType: MediaType.OciManifest,
    });

    // An index is served on its own terms; each child is asked for by its digest, and refused by it.
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        { mediaType: MediaType.OciManifest, digest: sha(open), size: Buffer.byteLength(open) },
        { mediaType: MediaType.OciManifest, digest: sha(shut), size: Buffer.byteLength(shut) },
      ],
    });
    expect((await put('multi', index, MediaType.OciIndex)).status).toBe(201);
    expect((await fetch(url('/v2/gated/app/manifests/multi'))).status).toBe(200);
    expect((await fetch(url(`/v2/gated/app/manifests/${sha(open)}`))).status).toBe(200);
    expect((await fetch(url(`/v2/gated/app/manifests/${sha(shut)}`))).status).toBe(412);

    blocked.clear();
    expect((await fetch(url('/v2/gated/app/manifests/shut'))).status).toBe(200);
  });
});
