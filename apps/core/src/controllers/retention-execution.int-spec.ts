import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ProjectRole } from '@wharf/auth';
import { redisConnection } from '@wharf/config';
import { ExecutionRepository } from '@wharf/db';
import { JobHandlerRegistry, JobName, JobRunner } from '@wharf/jobs';
import { DataSource } from 'typeorm';
import { RetentionExecutionService } from '../services/retention-execution.service.js';
import { ScheduleService } from '../services/schedule.service.js';
import { type ArtifactFixtures, type Pushed, type TestUser, artifactFixtures } from '../testing/artifact-fixtures.js';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { type Credentials, type TestCore, type TestResponse, startTestCore } from '../testing/test-core.js';

interface Execution {
  id: number;
  policy_id: number;
  start_time: string;
  end_time: string;
  status: string;
  trigger: string;
  dry_run: boolean;
}

interface RetentionTask {
  id: number;
  execution_id: number;
  repository: string;
  job_id: string;
  status: string;
  status_code: number;
  status_revision: number;
  start_time: string;
  end_time: string;
  total: number;
  retained: number;
}

interface ErrorBody {
  errors: { code: string; message: string }[];
}

// A real server, PostgreSQL, Redis and a worker that runs the jobs, as jobservice would.
jest.setTimeout(60_000);

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('retention executions API', () => {
  let core: TestCore;
  let fx: ArtifactFixtures;
  let contract: HarborContract;
  let worker: JobRunner | undefined;
  let guest: TestUser;
  let counter = 0;

  function api<T = unknown>(method: string, path: string, auth: Credentials | undefined = core.admin, body?: unknown) {
    return core.request<T>(method, `/api/v2.0${path}`, { auth, body });
  }

  function message(response: TestResponse): string {
    return (response.body as ErrorBody).errors[0]?.message ?? '';
  }

  /** Runs the retention jobs in this process, as jobservice does: its own runner on the server's queues. */
  async function startWorker(): Promise<void> {
    const dataSource = core.server.app.get(DataSource);
    worker = new JobRunner({
      connection: redisConnection(core.config, core.config.redis.jobserviceDb),
      prefix: core.jobPrefix,
      tasks: new ExecutionRepository(dataSource),
      stopPollMs: 200,
    });
    await worker.start(
      JobHandlerRegistry.bind([core.server.app.get(RetentionExecutionService)], { jobs: [JobName.Retention] }),
    );
  }

  /** A project with a policy keeping the newest artifact of each repository; answers their ids. */
  async function setUp(rules?: unknown[]): Promise<{ projectId: number; name: string; policyId: number }> {
    const project = await fx.project(`runs-${++counter}`);
    await fx.member(project.projectId, guest.userId, ProjectRole.Guest);
    const response = await api('POST', '/retentions', core.admin, {
      algorithm: 'or',
      rules: rules ?? [
        {
          action: 'retain',
          template: 'latestPushedK',
          params: { latestPushedK: 1 },
          tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: '**' }],
          scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] },
        },
      ],
      trigger: { kind: 'Schedule', settings: { cron: '' } },
      scope: { level: 'project', ref: project.projectId },
    });
    expect(response.status).toBe(201);
    return { ...project, policyId: Number(response.headers.get('location')?.split('/').pop()) };
  }

  async function push(repository: string, tag: string): Promise<Pushed> {
    const image = await fx.image(repository, { tag });
    // Each push a second after the one before: Harbor orders pushes by the second.
    const pushedAt = new Date(Date.UTC(2030, 0, 1, 0, 0, ++counter));
    await fx.dataSource.query(`UPDATE registry_manifest SET created_at = $2 WHERE digest = $1`, [
      image.digest,
      pushedAt,
    ]);
    await fx.dataSource.query(
      `UPDATE registry_tag SET updated_at = $2 WHERE name = $1 AND repository_id =
         (SELECT id FROM registry_repository WHERE name = $3)`,
      [tag, pushedAt, repository],
    );
    return image;
  }

  async function trigger(policyId: number, dryRun: boolean): Promise<number> {
    const response = await api('POST', `/retentions/${policyId}/executions`, core.admin, { dry_run: dryRun });
    expect(response.status).toBe(201);
    const location = response.headers.get('location') ?? '';
    expect(location).toMatch(new RegExp(`^/api/v2\\.0/retentions/${policyId}/executions/[0-9]+$`));
    return Number(location.split('/').pop());
  }

  async function execution(policyId: number, executionId: number): Promise<Execution | undefined> {
    const response = await api<Execution[]>('GET', `/retentions/${policyId}/executions?page_size=100`);
    return response.body.find((e) => e.id === executionId);
  }

  async function finished(policyId: number, executionId: number): Promise<Execution> {
    await waitFor(
      async () => ['Success', 'Error', 'Stopped'].includes((await execution(policyId, executionId))?.status ?? ''),
      `execution ${executionId}`,
    );
    return (await execution(policyId, executionId))!;
  }

  async function tasksOf(policyId: number, executionId: number): Promise<RetentionTask[]> {
    const response = await api<RetentionTask[]>('GET', `/retentions/${policyId}/executions/${executionId}/tasks`);
    expect(response.status).toBe(200);
    return response.body;
  }

  async function tagsIn(repository: string): Promise<string[]> {
    const rows = await fx.dataSource.query<{ name: string }[]>(
      `SELECT t.name FROM registry_tag t JOIN registry_repository r ON r.id = t.repository_id WHERE r.name = $1
        ORDER BY t.name`,
      [repository],
    );
    return rows.map((r) => r.name);
  }

  beforeAll(async () => {
    core = await startTestCore();
    fx = artifactFixtures(core);
    contract = await harborContract();
    guest = await fx.user('runs-guest');
  });

  afterEach(async () => {
    await worker?.close();
    worker = undefined;
  });

  afterAll(async () => {
    await core.close();
  });

  it('runs a dry run as a task per repository, with counts and a log, and deletes nothing', async () => {
    const { name, policyId } = await setUp();
    await push(`${name}/app`, 'old');
    const newest = await push(`${name}/app`, 'new');
    await push(`${name}/team/web`, 'only');
    await startWorker();
    const executionId = await trigger(policyId, true);

    const run = await finished(policyId, executionId);
    contract.assertValid('RetentionExecution', run);
    expect(run).toMatchObject({
      id: executionId,
      policy_id: policyId,
      status: 'Success',
      trigger: 'MANUAL',
      dry_run: true,
    });
    expect(Date.parse(run.end_time)).toBeGreaterThanOrEqual(Date.parse(run.start_time));

    const tasks = await tasksOf(policyId, executionId);
    for (const task of tasks) contract.assertValid('RetentionExecutionTask', task);
    expect(tasks.map((t) => [t.repository, t.status, t.status_code, t.total, t.retained])).toEqual([
      ['app', 'Success', 3, 2, 1],
      ['team/web', 'Success', 3, 1, 1],
    ]);
    expect(tasks[0]).toMatchObject({ execution_id: executionId, job_id: expect.stringMatching(/.+/) });

    const log = await api<string>('GET', `/retentions/${policyId}/executions/${executionId}/tasks/${tasks[0].id}`);
    expect(log.status).toBe(200);
    expect(log.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(log.text).toContain(`Repository: ${name}/app`);
    expect(log.text).toContain('Dry run: true');
    expect(log.text).toMatch(new RegExp(`\\| ${newest.digest} \\| new .*\\| RETAIN +\\|`));
    expect(log.text).toMatch(/\| old .*\| DEL +\|/);
    expect(await tagsIn(`${name}/app`)).toEqual(['new', 'old']);
  });

  it('deletes what the policy does not retain in a real run', async () => {
    const { name, policyId } = await setUp();
    await push(`${name}/app`, 'v1');
    await push(`${name}/app`, 'v2');
    await push(`${name}/app`, 'v3');
    await startWorker();
    const executionId = await trigger(policyId, false);
    expect(await finished(policyId, executionId)).toMatchObject({ status: 'Success', dry_run: false });
    expect((await tasksOf(policyId, executionId)).map((t) => [t.total, t.retained])).toEqual([[3, 1]]);
    expect(await tagsIn(`${name}/app`)).toEqual(['v3']);
  });

  it('ends a run with nothing in scope at once, without tasks', async () => {
    const { policyId } = await setUp([]);
    const executionId = await trigger(policyId, false);
    expect(await execution(policyId, executionId)).toMatchObject({ status: 'Success' });
    expect(await tasksOf(policyId, executionId)).toEqual([]);
  });

  it('stops a run: its waiting tasks never run and nothing is deleted', async () => {
    const { name, policyId } = await setUp();
    await push(`${name}/app`, 'a');
    await push(`${name}/app`, 'b');
    const executionId = await trigger(policyId, false);
    expect((await tasksOf(policyId, executionId)).map((t) => t.status)).toEqual(['Pending']);
    const stop = await api('PATCH', `/retentions/${policyId}/executions/${executionId}`, core.admin, {
      action: 'stop',
    });
    expect(stop.status).toBe(200);
    expect(await execution(policyId, executionId)).toMatchObject({ status: 'Stopped' });
    await startWorker();
    // A later run shows the worker is taking jobs; the stopped one was not among them.
    const later = await trigger(policyId, true);
    await finished(policyId, later);
    expect((await tasksOf(policyId, executionId)).map((t) => t.status)).toEqual(['Stopped']);
    expect(await tagsIn(`${name}/app`)).toEqual(['a', 'b']);
  });

  it("runs a policy on its trigger's schedule, with trigger SCHEDULE, and drops the schedule with the cron or the policy", async () => {
    const { projectId, name, policyId } = await setUp();
    await push(`${name}/app`, 'v1');
    await push(`${name}/app`, 'v2');
    const policy = (await api<Record<string, unknown>>('GET', `/retentions/${policyId}`)).body;
    const withCron = { ...policy, trigger: { kind: 'Schedule', settings: { cron: '0 0 3 * * *' } } };
    expect((await api('PUT', `/retentions/${policyId}`, core.admin, withCron)).status).toBe(200);
    const schedules = core.server.app.get(ScheduleService);
    const schedule = await schedules.get({ vendorType: 'RETENTION', vendorId: policyId });
    expect(schedule).toMatchObject({ cronType: 'Custom', cron: '0 0 3 * * *' });

    await startWorker();
    await schedules.fire(
      { scheduleId: schedule!.id },
      { id: 'fired', attempt: 1, signal: new AbortController().signal, log: () => Promise.resolve() },
    );
    const runs = await api<Execution[]>('GET', `/retentions/${policyId}/executions`);
    expect(runs.body).toHaveLength(1);
    expect(runs.body[0]).toMatchObject({ trigger: 'SCHEDULE', dry_run: false });
    expect((await finished(policyId, runs.body[0].id)).status).toBe('Success');

    const withoutCron = { ...policy, trigger: { kind: 'Schedule', settings: { cron: '' } } };
    expect((await api('PUT', `/retentions/${policyId}`, core.admin, withoutCron)).status).toBe(200);
    expect(await schedules.get({ vendorType: 'RETENTION', vendorId: policyId })).toBeUndefined();
    expect((await api('PUT', `/retentions/${policyId}`, core.admin, withCron)).status).toBe(200);
    expect((await api('DELETE', `/retentions/${policyId}`)).status).toBe(200);
    expect(await schedules.get({ vendorType: 'RETENTION', vendorId: policyId })).toBeUndefined();
    expect(projectId).toBeGreaterThan(0);
  });

  it('pages the runs of a policy, newest first', async () => {
    const { policyId } = await setUp([]);
    const ids = [await trigger(policyId, true), await trigger(policyId, false), await trigger(policyId, true)];
    const page = await api<Execution[]>('GET', `/retentions/${policyId}/executions?page=1&page_size=2`);
    expect(page.headers.get('x-total-count')).toBe('3');
    expect(page.body.map((e) => e.id)).toEqual([ids[2], ids[1]]);
    const next = await api<Execution[]>('GET', `/retentions/${policyId}/executions?page=2&page_size=2`);
    expect(next.body.map((e) => [e.id, e.dry_run])).toEqual([[ids[0], true]]);
  });

  it('deletes the ended runs of a policy with the policy', async () => {
    const { policyId } = await setUp([]);
    const executionId = await trigger(policyId, true);
    const executions = core.server.app.get(ExecutionRepository);
    expect((await executions.getExecution(executionId))?.status).toBe('Success');
    expect((await api('DELETE', `/retentions/${policyId}`)).status).toBe(200);
    expect(await executions.getExecution(executionId)).toBeUndefined();
  });

  it('refuses another action than stop, runs of another policy and callers without the permission', async () => {
    const { policyId } = await setUp([]);
    const other = await setUp([]);
    const executionId = await trigger(policyId, true);
    const start = await api('PATCH', `/retentions/${policyId}/executions/${executionId}`, core.admin, {
      action: 'start',
    });
    expect(start.status).toBe(400);
    expect(message(start)).toContain('"stop"');
    expect(
      (await api('PATCH', `/retentions/${other.policyId}/executions/${executionId}`, core.admin, { action: 'stop' }))
        .status,
    ).toBe(404);
    expect((await api('GET', `/retentions/${other.policyId}/executions/${executionId}/tasks`)).status).toBe(404);
    expect((await api('GET', `/retentions/${policyId}/executions/${executionId}/tasks/999999`)).status).toBe(404);
    expect((await api('POST', `/retentions/${policyId}/executions`, guest, { dry_run: true })).status).toBe(403);
    expect((await api('GET', `/retentions/${policyId}/executions`, guest)).status).toBe(403);
    expect((await api('POST', '/retentions/999999/executions', core.admin, { dry_run: true })).status).toBe(404);
    expect((await api<Execution[]>('GET', `/retentions/${policyId}/executions`)).body).toHaveLength(1);
  });
});
