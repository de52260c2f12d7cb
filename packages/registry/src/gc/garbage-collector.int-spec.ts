import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { BlobGoneError, CORE_APPLICATION_NAME, GcBusyError, REGISTRY_APPLICATION_NAME } from '@wharf/db';
import { COSIGN_SIMPLESIGNING_MEDIA_TYPE } from '@wharf/oci';
import { FilesystemDriver, type StorageDriver } from '@wharf/storage';
import {
  GcTestClient,
  type PushedImage,
  ageEverything,
  blobPath,
  danglingReferences,
  randomImage,
  sha,
} from '../testing/gc-fixtures.js';
import { type EmulatedS3, startEmulatedS3 } from '../testing/emulated-s3.js';
import { startTestRegistry, type TestRegistry } from '../testing/test-registry.js';
import {
  GarbageCollector,
  type GarbageCollectorOptions,
  type GcOptions,
  type GcResult,
  type GcStep,
} from './garbage-collector.js';

const SLOW = 60_000;

function gcContext(lines: string[] = [], signal = new AbortController().signal) {
  return { log: (line: string) => void lines.push(line), signal };
}

const real: GcOptions = { deleteUntagged: true, dryRun: false, workers: 3, timeWindowHours: 1 };
const dry: GcOptions = { ...real, dryRun: true };

/** The counts a run reports, without its durations. */
function freed(result: GcResult) {
  const { markMs: _markMs, sweepMs: _sweepMs, pausedMs: _pausedMs, dryRun: _dryRun, ...counts } = result;
  return counts;
}

describe('online garbage collection (PostgreSQL + filesystem storage)', () => {
  let reg: TestRegistry;
  let client: GcTestClient;
  let storage: StorageDriver;

  const collector = (options: GarbageCollectorOptions = {}) =>
    new GarbageCollector(reg.dataSource, reg.repository, storage, { batchSize: 4, ...options });
  const stored = async (digest: string) => (await storage.stat(blobPath(digest))) !== null;
  const blobRow = async (digest: string) =>
    (
      await reg.dataSource.query<{ gc_state: string }[]>(`SELECT gc_state FROM registry_blob WHERE digest = $1`, [
        digest,
      ])
    )[0]?.gc_state ?? null;

  beforeEach(async () => {
    reg = await startTestRegistry();
    client = new GcTestClient(reg.url);
    storage = new FilesystemDriver(reg.storageRoot);
    // A project with a quota, so that usage is kept for the repositories under lib/.
    await reg.dataSource.query(`INSERT INTO project (name) VALUES ('lib')`);
    await reg.dataSource.query(`INSERT INTO quota (project_id) SELECT project_id FROM project WHERE name = 'lib'`);
  }, SLOW);
  afterEach(async () => {
    await reg?.close();
  }, SLOW);

  describe('mark rules', () => {
    /** Pushes every case the mark tells apart, then ages it all past the time window. */
    async function seed() {
      const base = randomBytes(3000);
      const tagged = await client.pushImage('lib/app', 'v1', { ...randomImage(), layers: [base] });
      const untagged = await client.pushImage('lib/app', 'v0', { ...randomImage(2), layers: [base, randomBytes(500)] });
      // Untagged by moving its tag to the newer image.
      await client.pushImage('lib/app', 'v0', { config: tagged.config, layers: tagged.layers });
      const child = await client.pushImage('lib/app', 'child-tmp', randomImage());
      const keptIndex = await client.pushIndex('lib/app', 'multi', [child]);
      expect(await client.deleteManifest('lib/app', 'child-tmp')).toBe(202);
      const orphanChild = await client.pushImage('lib/app', 'tmp-child', randomImage());
      const goneIndex = await client.pushIndex('lib/app', 'tmp-index', [orphanChild]);
      expect(await client.deleteManifest('lib/app', 'tmp-child')).toBe(202);
      expect(await client.deleteManifest('lib/app', 'tmp-index')).toBe(202);
      const signature = await client.pushImage('lib/app', 'sig-tmp', {
        ...randomImage(),
        subject: { digest: tagged.digest, size: tagged.manifest.length },
      });
      const untaggedSignature = await client.pushImage('lib/app', 'sig2-tmp', {
        ...randomImage(),
        subject: { digest: untagged.digest, size: untagged.manifest.length },
      });
      for (const tag of ['sig-tmp', 'sig2-tmp']) expect(await client.deleteManifest('lib/app', tag)).toBe(202);
      // A cosign signature by tag, signed again: the tag moves to the new one, the first stays an accessory.
      const cosignTag = `${tagged.digest.replace(':', '-')}.sig`;
      const cosign = { layerMediaType: COSIGN_SIMPLESIGNING_MEDIA_TYPE };
      const resigned = await client.pushImage('lib/app', cosignTag, { ...randomImage(), ...cosign });
      await client.pushImage('lib/app', cosignTag, { ...randomImage(), ...cosign });
      const loose = randomBytes(700);
      await client.pushBlob('lib/app', loose);
      await ageEverything(reg.dataSource, 2);
      return {
        base,
        tagged,
        untagged,
        child,
        keptIndex,
        orphanChild,
        goneIndex,
        signature,
        untaggedSignature,
        resigned,
        loose,
      };
    }

    it(
      'keeps what tags reach (children of a kept index, referrers of a kept subject) and deletes the rest, as the dry run said',
      async () => {
        const s = await seed();
        const manifestsBefore = await reg.dataSource.query<{ digest: string }[]>(
          `SELECT digest FROM registry_manifest`,
        );
        const dryRun = await collector().run(dry, gcContext());
        // Nothing changed: every manifest and blob is still there.
        expect(await reg.dataSource.query(`SELECT digest FROM registry_manifest`)).toHaveLength(manifestsBefore.length);
        expect(await stored(sha(s.loose))).toBe(true);

        const lines: string[] = [];
        const result = await collector().run(real, gcContext(lines));
        expect(freed(result)).toEqual(freed(dryRun));
        const goneBlobs = [
          s.untagged.config,
          s.untagged.layers[1],
          s.orphanChild.config,
          ...s.orphanChild.layers,
          s.untaggedSignature.config,
          ...s.untaggedSignature.layers,
          s.loose,
        ];
        expect(result).toMatchObject({
          manifestsDeleted: 4,
          blobsDeleted: goneBlobs.length,
          bytesFreed: goneBlobs.reduce((sum, b) => sum + b.length, 0),
          orphanFiles: 0,
          uploadDirs: 0,
        });
        const manifests = new Set(
          (await reg.dataSource.query<{ digest: string }[]>(`SELECT digest FROM registry_manifest`)).map(
            (m) => m.digest,
          ),
        );
        for (const kept of [s.tagged, s.child, s.signature, s.resigned]) expect(manifests.has(kept.digest)).toBe(true);
        expect(manifests.has(s.keptIndex.digest)).toBe(true);
        for (const gone of [s.untagged, s.orphanChild, s.untaggedSignature])
          expect(manifests.has(gone.digest)).toBe(false);
        expect(manifests.has(s.goneIndex.digest)).toBe(false);
        for (const blob of goneBlobs) {
          expect(await stored(sha(blob))).toBe(false);
          expect(await blobRow(sha(blob))).toBeNull();
        }
        for (const blob of [s.base, s.tagged.config, s.child.config, ...s.child.layers, s.signature.config]) {
          expect(await stored(sha(blob))).toBe(true);
        }
        expect(await danglingReferences(reg.dataSource, storage)).toEqual([]);
        expect(lines.join('\n')).toContain(`${goneBlobs.length} blobs and 4 manifests eligible for deletion`);
        // The deletes went through the registry's own, with their events.
        const [{ events }] = await reg.dataSource.query<{ events: number }[]>(
          `SELECT count(*)::int AS events FROM event_outbox WHERE type = 'DELETE_ARTIFACT' AND payload->>'actor' = $1`,
          ['garbage collection'],
        );
        expect(events).toBe(4);

        // Nothing left: a second run frees nothing.
        expect(freed(await collector().run(real, gcContext()))).toMatchObject({ manifestsDeleted: 0, blobsDeleted: 0 });
      },
      SLOW,
    );

    it(
      'leaves untagged manifests and their blobs when not asked to delete them, and keeps what the time window holds',
      async () => {
        const s = await seed();
        const result = await collector().run({ ...real, deleteUntagged: false }, gcContext());
        expect(result.manifestsDeleted).toBe(0);
        // The index whose tag was deleted, and what it alone listed, are manifests still stored: only the loose blob.
        expect(result.blobsDeleted).toBe(1);
        expect(await stored(sha(s.loose))).toBe(false);
        expect(await stored(sha(s.untagged.layers[1]))).toBe(true);

        const young = randomBytes(600);
        await client.pushBlob('lib/app', young);
        await client.pushImage('lib/app', 'young-tmp', randomImage());
        expect(await client.deleteManifest('lib/app', 'young-tmp')).toBe(202);
        const again = await collector().run(real, gcContext());
        // The untagged manifests of the seed go; the young blob and the young untagged manifest stay.
        expect(again.manifestsDeleted).toBe(4);
        expect(await stored(sha(young))).toBe(true);
        expect(await blobRow(sha(young))).toBe('none');
      },
      SLOW,
    );

    it(
      'keeps quota usage in step with the bytes left in storage',
      async () => {
        await seed();
        await collector().run(real, gcContext());
        const [{ used }] = await reg.dataSource.query<{ used: string }[]>(
          `SELECT q.used_storage AS used FROM quota q JOIN project p USING (project_id) WHERE p.name = 'lib'`,
        );
        const [{ manifests }] = await reg.dataSource.query<{ manifests: string }[]>(
          `SELECT coalesce(sum(size), 0) AS manifests FROM registry_manifest`,
        );
        let onDisk = 0;
        for await (const file of storage.walk('blobs')) onDisk += file.size;
        // Usage counts each manifest and each blob it references once; storage holds the blobs.
        expect(Number(used) - Number(manifests)).toBe(onDisk);
      },
      SLOW,
    );
  });

  describe('pushes racing the sweep', () => {
    /** An image whose blobs are aged and unreferenced: its manifest was deleted. */
    async function garbage(): Promise<PushedImage> {
      const image = await client.pushImage('lib/app', 'doomed', randomImage(1, 2000));
      expect(await client.deleteManifest('lib/app', image.digest)).toBe(202);
      await ageEverything(reg.dataSource, 2);
      return image;
    }

    /** A collection that holds its first batch after `step` while `race` runs. */
    function racing(step: string, race: () => Promise<void>) {
      let raced = false;
      return collector({
        batchSize: 100,
        onStep: async (at) => {
          if (at !== step || raced) return;
          raced = true;
          await race();
        },
      });
    }

    it(
      'keeps a blob a manifest push references once it is marked',
      async () => {
        const image = await garbage();
        const result = await racing('marked', async () => {
          await client.pushImage('lib/app', 'v1', image);
        }).run(real, gcContext());
        expect(result.blobsDeleted).toBe(0);
        expect(await blobRow(sha(image.layers[0]))).toBe('none');
        expect(await danglingReferences(reg.dataSource, storage)).toEqual([]);
      },
      SLOW,
    );

    it(
      'keeps a blob whose manifest push is still committing when the deletion begins',
      async () => {
        const image = await garbage();
        // The push's transaction stays open a second after it has locked and referenced the blobs.
        await reg.dataSource.query(`
          CREATE FUNCTION slow_reference() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$`);
        await reg.dataSource.query(`
          CREATE TRIGGER slow_reference AFTER INSERT ON registry_manifest_reference
            FOR EACH STATEMENT EXECUTE FUNCTION slow_reference()`);
        let push: Promise<PushedImage> | undefined;
        const result = await racing('marked', async () => {
          push = client.pushImage('lib/app', 'v1', image);
          await new Promise((resolve) => setTimeout(resolve, 500));
        }).run(real, gcContext());
        await push;
        expect(result.blobsDeleted).toBe(0);
        expect(await danglingReferences(reg.dataSource, storage)).toEqual([]);
      },
      SLOW,
    );

    it(
      'has a link that waited for a deletion make sure of the bytes, and refuse the link when they are gone',
      async () => {
        const image = await garbage();
        const layer = image.layers[0];
        const digest = sha(layer);
        // A link that found the bytes before the deletion took them, and reaches the row once it is gone.
        let checked = 0;
        let link: Promise<void> | undefined;
        await racing('bytesDeleted', async () => {
          link = reg.repository.linkBlob('lib/app', digest, layer.length, undefined, async () => {
            checked += 1;
            await storage.putContent(blobPath(digest), layer);
            return true;
          });
          await new Promise((resolve) => setTimeout(resolve, 300));
        }).run(real, gcContext());
        await link;
        expect(checked).toBe(1);
        expect(await blobRow(digest)).toBe('none');
        expect((await client.getBlob('lib/app', digest))?.equals(layer)).toBe(true);

        await ageEverything(reg.dataSource, 2);
        let refused: unknown;
        await racing('bytesDeleted', async () => {
          link = reg.repository.linkBlob('lib/app', digest, layer.length, undefined, () => Promise.resolve(false));
          link.catch((error: unknown) => (refused = error));
          await new Promise((resolve) => setTimeout(resolve, 300));
        }).run(real, gcContext());
        await link?.catch(() => undefined);
        expect(refused).toBeInstanceOf(BlobGoneError);
        expect(await blobRow(digest)).toBeNull();
        expect(await client.headBlob('lib/app', digest)).toBe(404);
      },
      SLOW,
    );

    it(
      'refuses a manifest push whose blobs are being deleted, and the client pushing them again ends with them stored',
      async () => {
        const image = await garbage();
        const manifest = image.manifest;
        let answer = '';
        let head = 0;
        const result = await racing('deleting', async () => {
          head = await client.headBlob('lib/app', sha(image.layers[0]));
          const res = await client.putManifest('lib/app', 'v1', manifest, 'application/vnd.oci.image.manifest.v1+json');
          answer = `${res.status} ${await res.text()}`;
        }).run(real, gcContext());
        expect(head).toBe(404);
        expect(answer).toMatch(/^400 .*MANIFEST_BLOB_UNKNOWN/);
        expect(result.blobsDeleted).toBe(2);
        await client.pushImage('lib/app', 'v1', image);
        expect(await danglingReferences(reg.dataSource, storage)).toEqual([]);
        expect((await client.getBlob('lib/app', sha(image.layers[0])))?.equals(image.layers[0])).toBe(true);
      },
      SLOW,
    );

    it(
      'keeps a blob mounted into another repository once marked, and falls back to an upload once it is being deleted',
      async () => {
        const image = await garbage();
        const layer = sha(image.layers[0]);
        let mounted = 0;
        await racing('marked', async () => {
          mounted = await client.mount('lib/other', 'lib/app', layer);
        }).run({ ...real, timeWindowHours: 0 }, gcContext());
        expect(mounted).toBe(201);
        expect(await stored(layer)).toBe(true);

        await ageEverything(reg.dataSource, 2);
        await racing('deleting', async () => {
          mounted = await client.mount('lib/third', 'lib/app', layer);
        }).run(real, gcContext());
        expect(mounted).toBe(202);
        expect(await stored(layer)).toBe(false);
        expect(await client.headBlob('lib/third', layer)).toBe(404);
      },
      SLOW,
    );

    it(
      'ends with the bytes stored when the same blob is uploaded while it is being deleted',
      async () => {
        const image = await garbage();
        const layer = image.layers[0];
        await racing('deleting', async () => {
          await client.pushBlob('lib/app', layer);
        }).run(real, gcContext());
        expect(await blobRow(sha(layer))).toBe('none');
        expect((await client.getBlob('lib/app', sha(layer)))?.equals(layer)).toBe(true);

        // Uploaded while its bytes are gone and the deletion holds the row: the upload waits, then stores them.
        await ageEverything(reg.dataSource, 2);
        let upload: Promise<string> | undefined;
        await racing('bytesDeleted', async () => {
          upload = client.pushBlob('lib/app', layer);
          await new Promise((resolve) => setTimeout(resolve, 300));
        }).run(real, gcContext());
        await upload;
        expect(await blobRow(sha(layer))).toBe('none');
        expect((await client.getBlob('lib/app', sha(layer)))?.equals(layer)).toBe(true);
      },
      SLOW,
    );

    it(
      'loses no pushed image while images are pushed and deleted throughout a collection',
      async () => {
        // Garbage to collect, among it base layers that the pushes below reuse after HEAD finds them.
        const bases = Array.from({ length: 6 }, () => randomBytes(4000));
        for (const base of bases) await client.pushBlob('lib/base', base);
        for (let i = 0; i < 40; i++) await client.pushBlob('lib/junk', randomBytes(800));
        await ageEverything(reg.dataSource, 2);

        const pushed: { name: string; image: PushedImage }[] = [];
        let pushing = true;
        const pusher = async (worker: number) => {
          for (let i = 0; pushing || i < 3; i++) {
            const name = `lib/app${worker}`;
            const image = await client.pushImage(name, `t${i}`, {
              config: randomImage().config,
              layers: [bases[(worker + i) % bases.length], randomBytes(1500)],
            });
            pushed.push({ name, image });
            // Every third image is deleted again, so that its unique layer becomes garbage of a later run.
            if (i % 3 === 2) expect(await client.deleteManifest(name, `t${i}`)).toBe(202);
          }
        };
        const pushers = [0, 1, 2, 3].map(pusher);
        for (let run = 0; run < 3; run++) {
          await collector({ batchSize: 2 }).run({ ...real, timeWindowHours: 0, workers: 4 }, gcContext());
        }
        pushing = false;
        await Promise.all(pushers);
        await collector().run({ ...real, timeWindowHours: 0 }, gcContext());
        expect(await danglingReferences(reg.dataSource, storage)).toEqual([]);
        for (const { name, image } of pushed) {
          const tag = await fetch(client.url(`/v2/${name}/manifests/${image.digest}`));
          if (tag.status !== 200) continue;
          for (const layer of image.layers) expect((await client.getBlob(name, sha(layer)))?.equals(layer)).toBe(true);
        }
      },
      SLOW * 2,
    );
  });

  describe('stopping and crashing', () => {
    async function garbageBlobs(count: number): Promise<string[]> {
      const digests: string[] = [];
      for (let i = 0; i < count; i++) digests.push(await client.pushBlob('lib/junk', randomBytes(300)));
      await client.pushImage('lib/app', 'v1', randomImage(2));
      await ageEverything(reg.dataSource, 2);
      return digests;
    }

    for (const step of ['marked', 'deleting', 'bytesDeleted'] as const) {
      it(
        `finishes on the next run what a run that died after its "${step}" step left`,
        async () => {
          const digests = await garbageBlobs(10);
          let batches = 0;
          const dying = collector({
            onStep: (at) => {
              if (at === step && ++batches === 2) throw new Error('killed');
            },
          });
          await expect(dying.run({ ...real, workers: 1 }, gcContext())).rejects.toThrow('killed');
          // Whatever the run left behind is either intact or hidden from the data path.
          for (const digest of digests) {
            const state = await blobRow(digest);
            if (state === 'deleting') expect(await client.headBlob('lib/junk', digest)).toBe(404);
            if (state === 'none' || state === 'delete') expect(await stored(digest)).toBe(true);
          }
          expect(await danglingReferences(reg.dataSource, storage)).toEqual([]);
          const rerun = await collector().run(real, gcContext());
          expect(rerun.blobsDeleted).toBeGreaterThan(0);
          for (const digest of digests) {
            expect(await blobRow(digest)).toBeNull();
            expect(await stored(digest)).toBe(false);
          }
          expect(await danglingReferences(reg.dataSource, storage)).toEqual([]);
        },
        SLOW,
      );
    }

    it(
      'stops between batches when its signal is aborted, leaving every blob kept or wholly deleted',
      async () => {
        const digests = await garbageBlobs(12);
        const controller = new AbortController();
        const lines: string[] = [];
        const stopping = collector({
          onStep: (at) => {
            if (at === 'bytesDeleted') controller.abort(new Error('stopped by the user'));
          },
        });
        await expect(stopping.run({ ...real, workers: 1 }, gcContext(lines, controller.signal))).rejects.toThrow(
          'stopped by the user',
        );
        expect(lines.some((line) => line.startsWith('gc stopped'))).toBe(true);
        const states = await Promise.all(digests.map(blobRow));
        expect(states.filter((s) => s === null)).toHaveLength(4);
        expect(states.filter((s) => s === 'none')).toHaveLength(8);
        expect((await collector().run(real, gcContext())).blobsDeleted).toBe(8);
      },
      SLOW,
    );

    it(
      'keeps, uncounted and still hidden, a blob whose bytes storage failed to delete (a storage double failing one)',
      async () => {
        const digests = await garbageBlobs(6);
        const failing = digests[2];
        const real_ = storage;
        const double: StorageDriver = Object.create(real_) as StorageDriver;
        double.deleteFiles = async (paths) => {
          const others = paths.filter((path) => path !== blobPath(failing));
          const failures = await real_.deleteFiles(others);
          return others.length === paths.length ? failures : [...failures, { path: blobPath(failing), reason: 'EIO' }];
        };
        const lines: string[] = [];
        const result = await new GarbageCollector(reg.dataSource, reg.repository, double, { batchSize: 4 }).run(
          real,
          gcContext(lines),
        );
        expect(result.blobsDeleted).toBe(5);
        expect(result.bytesFreed).toBe(5 * 300);
        expect(await blobRow(failing)).toBe('deleting');
        expect(await stored(failing)).toBe(true);
        expect(await client.headBlob('lib/junk', failing)).toBe(404);
        expect(lines.some((line) => line.includes(`could not delete blob ${failing}`) && line.includes('EIO'))).toBe(
          true,
        );
        // The next run, with storage working again, finishes it.
        const rerun = await collector().run(real, gcContext());
        expect(rerun.blobsDeleted).toBe(1);
        expect(await blobRow(failing)).toBeNull();
        expect(await stored(failing)).toBe(false);
        expect(await danglingReferences(reg.dataSource, storage)).toEqual([]);
      },
      SLOW,
    );

    it(
      'refuses to run beside another collection',
      async () => {
        await garbageBlobs(2);
        let second: Promise<GcResult> | undefined;
        await collector({
          onStep: (at) => {
            if (at !== 'marked' || second) return;
            second = collector().run(real, gcContext());
            second.catch(() => undefined);
          },
        }).run(real, gcContext());
        await expect(second).rejects.toThrow(GcBusyError);
      },
      SLOW,
    );
  });

  describe('yielding to the data path', () => {
    /** A connection named as a registry server's, running a query every 50 ms, until the returned stop is called. */
    async function busyRegistry(applicationName = REGISTRY_APPLICATION_NAME): Promise<() => Promise<void>> {
      const connection = reg.dataSource.createQueryRunner();
      await connection.connect();
      await connection.query(`SELECT set_config('application_name', $1, false)`, [applicationName]);
      let running = true;
      const loop = (async () => {
        while (running) {
          await connection.query('SELECT 1');
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      return async () => {
        running = false;
        await loop;
        await connection.query('RESET application_name');
        await connection.release();
      };
    }

    async function garbage(count: number): Promise<void> {
      for (let i = 0; i < count; i++) await client.pushBlob('lib/junk', randomBytes(200));
      await ageEverything(reg.dataSource, 2);
    }

    it(
      'pauses between batches for as long as its duty cycle leaves while a registry uses the database',
      async () => {
        await garbage(12);
        const stop = await busyRegistry();
        let result: GcResult;
        const lines: string[] = [];
        try {
          result = await collector({ batchSize: 3, busyDutyCycle: 0.25 }).run(
            { ...real, workers: 1 },
            gcContext(lines),
          );
        } finally {
          await stop();
        }
        expect(result.blobsDeleted).toBe(12);
        // Four batches, each followed by a pause three times its length: the batches took a quarter of the sweep and
        // the pauses three quarters, less what the rest of it took (the questions whether to pause, the storage walk).
        expect(result.pausedMs).toBeGreaterThan(0);
        expect(result.pausedMs).toBeGreaterThanOrEqual(0.5 * result.sweepMs);
        expect(lines.some((line) => /^paused \d+\.\d\d s in all to yield/.test(line))).toBe(true);
      },
      SLOW,
    );

    it(
      'runs the batches of all its workers one at a time while a registry is at work, side by side while none is',
      async () => {
        /** The most batches that were between their first and last step at once. */
        const overlap = async (busy: boolean) => {
          await garbage(12);
          let running = 0;
          let most = 0;
          const onStep = async (step: GcStep) => {
            if (step === 'marked') {
              running += 1;
              most = Math.max(most, running);
              // Long enough for another worker's batch to start, were it allowed to.
              await sleep(60);
            }
            if (step === 'bytesDeleted') running -= 1;
          };
          const stop = busy ? await busyRegistry() : () => Promise.resolve();
          try {
            const result = await collector({ batchSize: 2, busyDutyCycle: 0.5, onStep }).run(
              { ...real, workers: 4 },
              gcContext(),
            );
            expect(result.blobsDeleted).toBe(12);
            expect(result.pausedMs > 0).toBe(busy);
          } finally {
            await stop();
          }
          return most;
        };
        expect(await overlap(true)).toBe(1);
        expect(await overlap(false)).toBeGreaterThan(1);
      },
      SLOW,
    );

    it(
      'does not pause when no registry or core is at work, or when its duty cycle is 1',
      async () => {
        await garbage(6);
        // Another program's connection is not the data path.
        const stop = await busyRegistry('psql');
        try {
          expect((await collector({ batchSize: 2 }).run(real, gcContext())).pausedMs).toBe(0);
        } finally {
          await stop();
        }
        await garbage(6);
        const stopRegistry = await busyRegistry(`${CORE_APPLICATION_NAME}-listener`);
        try {
          const result = await collector({ batchSize: 2, busyDutyCycle: 1 }).run(real, gcContext());
          expect(result.blobsDeleted).toBe(6);
          expect(result.pausedMs).toBe(0);
        } finally {
          await stopRegistry();
        }
      },
      SLOW,
    );

    it('refuses a duty cycle outside (0, 1]', () => {
      for (const busyDutyCycle of [0, -0.5, 1.5, Number.NaN])
        expect(() => collector({ busyDutyCycle })).toThrow(RangeError);
    });
  });

  describe('bytes no row knows of', () => {
    it(
      'deletes blob files with no row and upload files with no session once older than the time window',
      async () => {
        const kept = await client.pushImage('lib/app', 'v1', randomImage());
        const root = reg.storageRoot;
        const write = async (path: string, data: Buffer, hoursAgo: number) => {
          await mkdir(join(root, path, '..'), { recursive: true });
          await writeFile(join(root, path), data);
          const time = new Date(Date.now() - hoursAgo * 3600_000);
          await utimes(join(root, path), time, time);
        };
        const oldOrphan = randomBytes(900);
        const youngOrphan = randomBytes(800);
        await write(blobPath(sha(oldOrphan)), oldOrphan, 2);
        await write(blobPath(sha(youngOrphan)), youngOrphan, 0);
        const oldUpload = randomUUID();
        const legacyUpload = randomUUID();
        const youngUpload = randomUUID();
        await write(`uploads/${oldUpload}`, randomBytes(100), 2);
        await write(`uploads/${legacyUpload}/data`, randomBytes(50), 2);
        await write(`uploads/${youngUpload}`, randomBytes(70), 0);
        const session = await reg.repository.createUpload(randomUUID(), 'lib/app', 'unused');
        await write(`uploads/${session.id}`, randomBytes(60), 2);

        const dryRun = await collector().run(dry, gcContext());
        expect(dryRun).toMatchObject({ orphanFiles: 1, orphanBytes: 900, uploadDirs: 2, uploadBytes: 150 });
        const result = await collector().run(real, gcContext());
        expect(freed(result)).toEqual(freed(dryRun));
        expect(await stored(sha(oldOrphan))).toBe(false);
        expect(await blobRow(sha(oldOrphan))).toBeNull();
        expect(await stored(sha(youngOrphan))).toBe(true);
        expect(await storage.stat(`uploads/${oldUpload}`)).toBeNull();
        expect(await storage.stat(`uploads/${legacyUpload}/data`)).toBeNull();
        expect(await storage.stat(`uploads/${youngUpload}`)).not.toBeNull();
        expect(await storage.stat(`uploads/${session.id}`)).not.toBeNull();
        expect(await stored(sha(kept.layers[0]))).toBe(true);
      },
      SLOW,
    );
  });
});

describe('online garbage collection on S3 storage (S3 emulated by s3rver)', () => {
  let s3: EmulatedS3;
  let reg: TestRegistry;

  beforeAll(async () => {
    s3 = await startEmulatedS3();
    reg = await startTestRegistry({ storage: s3.driver() });
  }, SLOW);
  afterAll(async () => {
    await reg?.close();
    await s3?.stop();
  }, SLOW);

  it(
    'deletes unreferenced blobs, blob objects with no row and upload objects with no session, nested as they are',
    async () => {
      const storage = s3.driver();
      const client = new GcTestClient(reg.url);
      const kept = await client.pushImage('lib/app', 'v1', randomImage());
      const garbage = await client.pushBlob('lib/app', randomBytes(1200));
      const orphan = randomBytes(900);
      await storage.putContent(blobPath(sha(orphan)), orphan);
      const upload = randomUUID();
      const legacyUpload = randomUUID();
      await storage.putContent(`uploads/${upload}`, randomBytes(100));
      await storage.putContent(`uploads/${legacyUpload}/data`, randomBytes(50));
      await ageEverything(reg.dataSource, 2);
      const collector = new GarbageCollector(reg.dataSource, reg.repository, storage);

      // The objects were written just now: inside an hour's window they are kept.
      const windowed = await collector.run({ ...dry, timeWindowHours: 1 }, gcContext());
      expect(windowed).toMatchObject({ blobsDeleted: 1, orphanFiles: 0, uploadDirs: 0 });
      const dryRun = await collector.run({ ...dry, timeWindowHours: 0 }, gcContext());
      expect(dryRun).toMatchObject({
        blobsDeleted: 1,
        bytesFreed: 1200,
        orphanFiles: 1,
        orphanBytes: 900,
        uploadDirs: 2,
      });
      s3.requests.length = 0;
      const result = await collector.run({ ...real, timeWindowHours: 0 }, gcContext());
      expect(freed(result)).toEqual(freed(dryRun));
      // Blob objects go in DeleteObjects requests (POST ?delete), never one DeleteObject each, and the listing's sizes
      // and times are used: no HeadObject per object.
      const blobRequests = s3.requests.filter((r) => r.includes('/blobs/'));
      expect(blobRequests.filter((r) => r.startsWith('DELETE ') || r.startsWith('HEAD '))).toEqual([]);
      // One for the sweep's batch, one for the orphan, one for what the legacy upload folder held.
      expect(s3.requests.filter((r) => r.startsWith('POST ') && /[?&]delete(=|&|$)/.test(r))).toHaveLength(3);
      expect(await storage.stat(blobPath(garbage))).toBeNull();
      expect(await storage.stat(blobPath(sha(orphan)))).toBeNull();
      expect(await storage.stat(`uploads/${upload}`)).toBeNull();
      expect(await storage.stat(`uploads/${legacyUpload}/data`)).toBeNull();
      for (const blob of [kept.config, ...kept.layers]) expect(await storage.stat(blobPath(sha(blob)))).not.toBeNull();
      expect(await danglingReferences(reg.dataSource, storage)).toEqual([]);
    },
    SLOW,
  );
});
