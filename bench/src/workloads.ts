import { type RegistryProcess } from '@wharf/testkit';
import { type Sizes, type TestData } from './data.js';
import { expectStatus } from './http.js';
import { type WorkloadId } from './options.js';
import { cpuSeconds, storageReadBytes, withMemorySampler } from './proc.js';
import {
  type Descriptor,
  type Target,
  type Timed,
  OCI_MANIFEST,
  ensureBlobFile,
  ensureSmallBlob,
  listAllTags,
  pullBlobs,
  pushChunked,
  pushImage,
  pushMonolithic,
  OCI_LAYER,
} from './registry-ops.js';
import { headLoad } from './head-load.js';
import { wrk } from './wrk.js';

const MiB = 1024 * 1024;
const DATA_REPO = 'bench/data';
const MANIFEST_REPO = 'bench/manifest';
const TAGS_REPO = 'bench/tags';
/** Every repository the workloads use (all in project `bench`, which core mode creates). */
export const WORKLOAD_REPOSITORIES = [DATA_REPO, MANIFEST_REPO, TAGS_REPO];
const ACCEPT_MANIFEST = `${OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json`;

export type Metrics = Record<string, number>;

/** One registry under test during one round, with the CPU it spent moving bytes. */
export interface Side {
  registry: RegistryProcess;
  target: Target;
  transferCpu: { push: { seconds: number; bytes: number }; pull: { seconds: number; bytes: number } };
  /** Bytes the registry fetched from storage (not the page cache) while serving the timed pulls. */
  pullStorageReads: number;
}

export interface Workload {
  id: WorkloadId;
  prepare?(side: Side): Promise<void>;
  run(side: Side): Promise<Metrics>;
}

function mibPerSecond(timed: Timed): number {
  return timed.bytes / MiB / timed.seconds;
}

async function accountCpu(side: Side, kind: 'push' | 'pull', work: () => Promise<Timed>): Promise<Timed> {
  const before = await cpuSeconds(side.registry.pid);
  const timed = await work();
  side.transferCpu[kind].seconds += (await cpuSeconds(side.registry.pid)) - before;
  side.transferCpu[kind].bytes += timed.bytes;
  return timed;
}

async function pullImage(side: Side, tag: string, layers: Descriptor[]): Promise<void> {
  await pushImage(side.target, DATA_REPO, tag, layers);
}

export function workloads(data: TestData, sizes: Sizes): Workload[] {
  const pushWorkload = (id: WorkloadId, work: (side: Side) => Promise<Timed>, sampleMemory = false): Workload => ({
    id,
    run: async (side) => {
      if (!sampleMemory) return { [id]: mibPerSecond(await accountCpu(side, 'push', () => work(side))) };
      const { value, peakBytes } = await withMemorySampler(side.registry.pid, () =>
        accountCpu(side, 'push', () => work(side)),
      );
      return { [id]: mibPerSecond(value), [`rss.${id}`]: peakBytes / MiB };
    },
  });
  const pullWorkload = (
    id: WorkloadId,
    blobs: () => TestData['small'],
    parallel: boolean,
    sampleMemory = false,
  ): Workload => ({
    id,
    prepare: async (side) => {
      const unique = [...new Map(blobs().map((blob) => [blob.digest, blob])).values()];
      const layers: Descriptor[] = [];
      for (const blob of unique) layers.push(await ensureBlobFile(side.target, DATA_REPO, blob));
      // Pulls go through blobs that belong to a tagged image, as a client's would.
      await pullImage(side, id, layers);
    },
    run: async (side) => {
      const work = async () => {
        const readBefore = await storageReadBytes(side.registry.pid);
        const timed = await accountCpu(side, 'pull', () => pullBlobs(side.target, DATA_REPO, blobs(), parallel));
        side.pullStorageReads += (await storageReadBytes(side.registry.pid)) - readBefore;
        return timed;
      };
      if (!sampleMemory) return { [id]: mibPerSecond(await work()) };
      const { value, peakBytes } = await withMemorySampler(side.registry.pid, work);
      return { [id]: mibPerSecond(value), [`rss.${id}`]: peakBytes / MiB };
    },
  });
  const manifestWorkload = (id: WorkloadId, method: 'GET' | 'HEAD'): Workload => ({
    id,
    prepare: async (side) => {
      const layer = await ensureSmallBlob(
        side.target,
        MANIFEST_REPO,
        Buffer.from('manifest benchmark layer'),
        OCI_LAYER,
      );
      await pushImage(side.target, MANIFEST_REPO, 'latest', [layer]);
      await expectStatus(200, method, `${side.target.url}/v2/${MANIFEST_REPO}/manifests/latest`, {
        ...side.target.headers,
        accept: ACCEPT_MANIFEST,
      });
    },
    run: async (side) => {
      const url = `${side.target.url}/v2/${MANIFEST_REPO}/manifests/latest`;
      const headers = { ...side.target.headers, Accept: ACCEPT_MANIFEST };
      const load = { url, headers, connections: sizes.wrkConnections, seconds: sizes.wrkSeconds };
      const result = method === 'GET' ? await wrk({ ...load, method }) : await headLoad(load);
      return { [`${id}.rps`]: result.requestsPerSecond, [`${id}.p99`]: result.p99Ms };
    },
  });

  const repeat = <T>(items: T[], times: number): T[] => Array.from({ length: times }, () => items).flat();

  return [
    pushWorkload('push-1m', (side) => pushMonolithic(side.target, DATA_REPO, data.small, false)),
    pushWorkload('push-64m', (side) => pushMonolithic(side.target, DATA_REPO, [data.medium], false)),
    pushWorkload('push-512m', (side) => pushMonolithic(side.target, DATA_REPO, [data.large], false), true),
    pushWorkload('push-chunked-512m', (side) => pushChunked(side.target, DATA_REPO, data.chunked)),
    pushWorkload('push-concurrent-64m', (side) => pushMonolithic(side.target, DATA_REPO, data.concurrent, true)),
    pullWorkload('pull-1m', () => data.small, false),
    pullWorkload('pull-64m', () => repeat([data.medium], sizes.mediumPullRepeats), false),
    pullWorkload('pull-512m', () => repeat([data.large], sizes.largePullRepeats), false),
    pullWorkload('pull-concurrent-64m', () => repeat([data.medium], sizes.concurrentPulls), true, true),
    manifestWorkload('manifest-get', 'GET'),
    manifestWorkload('manifest-head', 'HEAD'),
    {
      id: 'tags-list',
      prepare: async (side) => {
        const layer = await ensureSmallBlob(side.target, TAGS_REPO, Buffer.from('tags benchmark layer'), OCI_LAYER);
        const width = String(sizes.tagCount - 1).length;
        let next = 0;
        // Distinct manifests per tag, as a CI pipeline leaves behind; 8 at a time keeps set-up short.
        const pusher = async (): Promise<void> => {
          while (next < sizes.tagCount) {
            const n = next++;
            await pushImage(side.target, TAGS_REPO, `build-${String(n).padStart(width, '0')}`, [layer], {
              'org.opencontainers.image.revision': String(n),
            });
          }
        };
        await Promise.all(Array.from({ length: 8 }, pusher));
        const seen = await listAllTags(side.target, TAGS_REPO);
        if (seen !== sizes.tagCount) throw new Error(`${TAGS_REPO} lists ${seen} tags, expected ${sizes.tagCount}`);
      },
      run: async (side) => {
        const times: number[] = [];
        for (let i = 0; i < sizes.tagListRepeats; i++) {
          const began = process.hrtime.bigint();
          const seen = await listAllTags(side.target, TAGS_REPO);
          times.push(Number(process.hrtime.bigint() - began) / 1e6);
          if (seen !== sizes.tagCount) throw new Error(`${TAGS_REPO} lists ${seen} tags, expected ${sizes.tagCount}`);
        }
        times.sort((a, b) => a - b);
        return { 'tags-list': times[Math.floor(times.length / 2)] };
      },
    },
  ];
}
