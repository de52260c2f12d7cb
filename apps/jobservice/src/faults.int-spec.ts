import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ExecutionRepository, createDataSource, runMigrations } from '@wharf/db';
import { JobName, JobRunner, QueueName } from '@wharf/jobs';
import {
  type PrivateRedis,
  type TestDatabase,
  createTestDatabase,
  externalDatabaseSection,
  startPrivateRedis,
  toYaml,
} from '@wharf/testkit';
import { Redis } from 'ioredis';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'apps/cli/dist/main.js');
const JOBSERVICE_DB = 2;

interface Jobservice {
  child: ChildProcess;
  output: () => string;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Real `wharf start jobservice` processes on a Redis of the test's own, killed and flushed as a host crash or a Redis
 * loss would: no task is left Running for ever, and none is lost.
 */
describe('jobservice processes that die, and a Redis that forgets', () => {
  let database: TestDatabase;
  let redis: PrivateRedis;
  let dir: string;
  let configPath: string;
  let dataSource: ReturnType<typeof createDataSource>;
  let executions: ExecutionRepository;
  let producer: JobRunner;
  const started: Jobservice[] = [];

  async function startJobservice(): Promise<Jobservice> {
    const child = spawn(process.execPath, [CLI, 'start', 'jobservice', '--config', configPath], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    const service = { child, output: () => text };
    started.push(service);
    await until(
      'the jobservice to be ready',
      () => Promise.resolve(text.includes('"msg":"jobservice ready"') ? true : undefined),
      30_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${text}`);
    });
    return service;
  }

  async function launchPurge(): Promise<{ taskId: number; jobId: string }> {
    const execution = await executions.createExecution({ vendorType: 'UPLOAD_PURGE', trigger: 'MANUAL' });
    const payload = { ageMs: 60_000, dryRun: true };
    const task = (await executions.createTask(execution.id, { job: { name: JobName.UploadPurge, data: payload } }))!;
    const { id } = await producer.enqueue(JobName.UploadPurge, { ...payload, taskId: task.id });
    await executions.setTaskJobId(task.id, id);
    return { taskId: task.id, jobId: id };
  }

  beforeAll(async () => {
    database = await createTestDatabase('wharf_jobservice_faults');
    dataSource = createDataSource({ ...database, database: database.database });
    await dataSource.initialize();
    await runMigrations(dataSource);
    executions = new ExecutionRepository(dataSource);
    redis = await startPrivateRedis();
    dir = mkdtempSync(join(tmpdir(), 'wharf-jobservice-faults-'));
    configPath = join(dir, 'harbor.yml');
    writeFileSync(
      configPath,
      toYaml({
        hostname: 'registry.local',
        harbor_admin_password: 'Admin-Passw0rd',
        data_volume: join(dir, 'data'),
        external_database: externalDatabaseSection(database),
        external_redis: { host: `127.0.0.1:${redis.port}`, jobservice_db_index: JOBSERVICE_DB },
        log: { level: 'info' },
        jobservice: { worker_lost_after: '2s' },
      }),
    );
    producer = new JobRunner({ connection: { host: '127.0.0.1', port: redis.port, db: JOBSERVICE_DB } });
  });

  afterAll(async () => {
    for (const { child } of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await producer?.close();
    await dataSource?.destroy();
    await redis?.stop();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a task again in the other process when the one running it is killed', async () => {
    const a = await startJobservice();
    const b = await startJobservice();
    // The purge waits on this lock, so it is mid-run when its process dies.
    const holder = dataSource.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    await holder.query('LOCK TABLE registry_upload IN ACCESS EXCLUSIVE MODE');
    try {
      const { taskId, jobId } = await launchPurge();
      const first = await until(
        'the purge to start',
        async () => {
          const task = await executions.getTask(taskId);
          return task?.status === 'Running' ? task : undefined;
        },
        15_000,
      );
      const job = await producer.queue(QueueName.Maintenance).getJob(jobId);
      const pids = [a, b].map(({ child }) => child.pid!);
      const runningPid = Number(job!.processedBy!.split(':').pop());
      expect(pids).toContain(runningPid);
      const [victim, survivor] = runningPid === pids[0] ? [a, b] : [b, a];
      victim.child.kill('SIGKILL');

      // BullMQ's stalled-job check gives the job to the survivor once the victim's lock lapses (worker_lost_after).
      const second = await until(
        'the purge to run again',
        async () => {
          const task = await executions.getTask(taskId);
          return task && task.runCount === 2 ? task : undefined;
        },
        15_000,
      );
      expect(second.status).toBe('Running');
      expect(second.statusRevision).toBeGreaterThan(first.statusRevision);
      const again = await producer.queue(QueueName.Maintenance).getJob(jobId);
      expect(again!.processedBy).toMatch(new RegExp(`:${survivor.child.pid}$`));

      await holder.commitTransaction();
      await until(
        'the purge to succeed',
        async () => ((await executions.getTask(taskId))?.status === 'Success' ? true : undefined),
        15_000,
      );
      expect((await executions.taskLog(taskId))!.text).toBe(
        'the worker running this task was lost before it finished; running it again\n' +
          'would remove 0 abandoned upload sessions and 0 uploads with no session\n',
      );
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      await holder.release();
    }
  }, 60_000);

  it('queues again, at the next start, the tasks whose jobs a flushed Redis lost', async () => {
    for (const { child } of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    const { taskId, jobId } = await launchPurge();
    const admin = new Redis({ host: '127.0.0.1', port: redis.port });
    await admin.flushall();
    admin.disconnect();

    const service = await startJobservice();
    await until(
      'the task to run from its recorded job',
      async () => ((await executions.getTask(taskId))?.status === 'Success' ? true : undefined),
      15_000,
    );
    const task = (await executions.getTask(taskId))!;
    expect(task.jobId).not.toBe(jobId);
    expect((await executions.taskLog(taskId))!.text).toContain(
      `its job ${jobId} was lost from the queue; queued again as ${task.jobId}\n`,
    );
    expect(service.output()).toContain('tasks whose jobs were lost: queued again, or recorded as failed');
  }, 60_000);
});
