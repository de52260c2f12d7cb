import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '@wharf/testkit';
import { type DataSource } from 'typeorm';
import { createDataSource, runMigrations } from './data-source.js';
import { type JobStatus } from './execution-status.js';
import { QuerySyntaxError } from './query/query.error.js';
import { ExecutionInputError, ExecutionRepository } from './repositories/execution.repository.js';
import { ExecutionFactory } from './testing/execution.factory.js';

describe('ExecutionRepository against PostgreSQL', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let other: DataSource;
  let repo: ExecutionRepository;
  let factory: ExecutionFactory;

  beforeAll(async () => {
    db = await createTestDatabase('wharf_execution_spec');
    ds = createDataSource({ ...db, database: db.database });
    await ds.initialize();
    await runMigrations(ds);
    // The executions migration can be undone and applied again, with every migration that follows it.
    const names = ds.migrations.map((migration) => migration.name ?? migration.constructor.name);
    const from = names.indexOf('Executions1765300000000');
    for (let i = from; i < names.length; i++) await ds.undoLastMigration({ transaction: 'each' });
    const gone = await ds.query<{ t: string | null }[]>(`SELECT to_regclass('execution')::text AS t`);
    expect(gone[0].t).toBeNull();
    expect(await runMigrations(ds)).toEqual(names.slice(from));
    // A second pool stands for a second process reporting task statuses.
    other = createDataSource({ ...db, database: db.database });
    await other.initialize();
    repo = new ExecutionRepository(ds, { maxLogChars: 100 });
    factory = new ExecutionFactory(repo);
  });

  afterAll(async () => {
    await other?.destroy();
    await ds?.destroy();
    await db?.drop();
  });

  it('creates an execution with its trigger and extra attributes, Running and without tasks', async () => {
    const e = await factory.execution({ vendorId: 7, trigger: 'SCHEDULE', extraAttrs: { dry_run: true, workers: 3 } });
    const read = await repo.getExecution(e.id);
    expect(read).toMatchObject({
      vendorType: 'GARBAGE_COLLECTION',
      vendorId: 7,
      trigger: 'SCHEDULE',
      status: 'Running',
      extraAttrs: { dry_run: true, workers: 3 },
      endTime: null,
      metrics: { taskCount: 0 },
    });
    expect(read!.startTime).toBeInstanceOf(Date);
    expect((await factory.execution()).vendorId).toBe(-1);
  });

  it('refuses bad input and writes nothing', async () => {
    const count = async () => (await ds.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM execution`))[0].n;
    const before = await count();
    const bad = [
      { vendorType: 'gc', trigger: 'MANUAL' },
      { vendorType: 'GARBAGE_COLLECTION', trigger: 'LATER' },
      { vendorType: 'GARBAGE_COLLECTION', trigger: 'MANUAL', vendorId: 1.5 },
      { vendorType: 'GARBAGE_COLLECTION', trigger: 'MANUAL', extraAttrs: [1] },
    ];
    for (const input of bad) {
      await expect(repo.createExecution(input as never)).rejects.toBeInstanceOf(ExecutionInputError);
    }
    expect(await count()).toBe(before);
    const e = await factory.execution();
    await expect(repo.createTask(e.id, { jobId: 'a b' })).rejects.toBeInstanceOf(ExecutionInputError);
    const task = await factory.task(e.id);
    await expect(repo.updateTaskStatus(task.id, { status: 'Done' as never, revision: 1 })).rejects.toBeInstanceOf(
      ExecutionInputError,
    );
    await expect(repo.updateTaskStatus(task.id, { status: 'Running', revision: -1 })).rejects.toBeInstanceOf(
      ExecutionInputError,
    );
    expect((await repo.getTask(task.id))!.status).toBe('Pending');
    expect(await repo.createTask(99_999_999)).toBeUndefined();
    expect(await repo.updateTaskStatus(99_999_999, { status: 'Running', revision: 1 })).toBeUndefined();
  });

  it('moves a task forward through its statuses and ignores stale or backward reports', async () => {
    const e = await factory.execution();
    const task = await factory.task(e.id, 'Pending', 'job-forward');
    let r = await repo.updateTaskStatus(task.id, { status: 'Running', revision: 1 });
    expect(r).toMatchObject({ applied: true, task: { status: 'Running', statusRevision: 1, runCount: 1 } });
    expect(r!.task.startTime).toBeInstanceOf(Date);
    expect(r!.execution.status).toBe('Running');
    // Pending arriving after Running at the same revision is late: ignored.
    r = await repo.updateTaskStatus(task.id, { status: 'Pending', revision: 1 });
    expect(r).toMatchObject({ applied: false, task: { status: 'Running' } });
    r = await repo.updateTaskStatus(task.id, { status: 'Success', revision: 1, message: 'freed 3 blobs' });
    expect(r).toMatchObject({
      applied: true,
      task: { status: 'Success', statusCode: 3, statusMessage: 'freed 3 blobs', runCount: 1 },
    });
    expect(r!.task.endTime).toBeInstanceOf(Date);
    expect(r!.execution.status).toBe('Success');
    expect(r!.execution.endTime).toBeInstanceOf(Date);
    // Success → Running and Success → Error at the same revision, and anything from an older one, are ignored.
    for (const report of [
      { status: 'Running' as const, revision: 1 },
      { status: 'Error' as const, revision: 1 },
      { status: 'Error' as const, revision: 0 },
    ]) {
      r = await repo.updateTaskStatus(task.id, report);
      expect(r).toMatchObject({ applied: false, task: { status: 'Success', statusRevision: 1 } });
      expect(r!.execution.status).toBe('Success');
    }
  });

  it('takes a retry at a newer revision: the task runs again and the execution with it', async () => {
    const { execution, tasks } = await factory.executionWithTasks(['Error']);
    expect(execution.status).toBe('Error');
    expect(execution.endTime).toBeInstanceOf(Date);
    let r = await repo.updateTaskStatus(tasks[0].id, { status: 'Running', revision: 2 });
    expect(r).toMatchObject({ applied: true, task: { status: 'Running', statusRevision: 2, runCount: 2 } });
    expect(r!.execution).toMatchObject({ status: 'Running', endTime: null });
    r = await repo.updateTaskStatus(tasks[0].id, { status: 'Error', revision: 1 });
    expect(r!.applied).toBe(false);
    r = await repo.updateTaskStatus(tasks[0].id, { status: 'Success', revision: 2 });
    expect(r!.execution.status).toBe('Success');
  });

  it("derives the execution's status from its tasks and counts them per status", async () => {
    const cases: [Parameters<ExecutionFactory['executionWithTasks']>[0], string][] = [
      [['Success', 'Pending'], 'Running'],
      [['Error', 'Scheduled'], 'Running'],
      [['Error', 'Running', 'Success'], 'Running'],
      [['Success', 'Stopped', 'Error'], 'Error'],
      [['Success', 'Stopped'], 'Stopped'],
      [['Success', 'Success'], 'Success'],
    ];
    for (const [statuses, expected] of cases) {
      const { execution } = await factory.executionWithTasks(statuses);
      expect([statuses, execution.status]).toEqual([statuses, expected]);
      expect(execution.endTime === null).toBe(expected === 'Running');
    }
    const { execution } = await factory.executionWithTasks(['Success', 'Error', 'Error', 'Running', 'Pending']);
    expect(await repo.metrics(execution.id)).toEqual({
      taskCount: 5,
      pendingTaskCount: 1,
      scheduledTaskCount: 0,
      runningTaskCount: 1,
      stoppedTaskCount: 0,
      errorTaskCount: 2,
      successTaskCount: 1,
    });
  });

  it('names the newest unfinished execution of a vendor, of one vendor id or of any', async () => {
    expect(await repo.unfinishedExecutionId('UNFINISHED_SPEC')).toBeUndefined();
    const older = await repo.createExecution({ vendorType: 'UNFINISHED_SPEC', vendorId: 1, trigger: 'MANUAL' });
    const newer = await repo.createExecution({ vendorType: 'UNFINISHED_SPEC', vendorId: 2, trigger: 'MANUAL' });
    expect(await repo.unfinishedExecutionId('UNFINISHED_SPEC')).toBe(newer.id);
    expect(await repo.unfinishedExecutionId('UNFINISHED_SPEC', 1)).toBe(older.id);
    await repo.markExecution(newer.id, 'Success');
    expect(await repo.unfinishedExecutionId('UNFINISHED_SPEC')).toBe(older.id);
    expect(await repo.unfinishedExecutionId('UNFINISHED_SPEC', 2)).toBeUndefined();
    await repo.stopExecution(older.id);
    expect(await repo.unfinishedExecutionId('UNFINISHED_SPEC')).toBeUndefined();
  });

  it('lets an execution without tasks keep its own status, set by markExecution only', async () => {
    const e = await factory.execution();
    expect(await repo.markExecution(e.id, 'Error', 'nothing to collect: storage unreachable')).toBe(true);
    expect(await repo.getExecution(e.id)).toMatchObject({
      status: 'Error',
      statusMessage: 'nothing to collect: storage unreachable',
    });
    const { execution } = await factory.executionWithTasks(['Running']);
    expect(await repo.markExecution(execution.id, 'Success')).toBe(false);
    expect((await repo.getExecution(execution.id))!.status).toBe('Running');
  });

  it('stops an execution: unfinished tasks become Stopped, their job ids are returned, late reports are ignored', async () => {
    const { execution, tasks } = await factory.executionWithTasks(['Success', 'Running', 'Pending', 'Scheduled']);
    const stopped = await repo.stopExecution(execution.id);
    expect(stopped!.jobIds.sort()).toEqual(
      tasks
        .slice(1)
        .map((t) => t.jobId)
        .sort(),
    );
    expect(stopped!.execution).toMatchObject({
      status: 'Stopped',
      metrics: { stoppedTaskCount: 3, successTaskCount: 1, runningTaskCount: 0 },
    });
    expect(stopped!.execution.endTime).toBeInstanceOf(Date);
    expect((await repo.getTask(tasks[0].id))!.status).toBe('Success');
    // The running job's own report of success, arriving after the stop, does not change it.
    const late = await repo.updateTaskStatus(tasks[1].id, { status: 'Success', revision: 1 });
    expect(late).toMatchObject({ applied: false, task: { status: 'Stopped' }, execution: { status: 'Stopped' } });
    // Stopping again stops nothing more.
    expect((await repo.stopExecution(execution.id))!.jobIds).toEqual([]);
    const empty = await factory.execution();
    expect((await repo.stopExecution(empty.id))!.execution.status).toBe('Stopped');
    expect(await repo.stopExecution(99_999_999)).toBeUndefined();
  });

  it('finds a task by its job id once recorded', async () => {
    const e = await factory.execution();
    const task = await factory.task(e.id);
    expect(await repo.getTaskByJobId('bull-42')).toBeUndefined();
    expect(await repo.setTaskJobId(task.id, 'bull-42')).toBe(true);
    expect((await repo.getTaskByJobId('bull-42'))!.id).toBe(task.id);
  });

  it("adds to a task's extra attributes, replacing the keys given, and refuses what is not a JSON object", async () => {
    const e = await factory.execution();
    const task = (await repo.createTask(e.id, { extraAttrs: { repository: 'library/a', total: 1 } }))!;
    expect(await repo.mergeTaskExtraAttrs(task.id, { total: 5, retained: 2 })).toBe(true);
    expect((await repo.getTask(task.id))?.extraAttrs).toEqual({ repository: 'library/a', total: 5, retained: 2 });
    expect(await repo.mergeTaskExtraAttrs(task.id + 1000, { total: 1 })).toBe(false);
    await expect(repo.mergeTaskExtraAttrs(task.id, [1] as never)).rejects.toThrow(ExecutionInputError);
    expect((await repo.getTask(task.id))?.extraAttrs).toEqual({ repository: 'library/a', total: 5, retained: 2 });
  });

  it("appends to a task's log and keeps its last characters with a truncation marker", async () => {
    const e = await factory.execution();
    const task = await factory.task(e.id);
    expect(await repo.taskLog(task.id)).toEqual({ text: '', dropped: 0 });
    expect(await repo.appendTaskLog(task.id, 'mark: 10 blobs\n')).toBe(true);
    expect(await repo.appendTaskLog(task.id, 'sweep: 4 blobs\n')).toBe(true);
    expect(await repo.taskLog(task.id)).toEqual({ text: 'mark: 10 blobs\nsweep: 4 blobs\n', dropped: 0 });
    // The bound is 100 characters: 30 + 90 = 120, so the first 20 go.
    const line = `${'x'.repeat(89)}\n`;
    await repo.appendTaskLog(task.id, line);
    const log = await repo.taskLog(task.id);
    expect(log!.dropped).toBe(20);
    expect(log!.text).toBe(
      `[log truncated: the first 20 characters were dropped]\n${'mark: 10 blobs\nsweep: 4 blobs\n'.slice(20)}${line}`,
    );
    // One chunk longer than the bound keeps only its own end.
    await repo.appendTaskLog(task.id, `${'a'.repeat(150)}END`);
    const big = await repo.taskLog(task.id);
    expect(big!.dropped).toBe(20 + 100 + 53);
    expect(big!.text.endsWith(`${'a'.repeat(97)}END`)).toBe(true);
    expect(big!.text.split('\n')[1]).toHaveLength(100);
    expect(await repo.appendTaskLog(99_999_999, 'x')).toBe(false);
    expect(await repo.taskLog(99_999_999)).toBeUndefined();
  });

  it("lists a vendor's executions newest first, by page, with Harbor's q filters and metrics", async () => {
    const made = [];
    for (let i = 0; i < 5; i++) {
      made.push(
        (
          await factory.executionWithTasks(i % 2 === 0 ? ['Success'] : ['Error'], {
            vendorType: 'RETENTION',
            vendorId: 1 + (i % 2),
          })
        ).execution,
      );
    }
    await factory.executionWithTasks(['Success'], { vendorType: 'SCAN_ALL' });
    const ids = made.map((e) => e.id);
    const all = await repo.listExecutions('RETENTION', undefined, { pageSize: 2 });
    expect(all.total).toBe(5);
    expect(all.items.map((e) => e.id)).toEqual([ids[4], ids[3]]);
    expect(all.items[0].metrics).toMatchObject({ taskCount: 1, successTaskCount: 1 });
    expect(
      (await repo.listExecutions('RETENTION', undefined, { page: 3, pageSize: 2 })).items.map((e) => e.id),
    ).toEqual([ids[0]]);
    const vendor2 = await repo.listExecutions('RETENTION', 2);
    expect(vendor2.items.map((e) => e.id)).toEqual([ids[3], ids[1]]);
    const errors = await repo.listExecutions('RETENTION', undefined, { q: 'status=Error', sort: 'id' });
    expect(errors.items.map((e) => e.id)).toEqual([ids[1], ids[3]]);
    const range = await repo.listExecutions('RETENTION', undefined, {
      q: `id=[${ids[1]}~${ids[2]}],trigger=MANUAL`,
      sort: 'id',
    });
    expect(range.items.map((e) => e.id)).toEqual([ids[1], ids[2]]);
    await expect(repo.listExecutions('RETENTION', undefined, { q: 'name=x' })).rejects.toBeInstanceOf(QuerySyntaxError);
    await expect(repo.listExecutions('RETENTION', undefined, { pageSize: '0' })).rejects.toBeInstanceOf(
      QuerySyntaxError,
    );
  });

  it("lists an execution's tasks by page and status", async () => {
    const { execution, tasks } = await factory.executionWithTasks(['Success', 'Error', 'Success']);
    const page = await repo.listTasks(execution.id, { q: 'status=Success' });
    expect(page.total).toBe(2);
    expect(page.items.map((t) => t.id)).toEqual([tasks[0].id, tasks[2].id]);
    expect((await repo.listTasks(execution.id, { page: 2, pageSize: 2 })).items.map((t) => t.id)).toEqual([
      tasks[2].id,
    ]);
  });

  it('backs every list query with an index', async () => {
    // Enough rows, and fresh statistics, that the planner would rather scan than use a useless index.
    await ds.query(`
      WITH e AS (
        INSERT INTO execution (vendor_type, vendor_id, status, trigger)
        SELECT 'IMAGE_SCAN', g % 500, 'Success', 'EVENT' FROM generate_series(1, 20000) g RETURNING id
      )
      INSERT INTO task (execution_id, status, status_code) SELECT id, 'Success', 3 FROM e`);
    await ds.query(`ANALYZE execution; ANALYZE task`);
    const plan = async (sql: string, params: unknown[]) =>
      (await ds.query<{ 'QUERY PLAN': string }[]>(`EXPLAIN ${sql}`, params)).map((r) => r['QUERY PLAN']).join('\n');
    const queries: [string, unknown[], string][] = [
      [
        `SELECT id FROM execution e WHERE e.vendor_type = $1 ORDER BY e.start_time DESC, e.id DESC LIMIT 10`,
        ['IMAGE_SCAN'],
        'execution_type_idx',
      ],
      [
        `SELECT id FROM execution e WHERE e.vendor_type = $1 AND e.vendor_id = $2 ORDER BY e.start_time DESC, e.id DESC LIMIT 10`,
        ['IMAGE_SCAN', 7],
        'execution_vendor_idx',
      ],
      [`SELECT id FROM task t WHERE t.execution_id = $1 ORDER BY t.id LIMIT 10`, [5], 'task_execution'],
      [
        `SELECT status, count(*) FROM task WHERE execution_id = ANY($1::bigint[]) GROUP BY status`,
        [[5, 6]],
        'task_execution',
      ],
      [`SELECT id FROM task t WHERE t.job_id = $1`, ['bull-1'], 'task_job_idx'],
    ];
    for (const [sql, params, index] of queries) {
      const text = await plan(sql, params);
      expect([sql, text.includes(index)]).toEqual([sql, true]);
      expect(text).not.toMatch(/Seq Scan/);
    }
  });

  it('sweeps ended executions beyond the newest N per vendor id, with their tasks and logs, and keeps running ones', async () => {
    const kept: number[] = [];
    const swept: number[] = [];
    let logged = 0;
    for (const vendorId of [1, 2]) {
      for (let i = 0; i < 4; i++) {
        const { execution, tasks } = await factory.executionWithTasks(['Success'], {
          vendorType: 'PURGE_AUDIT_LOG',
          vendorId,
        });
        await repo.appendTaskLog(tasks[0].id, 'done');
        if (i === 0) logged = tasks[0].id;
        (i < 2 ? swept : kept).push(execution.id);
      }
      // The newest, still running, neither counts among the kept nor is deleted.
      const running = (await factory.executionWithTasks(['Running'], { vendorType: 'PURGE_AUDIT_LOG', vendorId }))
        .execution.id;
      kept.push(running);
    }
    const replication = (await factory.executionWithTasks(['Success'], { vendorType: 'REPLICATION', vendorId: 1 }))
      .execution.id;
    expect(await repo.sweep('PURGE_AUDIT_LOG', 2)).toEqual({ executions: swept.length });
    for (const id of swept) expect(await repo.getExecution(id)).toBeUndefined();
    for (const id of [...kept, replication]) expect(await repo.getExecution(id)).toBeDefined();
    expect(await repo.getTask(logged)).toBeUndefined();
    const orphans = await ds.query<{ n: number }[]>(
      `SELECT (SELECT count(*) FROM task t WHERE NOT EXISTS (SELECT 1 FROM execution e WHERE e.id = t.execution_id))
            + (SELECT count(*) FROM task_log l WHERE NOT EXISTS (SELECT 1 FROM task t WHERE t.id = l.task_id)) AS n`,
    );
    expect(Number(orphans[0].n)).toBe(0);
    // One vendor id at a time.
    expect(await repo.sweep('PURGE_AUDIT_LOG', 1, 2)).toEqual({ executions: 1 });
    expect(await repo.sweep('PURGE_AUDIT_LOG', 1, 2)).toEqual({ executions: 0 });
  });

  it('sweeps in batches until none beyond N is left', async () => {
    await ds.query(`
      INSERT INTO execution (vendor_type, vendor_id, status, trigger, start_time)
      SELECT 'SYSTEM_ARTIFACT_CLEANUP', 1, 'Success', 'SCHEDULE', now() - g * interval '1 minute'
      FROM generate_series(1, 1203) g`);
    expect(await repo.sweep('SYSTEM_ARTIFACT_CLEANUP', 3)).toEqual({ executions: 1200 });
    const left = await repo.listExecutions('SYSTEM_ARTIFACT_CLEANUP', 1);
    expect(left.total).toBe(3);
  });

  it('leaves the right status when two processes report tasks of one execution at once', async () => {
    const others = new ExecutionRepository(other);
    // The rounds' executions are made at once: made one after another, their ~400 transactions took most of the
    // test's time, and on a loaded host more than its limit.
    const rounds = await Promise.all(
      Array.from({ length: 8 }, () => factory.executionWithTasks(Array<JobStatus>(16).fill('Running'))),
    );
    for (const [round, { execution, tasks }] of rounds.entries()) {
      const failing = round % 2 === 1 ? tasks[round] : undefined;
      await Promise.all(
        tasks.map((t, i) =>
          (i % 2 === 0 ? repo : others).updateTaskStatus(t.id, {
            status: t === failing ? 'Error' : 'Success',
            revision: 1,
          }),
        ),
      );
      const after = await repo.getExecution(execution.id);
      expect([round, after!.status]).toEqual([round, failing ? 'Error' : 'Success']);
      expect(after!.endTime).toBeInstanceOf(Date);
    }
  });
});
