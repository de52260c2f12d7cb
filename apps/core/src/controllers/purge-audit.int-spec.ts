import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { redisConnection } from '@wharf/config';
import { ExecutionRepository } from '@wharf/db';
import { JobHandlerRegistry, JobName, JobRunner } from '@wharf/jobs';
import { DataSource } from 'typeorm';
import { ScheduleService } from '../services/schedule.service.js';
import { SystemJobService } from '../services/system-job.service.js';
import { type ArtifactFixtures, type TestUser, artifactFixtures } from '../testing/artifact-fixtures.js';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type Credentials, type TestCore, type TestResponse, startTestCore } from '../testing/test-core.js';

interface Run {
  id: number;
  job_name: string;
  job_kind: string;
  job_parameters: string;
  job_status: string;
  deleted: boolean;
  creation_time: string;
  update_time: string;
}

// A real server, PostgreSQL, Redis and a worker that runs the jobs, as jobservice would.
jest.setTimeout(60_000);

describe('audit log purge API', () => {
  let core: TestCore;
  let fx: ArtifactFixtures;
  let contract: HarborContract;
  let worker: JobRunner;
  let plain: TestUser;

  const api = <T = unknown>(method: string, path: string, auth: Credentials | undefined = core.admin, body?: unknown) =>
    core.request<T>(method, `/api/v2.0${path}`, { auth, body });
  const message = (response: TestResponse) =>
    (response.body as { errors: { message: string }[] }).errors[0]?.message ?? '';
  const dataSource = () => core.server.app.get(DataSource);
  const auditRows = async (resourceLike: string) =>
    (
      await dataSource().query<{ resource: string }[]>(
        `SELECT resource FROM audit_log WHERE resource LIKE $1 ORDER BY id`,
        [resourceLike],
      )
    ).map((r) => r.resource);

  async function finished(id: number): Promise<Run> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const response = await api<Run>('GET', `/system/purgeaudit/${id}`);
      expect(response.status).toBe(200);
      if (['Success', 'Error', 'Stopped'].includes(response.body.job_status)) return response.body;
      if (Date.now() > deadline) throw new Error(`run ${id} still ${response.body.job_status}`);
      await sleep(50);
    }
  }

  async function runNow(parameters: Record<string, unknown>): Promise<number> {
    const response = await api('POST', '/system/purgeaudit/schedule', core.admin, {
      schedule: { type: 'Manual' },
      parameters,
    });
    expect(response.status).toBe(201);
    const location = response.headers.get('location') ?? '';
    expect(location).toMatch(/^\/api\/v2\.0\/system\/purgeaudit\/\d+$/);
    return Number(location.split('/').at(-1));
  }

  beforeAll(async () => {
    core = await startTestCore();
    fx = artifactFixtures(core);
    contract = await harborContract();
    plain = await fx.user('purge-plain');
    worker = new JobRunner({
      connection: redisConnection(core.config, core.config.redis.jobserviceDb),
      prefix: core.jobPrefix,
      tasks: new ExecutionRepository(dataSource()),
      stopPollMs: 200,
    });
    await worker.start(
      JobHandlerRegistry.bind([core.server.app.get(SystemJobService), core.server.app.get(ScheduleService)], {
        jobs: [JobName.PurgeAuditLog],
      }),
    );
  });

  afterAll(async () => {
    await worker?.close();
    await core?.close();
  });

  it('purges the old records of the listed types in a run recorded with its parameters and log; a dry run first counts them', async () => {
    await dataSource().query(
      `INSERT INTO audit_log (operation, resource_type, resource, username, op_time) VALUES
         ('pull', 'artifact', 'purge-a/old-pull', 'u', now() - interval '3 days'),
         ('create', 'artifact', 'purge-a/old-push', 'u', now() - interval '3 days'),
         ('pull', 'artifact', 'purge-a/new-pull', 'u', now())`,
    );
    const parameters = { audit_retention_hour: 48, include_event_types: 'pull_artifact', dry_run: true };
    const dry = await finished(await runNow(parameters));
    expect(dry.job_status).toBe('Success');
    expect(await auditRows('purge-a/%')).toHaveLength(3);
    const dryLog = await api<string>('GET', `/system/purgeaudit/${dry.id}/log`);
    expect(dryLog.status).toBe(200);
    expect(dryLog.text).toContain('1 audit record(s) would be purged');

    const real = await finished(await runNow({ ...parameters, dry_run: false }));
    expect(real).toMatchObject({
      job_name: 'PURGE_AUDIT_LOG',
      job_kind: 'MANUAL',
      job_status: 'Success',
      deleted: false,
    });
    expect(JSON.parse(real.job_parameters)).toEqual({ ...parameters, dry_run: false });
    contract.assertValid('ExecHistory', real);
    expect(await auditRows('purge-a/%')).toEqual(['purge-a/old-push', 'purge-a/new-pull']);
    expect((await api<string>('GET', `/system/purgeaudit/${real.id}/log`)).text).toContain('purged 1 audit record(s)');

    const history = await api<Run[]>('GET', '/system/purgeaudit?page_size=2');
    expect(history.status).toBe(200);
    expect(history.body.map((r) => r.id)).toEqual([real.id, dry.id]);
    for (const run of history.body) contract.assertValid('ExecHistory', run);
  });

  it.each([
    [{ audit_retention_hour: 0, include_event_types: 'pull' }, 'audit_retention_hour'],
    [{ audit_retention_hour: 24, include_event_types: 'fly' }, 'include_event_types'],
    [{ include_event_types: 'pull' }, 'audit_retention_hour'],
    [{ audit_retention_hour: 24, include_event_types: 'pull', other: true }, 'other'],
  ])('refuses the parameters %j with 400 and runs nothing', async (parameters, named) => {
    const before = await api<Run[]>('GET', '/system/purgeaudit');
    const response = await api('POST', '/system/purgeaudit/schedule', core.admin, {
      schedule: { type: 'Manual' },
      parameters,
    });
    expect(response.status).toBe(400);
    expect(message(response)).toContain(named);
    expect((await api<Run[]>('GET', '/system/purgeaudit')).headers.get('x-total-count')).toBe(
      before.headers.get('x-total-count'),
    );
  });

  it('answers 404 for a run that is not a purge and 400 for an id that is not one', async () => {
    expect((await api('GET', '/system/purgeaudit/999999')).status).toBe(404);
    expect((await api('GET', '/system/purgeaudit/999999/log')).status).toBe(404);
    expect((await api('PUT', '/system/purgeaudit/999999')).status).toBe(404);
    expect((await api('GET', '/system/purgeaudit/abc')).status).toBe(400);
    const other = await core.server.app
      .get(ExecutionRepository)
      .createExecution({ vendorType: 'RETENTION', trigger: 'MANUAL' });
    expect((await api('GET', `/system/purgeaudit/${other.id}`)).status).toBe(404);
  });

  it('stops a run that has not ended, and stopping an ended one changes nothing', async () => {
    await worker.close();
    try {
      const id = await runNow({ audit_retention_hour: 24, include_event_types: 'pull' });
      expect((await api<Run>('GET', `/system/purgeaudit/${id}`)).body.job_status).toMatch(/Pending|Running/);
      const conflict = await api('POST', '/system/purgeaudit/schedule', core.admin, {
        schedule: { type: 'Manual' },
        parameters: { audit_retention_hour: 24, include_event_types: 'pull' },
      });
      expect(conflict.status).toBe(409);
      expect((await api('PUT', `/system/purgeaudit/${id}`)).status).toBe(200);
      expect((await api<Run>('GET', `/system/purgeaudit/${id}`)).body.job_status).toBe('Stopped');
      expect((await api('PUT', `/system/purgeaudit/${id}`)).status).toBe(200);
      expect((await api<Run>('GET', `/system/purgeaudit/${id}`)).body.job_status).toBe('Stopped');
    } finally {
      worker = new JobRunner({
        connection: redisConnection(core.config, core.config.redis.jobserviceDb),
        prefix: core.jobPrefix,
        tasks: new ExecutionRepository(dataSource()),
        stopPollMs: 200,
      });
      await worker.start(
        JobHandlerRegistry.bind([core.server.app.get(SystemJobService), core.server.app.get(ScheduleService)], {
          jobs: [JobName.PurgeAuditLog],
        }),
      );
    }
  });

  it('keeps a schedule with its parameters, answers its next time, and a scheduled run is one with trigger SCHEDULE', async () => {
    expect((await api('GET', '/system/purgeaudit/schedule')).body).toEqual({ schedule: { type: 'None' } });
    const parameters = { audit_retention_hour: 72, include_event_types: 'pull_artifact,delete' };
    expect(
      (await api('PUT', '/system/purgeaudit/schedule', core.admin, { schedule: { type: 'Daily' }, parameters })).status,
    ).toBe(200);
    const daily = await api<{ id: number; schedule: { type: string; cron: string; next_scheduled_time: string } }>(
      'GET',
      '/system/purgeaudit/schedule',
    );
    expect(daily.body).toMatchObject({ schedule: { type: 'Daily', cron: '0 0 0 * * *' }, parameters });
    const next = new Date(daily.body.schedule.next_scheduled_time);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);
    expect([next.getUTCHours(), next.getUTCMinutes(), next.getUTCSeconds()]).toEqual([0, 0, 0]);

    // A bad cron or bad parameters change nothing.
    for (const body of [
      { schedule: { type: 'Custom', cron: '30 0 * * * *' }, parameters },
      { schedule: { type: 'Custom', cron: '0 61 * * * *' }, parameters },
      { schedule: { type: 'Custom', cron: '0 0 * * *' }, parameters },
      { schedule: { type: 'Weekly' }, parameters: { audit_retention_hour: -1, include_event_types: 'pull' } },
    ]) {
      const refused = await api('PUT', '/system/purgeaudit/schedule', core.admin, body);
      expect(refused.status).toBe(400);
    }
    expect((await api('GET', '/system/purgeaudit/schedule')).body).toMatchObject({ schedule: { type: 'Daily' } });

    // The scheduler's job, as the queue fires it.
    const before = (await api<Run[]>('GET', '/system/purgeaudit?page_size=1')).body[0]?.id ?? 0;
    await core.server.app
      .get(ScheduleService)
      .fire(
        { scheduleId: daily.body.id },
        { id: 'fired', attempt: 1, signal: new AbortController().signal, log: async () => {} },
      );
    const latest = (await api<Run[]>('GET', '/system/purgeaudit?page_size=1')).body[0];
    expect(latest.id).toBeGreaterThan(before);
    expect(latest.job_kind).toBe('SCHEDULE');
    expect(JSON.parse(latest.job_parameters)).toEqual(parameters);
    expect((await finished(latest.id)).job_status).toBe('Success');

    expect((await api('PUT', '/system/purgeaudit/schedule', core.admin, { schedule: { type: 'None' } })).status).toBe(
      200,
    );
    expect((await api('GET', '/system/purgeaudit/schedule')).body).toEqual({ schedule: { type: 'None' } });
  });

  it('is for system administrators only', async () => {
    const asPlain = { username: plain.username, password: plain.password };
    expect((await api('GET', '/system/purgeaudit', asPlain)).status).toBe(403);
    expect(
      (
        await api('POST', '/system/purgeaudit/schedule', asPlain, {
          schedule: { type: 'Manual' },
          parameters: { audit_retention_hour: 24, include_event_types: 'pull' },
        })
      ).status,
    ).toBe(403);
    expect((await core.request('GET', '/api/v2.0/system/purgeaudit')).status).toBe(401);
  });
});
