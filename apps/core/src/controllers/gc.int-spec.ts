import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { redisConnection } from '@wharf/config';
import { ExecutionRepository } from '@wharf/db';
import { JobHandlerRegistry, JobName, JobRunner } from '@wharf/jobs';
import { digestOf, requireDigest } from '@wharf/oci';
import { blobDataPath } from '@wharf/registry';
import { DataSource } from 'typeorm';
import { ScheduleService } from '../services/schedule.service.js';
import { SystemJobService } from '../services/system-job.service.js';
import { type ArtifactFixtures, artifactFixtures } from '../testing/artifact-fixtures.js';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type Credentials, type TestCore, startTestCore } from '../testing/test-core.js';

interface Run {
  id: number;
  job_name: string;
  job_kind: string;
  job_parameters: string;
  job_status: string;
}

// A real server, PostgreSQL, Redis, filesystem storage and a worker that runs the jobs, as jobservice would.
jest.setTimeout(90_000);

describe('garbage collection API', () => {
  let core: TestCore;
  let fx: ArtifactFixtures;
  let contract: HarborContract;
  let worker: JobRunner;

  const api = <T = unknown>(method: string, path: string, auth: Credentials | undefined = core.admin, body?: unknown) =>
    core.request<T>(method, `/api/v2.0${path}`, { auth, body });
  const stored = async (digest: string) => (await fx.storage.stat(blobDataPath(requireDigest(digest)))) !== null;

  async function finished(id: number): Promise<Run> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const response = await api<Run>('GET', `/system/gc/${id}`);
      expect(response.status).toBe(200);
      if (['Success', 'Error', 'Stopped'].includes(response.body.job_status)) return response.body;
      if (Date.now() > deadline) throw new Error(`run ${id} still ${response.body.job_status}`);
      await sleep(100);
    }
  }

  async function runNow(parameters: Record<string, unknown>): Promise<Run> {
    const response = await api('POST', '/system/gc/schedule', core.admin, { schedule: { type: 'Manual' }, parameters });
    expect(response.status).toBe(201);
    return finished(Number(response.headers.get('location')?.split('/').at(-1)));
  }

  beforeAll(async () => {
    core = await startTestCore();
    fx = artifactFixtures(core);
    contract = await harborContract();
    worker = new JobRunner({
      connection: redisConnection(core.config, core.config.redis.jobserviceDb),
      prefix: core.jobPrefix,
      tasks: new ExecutionRepository(core.server.app.get(DataSource)),
      stopPollMs: 200,
    });
    await worker.start(
      JobHandlerRegistry.bind([core.server.app.get(SystemJobService), core.server.app.get(ScheduleService)], {
        jobs: [JobName.GarbageCollection],
      }),
    );
  });

  afterAll(async () => {
    await worker?.close();
    await core?.close();
  });

  it('frees the layers only a deleted artifact held, keeps the shared ones, and a dry run first names the same', async () => {
    await fx.project('gc-api', { public: false });
    const shared = randomBytes(2048);
    const own = randomBytes(4096);
    const kept = await fx.image('gc-api/app', { tag: 'kept', layers: [shared] });
    const doomed = await fx.image('gc-api/app', { tag: 'doomed', layers: [shared, own] });
    const deleted = await api('DELETE', `/projects/gc-api/repositories/app/artifacts/${doomed.digest}`);
    expect(deleted.status).toBe(200);
    expect(await stored(digestOf(own))).toBe(true);

    const dry = await runNow({ dry_run: true, time_window: 0, workers: 2 });
    expect(dry).toMatchObject({ job_name: 'GARBAGE_COLLECTION', job_kind: 'MANUAL', job_status: 'Success' });
    contract.assertValid('GCHistory', dry);
    const dryLog = await api<string>('GET', `/system/gc/${dry.id}/log`);
    expect(dryLog.status).toBe(200);
    expect(dryLog.text).toMatch(/dry run/i);
    expect(await stored(digestOf(own))).toBe(true);

    const real = await runNow({ dry_run: false, time_window: 0, workers: 2, delete_untagged: true });
    expect(real.job_status).toBe('Success');
    expect(JSON.parse(real.job_parameters)).toEqual({
      dry_run: false,
      time_window: 0,
      workers: 2,
      delete_untagged: true,
    });
    expect(await stored(digestOf(own))).toBe(false);
    expect(await stored(digestOf(shared))).toBe(true);
    const pulled = await fx.token(core.admin, 'repository:gc-api/app:pull');
    const blob = await core.request('GET', `/v2/gc-api/app/blobs/${digestOf(shared)}`, {
      headers: { authorization: `Bearer ${pulled}` },
    });
    expect(blob.status).toBe(200);
    expect((await api('GET', `/projects/gc-api/repositories/app/artifacts/${kept.digest}`)).status).toBe(200);

    const history = await api<Run[]>('GET', '/system/gc?page_size=2');
    expect(history.body.map((r) => r.id)).toEqual([real.id, dry.id]);
  });

  it.each([
    [{ workers: 0 }, 'workers'],
    [{ workers: 11 }, 'workers'],
    [{ time_window: -1 }, 'time_window'],
    [{ delete_untagged: 'yes' }, 'delete_untagged'],
    [{ redis_url: 'x' }, 'redis_url'],
  ])('refuses the parameters %j with 400', async (parameters, named) => {
    const response = await api<{ errors: { message: string }[] }>('POST', '/system/gc/schedule', core.admin, {
      schedule: { type: 'Manual' },
      parameters,
    });
    expect(response.status).toBe(400);
    expect(response.body.errors[0]?.message).toContain(named);
  });

  it('keeps a weekly schedule with its parameters until it is set to None', async () => {
    const parameters = { delete_untagged: true, workers: 3 };
    expect(
      (await api('PUT', '/system/gc/schedule', core.admin, { schedule: { type: 'Weekly' }, parameters })).status,
    ).toBe(200);
    const weekly = await api<{ schedule: { type: string; cron: string; next_scheduled_time: string } }>(
      'GET',
      '/system/gc/schedule',
    );
    expect(weekly.body).toMatchObject({ schedule: { type: 'Weekly', cron: '0 0 0 * * 0' }, parameters });
    expect(new Date(weekly.body.schedule.next_scheduled_time).getUTCDay()).toBe(0);
    expect((await api('PUT', '/system/gc/schedule', core.admin, { schedule: { type: 'None' } })).status).toBe(200);
    expect((await api('GET', '/system/gc/schedule')).body).toEqual({ schedule: { type: 'None' } });
  });
});
