import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { redisConnection } from '@wharf/config';
import { ExecutionRepository } from '@wharf/db';
import { JobHandlerRegistry, JobName, JobRunner } from '@wharf/jobs';
import { DataSource } from 'typeorm';
import { ScheduleService } from '../services/schedule.service.js';
import { SystemJobService } from '../services/system-job.service.js';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type Credentials, type TestCore, startTestCore } from '../testing/test-core.js';

interface ScheduleTask {
  id: number;
  vendor_type: string;
  vendor_id: number;
  cron: string;
  update_time: string;
}

// A real server, PostgreSQL, Redis and a worker that runs the jobs, as jobservice would.
jest.setTimeout(90_000);

describe('job service dashboard API', () => {
  let core: TestCore;
  let contract: HarborContract;
  let worker: JobRunner;
  let executions: ExecutionRepository;

  const api = <T = unknown>(method: string, path: string, auth: Credentials | undefined = core.admin, body?: unknown) =>
    core.request<T>(method, `/api/v2.0${path}`, { auth, body });

  async function finishedGc(id: number): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const run = await api<{ job_status: string }>('GET', `/system/gc/${id}`);
      if (['Success', 'Error', 'Stopped'].includes(run.body.job_status)) return;
      if (Date.now() > deadline) throw new Error(`run ${id} still ${run.body.job_status}`);
      await sleep(100);
    }
  }

  beforeAll(async () => {
    core = await startTestCore();
    contract = await harborContract();
    executions = new ExecutionRepository(core.server.app.get(DataSource));
    worker = new JobRunner({
      connection: redisConnection(core.config, core.config.redis.jobserviceDb),
      prefix: core.jobPrefix,
      tasks: executions,
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

  it("answers a job's log by the job id its task recorded, as text, and 404 for a job of no task", async () => {
    const started = await api('POST', '/system/gc/schedule', core.admin, {
      schedule: { type: 'Manual' },
      parameters: { dry_run: true, time_window: 0 },
    });
    expect(started.status).toBe(201);
    const runId = Number(started.headers.get('location')?.split('/').at(-1));
    await finishedGc(runId);
    const task = (await executions.listTasks(runId)).items[0];
    expect(task?.jobId).toEqual(expect.any(String));

    const log = await api<string>('GET', `/jobservice/jobs/${task.jobId}/log`);
    expect(log.status).toBe(200);
    expect(log.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(log.text).toMatch(/dry run/i);
    expect(log.text).toBe((await api<string>('GET', `/system/gc/${runId}/log`)).text);

    const unknown = await api<{ errors: { code: string }[] }>('GET', '/jobservice/jobs/no-such-job/log');
    expect(unknown.status).toBe(404);
    expect(unknown.body.errors[0]?.code).toBe('NOT_FOUND');
    expect((await api('GET', '/jobservice/jobs/bad%20id/log')).status).toBe(400);
  });

  it('lists the schedules with their vendor, cron and last change, a page at a time', async () => {
    const weekly = { schedule: { type: 'Weekly' }, parameters: { dry_run: true } };
    expect((await api('PUT', '/system/gc/schedule', core.admin, weekly)).status).toBe(200);
    const daily = {
      schedule: { type: 'Daily' },
      parameters: { audit_retention_hour: 24, include_event_types: 'pull' },
    };
    expect((await api('PUT', '/system/purgeaudit/schedule', core.admin, daily)).status).toBe(200);

    const all = await api<ScheduleTask[]>('GET', '/schedules');
    expect(all.status).toBe(200);
    expect(all.headers.get('x-total-count')).toBe('2');
    for (const item of all.body) contract.assertValid('ScheduleTask', item);
    expect(all.body).toEqual([
      {
        id: expect.any(Number),
        vendor_type: 'GARBAGE_COLLECTION',
        vendor_id: -1,
        cron: '0 0 0 * * 0',
        update_time: expect.any(String),
      },
      {
        id: expect.any(Number),
        vendor_type: 'PURGE_AUDIT_LOG',
        vendor_id: -1,
        cron: '0 0 0 * * *',
        update_time: expect.any(String),
      },
    ]);
    expect(Date.now() - Date.parse(all.body[0].update_time)).toBeLessThan(60_000);

    const second = await api<ScheduleTask[]>('GET', '/schedules?page=2&page_size=1');
    expect(second.body.map((s) => s.vendor_type)).toEqual(['PURGE_AUDIT_LOG']);
    expect(second.headers.get('link')).toContain('rel="prev"');
    expect((await api('GET', '/schedules?page_size=0')).status).toBe(400);

    expect((await api('PUT', '/system/gc/schedule', core.admin, { schedule: { type: 'None' } })).status).toBe(200);
    expect((await api<ScheduleTask[]>('GET', '/schedules')).body.map((s) => s.vendor_type)).toEqual([
      'PURGE_AUDIT_LOG',
    ]);
  });
});
