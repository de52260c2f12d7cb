import { type DataSource, type EntityManager } from 'typeorm';
import {
  type ExecutionMetrics,
  type ExecutionTrigger,
  type JobStatus,
  FINAL_STATUSES,
  deriveExecutionStatus,
  emptyMetrics,
  isExecutionTrigger,
  isJobStatus,
  statusCode,
} from '../execution-status.js';
import { type FieldSpec, buildFilter } from '../query/filter.builder.js';
import { buildOrderBy } from '../query/order.builder.js';
import { parsePagination } from '../query/pagination.js';
import { parseQuery, parseSort } from '../query/query.parser.js';

/** Input the caller passed that the repository refuses; nothing was written. */
export class ExecutionInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'ExecutionInputError';
  }
}

export type ExtraAttrs = Record<string, unknown>;

export interface Execution {
  id: number;
  vendorType: string;
  /** -1 when the execution belongs to no particular object (Harbor's convention). */
  vendorId: number;
  status: JobStatus;
  statusMessage: string;
  trigger: ExecutionTrigger;
  extraAttrs: ExtraAttrs;
  startTime: Date;
  updateTime: Date;
  endTime: Date | null;
  metrics: ExecutionMetrics;
}

export interface Task {
  id: number;
  executionId: number;
  jobId: string | null;
  /** The job the task runs and its payload (without the task id), kept to queue it again should Redis lose it. */
  jobName: string | null;
  jobData: Record<string, unknown> | null;
  status: JobStatus;
  statusCode: number;
  statusRevision: number;
  statusMessage: string;
  runCount: number;
  extraAttrs: ExtraAttrs;
  creationTime: Date;
  startTime: Date | null;
  updateTime: Date;
  endTime: Date | null;
}

export interface NewExecution {
  vendorType: string;
  vendorId?: number;
  trigger: ExecutionTrigger;
  extraAttrs?: ExtraAttrs;
}

export interface NewTask {
  jobId?: string;
  job?: { name: string; data: Record<string, unknown> };
  extraAttrs?: ExtraAttrs;
}

export interface TaskStatusReport {
  status: JobStatus;
  /** The job run the report comes from; a retry reports with a higher one. */
  revision: number;
  message?: string;
}

export interface TaskStatusResult {
  /** False when the report was stale (older revision, or not a forward move) and nothing changed. */
  applied: boolean;
  task: Task;
  execution: Execution;
}

export interface TaskLog {
  /** The kept text, preceded by a line saying how much was dropped when the log outgrew its bound. */
  text: string;
  /** Characters dropped from the start of the log to keep it within its bound. */
  dropped: number;
}

export interface ListInput {
  /** Harbor's `q` as received. */
  q?: string;
  /** Harbor's `sort` as received. */
  sort?: string;
  page?: unknown;
  pageSize?: unknown;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
}

export interface SweepResult {
  executions: number;
}

export interface ExecutionRepositoryOptions {
  /** The most characters one task's log keeps; older text is dropped first. */
  maxLogChars?: number;
}

/** A task log long enough for a GC or retention run's summary, small enough that a runaway job cannot fill disk. */
export const DEFAULT_MAX_LOG_CHARS = 1024 * 1024;

const VENDOR_TYPE = /^[A-Z][A-Z0-9_]{0,63}$/;
const JOB_ID = /^[A-Za-z0-9:._-]{1,64}$/;
const MAX_EXTRA_ATTRS_BYTES = 64 * 1024;
const MAX_STATUS_MESSAGE = 4096;
const SWEEP_BATCH = 500;

const EXECUTION_FIELDS: Record<string, FieldSpec> = {
  id: { column: 'e.id', type: 'int', range: true },
  vendor_id: { column: 'e.vendor_id', type: 'int' },
  status: { column: 'e.status', type: 'text' },
  trigger: { column: 'e.trigger', type: 'text' },
  start_time: { column: 'e.start_time', type: 'time', range: true },
  end_time: { column: 'e.end_time', type: 'time', range: true },
};
const EXECUTION_SORTABLE = { id: 'e.id', start_time: 'e.start_time', end_time: 'e.end_time', status: 'e.status' };

const TASK_FIELDS: Record<string, FieldSpec> = {
  id: { column: 't.id', type: 'int', range: true },
  status: { column: 't.status', type: 'text' },
  job_id: { column: 't.job_id', type: 'text' },
};
const TASK_SORTABLE = { id: 't.id', creation_time: 't.creation_time', start_time: 't.start_time', status: 't.status' };

interface ExecutionRow {
  id: string;
  vendor_type: string;
  vendor_id: string;
  status: JobStatus;
  status_message: string;
  trigger: ExecutionTrigger;
  extra_attrs: ExtraAttrs;
  start_time: Date;
  update_time: Date;
  end_time: Date | null;
}

interface TaskRow {
  id: string;
  execution_id: string;
  job_id: string | null;
  job_name: string | null;
  job_data: Record<string, unknown> | null;
  status: JobStatus;
  status_code: number;
  status_revision: string;
  status_message: string;
  run_count: number;
  extra_attrs: ExtraAttrs;
  creation_time: Date;
  start_time: Date | null;
  update_time: Date;
  end_time: Date | null;
}

const TASK_COLUMNS = `t.id, t.execution_id, t.job_id, t.job_name, t.job_data, t.status, t.status_code, t.status_revision, t.status_message,
  t.run_count, t.extra_attrs, t.creation_time, t.start_time, t.update_time, t.end_time`;
const EXECUTION_COLUMNS = `e.id, e.vendor_type, e.vendor_id, e.status, e.status_message, e.trigger, e.extra_attrs,
  e.start_time, e.update_time, e.end_time`;

function toTask(row: TaskRow): Task {
  return {
    id: Number(row.id),
    executionId: Number(row.execution_id),
    jobId: row.job_id,
    jobName: row.job_name,
    jobData: row.job_data,
    status: row.status,
    statusCode: row.status_code,
    statusRevision: Number(row.status_revision),
    statusMessage: row.status_message,
    runCount: row.run_count,
    extraAttrs: row.extra_attrs,
    creationTime: row.creation_time,
    startTime: row.start_time,
    updateTime: row.update_time,
    endTime: row.end_time,
  };
}

function toExecution(row: ExecutionRow, metrics: ExecutionMetrics): Execution {
  return {
    id: Number(row.id),
    vendorType: row.vendor_type,
    vendorId: Number(row.vendor_id),
    status: row.status,
    statusMessage: row.status_message,
    trigger: row.trigger,
    extraAttrs: row.extra_attrs,
    startTime: row.start_time,
    updateTime: row.update_time,
    endTime: row.end_time,
    metrics,
  };
}

function checkId(field: string, id: unknown): number {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
    throw new ExecutionInputError(field, `must be a positive integer, not ${JSON.stringify(id)}`);
  }
  return id;
}

function checkVendorType(vendorType: unknown): string {
  if (typeof vendorType !== 'string' || !VENDOR_TYPE.test(vendorType)) {
    throw new ExecutionInputError(
      'vendor_type',
      `must be 1 to 64 capital letters, digits or "_" starting with a letter, such as GARBAGE_COLLECTION, not ${JSON.stringify(vendorType)}`,
    );
  }
  return vendorType;
}

function checkVendorId(vendorId: unknown): number {
  if (vendorId === undefined) return -1;
  if (typeof vendorId !== 'number' || !Number.isSafeInteger(vendorId) || vendorId < -1) {
    throw new ExecutionInputError('vendor_id', `must be an integer of -1 or more, not ${JSON.stringify(vendorId)}`);
  }
  return vendorId;
}

function checkExtraAttrs(attrs: unknown, field = 'extra_attrs'): string {
  if (attrs === undefined) return '{}';
  if (attrs === null || typeof attrs !== 'object' || Array.isArray(attrs)) {
    throw new ExecutionInputError(field, 'must be a JSON object');
  }
  let json: string;
  try {
    json = JSON.stringify(attrs);
  } catch {
    throw new ExecutionInputError(field, 'must be serializable as JSON');
  }
  if (Buffer.byteLength(json) > MAX_EXTRA_ATTRS_BYTES) {
    throw new ExecutionInputError(field, `must be at most ${MAX_EXTRA_ATTRS_BYTES} bytes as JSON`);
  }
  return json;
}

function checkJobName(name: unknown): string {
  if (typeof name !== 'string' || !VENDOR_TYPE.test(name)) {
    throw new ExecutionInputError('job_name', `must be a job name such as UPLOAD_PURGE, not ${JSON.stringify(name)}`);
  }
  return name;
}

function checkMessage(message: unknown): string | null {
  if (message === undefined) return null;
  if (typeof message !== 'string') throw new ExecutionInputError('status_message', 'must be text');
  // A message is shown in one line of a table; a long one belongs in the task's log.
  return message.length > MAX_STATUS_MESSAGE ? `${message.slice(0, MAX_STATUS_MESSAGE - 1)}…` : message;
}

function checkJobId(jobId: unknown): string | null {
  if (jobId === undefined) return null;
  if (typeof jobId !== 'string' || !JOB_ID.test(jobId)) {
    throw new ExecutionInputError('job_id', `must be 1 to 64 letters, digits or ":._-", not ${JSON.stringify(jobId)}`);
  }
  return jobId;
}

/** The rows an UPDATE or DELETE … RETURNING gave back: TypeORM hands them over with the affected count. */
async function changedRows<T>(m: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  const result = await m.query<[T[], number]>(sql, params);
  return result[0];
}

/**
 * Executions and tasks of background work in PostgreSQL, with Harbor's shapes and status rules (its
 * `src/pkg/task`). An execution's status is derived from its tasks in the transaction that changes one of
 * them, under the execution's row lock, so concurrent reports for tasks of one execution each see the others'
 * committed changes and the last to commit leaves the right status.
 */
export class ExecutionRepository {
  private readonly maxLogChars: number;

  constructor(
    private readonly dataSource: DataSource,
    options: ExecutionRepositoryOptions = {},
  ) {
    this.maxLogChars = options.maxLogChars ?? DEFAULT_MAX_LOG_CHARS;
    if (!Number.isSafeInteger(this.maxLogChars) || this.maxLogChars < 1) {
      throw new ExecutionInputError('maxLogChars', 'must be a positive integer');
    }
  }

  /** Starts an execution, Running until its tasks say otherwise (or until markExecution for one without tasks). */
  async createExecution(input: NewExecution): Promise<Execution> {
    const vendorType = checkVendorType(input.vendorType);
    const vendorId = checkVendorId(input.vendorId);
    if (!isExecutionTrigger(input.trigger)) {
      throw new ExecutionInputError(
        'trigger',
        `must be MANUAL, SCHEDULE or EVENT, not ${JSON.stringify(input.trigger)}`,
      );
    }
    const attrs = checkExtraAttrs(input.extraAttrs);
    const rows = await this.dataSource.query<ExecutionRow[]>(
      `INSERT INTO execution AS e (vendor_type, vendor_id, status, trigger, extra_attrs)
       VALUES ($1, $2, 'Running', $3, $4::jsonb) RETURNING ${EXECUTION_COLUMNS}`,
      [vendorType, vendorId, input.trigger, attrs],
    );
    return toExecution(rows[0], emptyMetrics());
  }

  /** Adds a Pending task; the execution becomes Running again if it had ended. Undefined if there is no such execution. */
  async createTask(executionId: number, input: NewTask = {}): Promise<Task | undefined> {
    checkId('execution_id', executionId);
    const jobId = checkJobId(input.jobId);
    const attrs = checkExtraAttrs(input.extraAttrs);
    const jobName = input.job === undefined ? null : checkJobName(input.job.name);
    const jobData = input.job === undefined ? null : checkExtraAttrs(input.job.data, 'job_data');
    return this.dataSource.transaction(async (m) => {
      if (!(await this.lockExecution(m, executionId))) return undefined;
      const rows = await m.query<TaskRow[]>(
        `INSERT INTO task AS t (execution_id, job_id, job_name, job_data, status, status_code, extra_attrs)
         VALUES ($1, $2, $3, $4::jsonb, 'Pending', 0, $5::jsonb) RETURNING ${TASK_COLUMNS}`,
        [executionId, jobId, jobName, jobData, attrs],
      );
      await this.refreshStatus(m, executionId);
      return toTask(rows[0]);
    });
  }

  /** Records the job a task was submitted as, so that the runner's reports can find it. False if there is no such task. */
  async setTaskJobId(taskId: number, jobId: string): Promise<boolean> {
    checkId('task_id', taskId);
    const id = checkJobId(jobId);
    const rows = await changedRows<{ id: string }>(
      this.dataSource.manager,
      `UPDATE task SET job_id = $2, update_time = now() WHERE id = $1 RETURNING id`,
      [taskId, id],
    );
    return rows.length === 1;
  }

  /**
   * Adds attributes to a task's extra attributes, where a job records what it found (a key given replaces the one
   * there). False if there is no such task.
   */
  async mergeTaskExtraAttrs(taskId: number, attrs: ExtraAttrs): Promise<boolean> {
    checkId('task_id', taskId);
    const json = checkExtraAttrs(attrs);
    const rows = await changedRows<{ id: string }>(
      this.dataSource.manager,
      `UPDATE task SET extra_attrs = extra_attrs || $2::jsonb WHERE id = $1 RETURNING id`,
      [taskId, json],
    );
    return rows.length === 1;
  }

  /**
   * Applies a status report to a task if Harbor's rules take it: a higher revision always (the job ran again: its
   * run count goes up and its start time is now), the same revision only forward (Pending < Scheduled < Running <
   * Stopped | Error | Success), an older one never. The execution's status and end time are derived again in the
   * same transaction. Undefined if there is no such task.
   */
  async updateTaskStatus(taskId: number, report: TaskStatusReport): Promise<TaskStatusResult | undefined> {
    checkId('task_id', taskId);
    if (!isJobStatus(report.status)) {
      throw new ExecutionInputError('status', `must be one of Pending, Scheduled, Running, Stopped, Error, Success`);
    }
    if (typeof report.revision !== 'number' || !Number.isSafeInteger(report.revision) || report.revision < 0) {
      throw new ExecutionInputError('status_revision', 'must be an integer of 0 or more');
    }
    const message = checkMessage(report.message);
    const code = statusCode(report.status);
    const found = await this.dataSource.query<{ execution_id: string }[]>(
      `SELECT execution_id FROM task WHERE id = $1`,
      [taskId],
    );
    if (found.length === 0) return undefined;
    const executionId = Number(found[0].execution_id);
    return this.dataSource.transaction(async (m) => {
      // The execution's lock first, as every writer of its tasks takes it, so the derivation below sees them all.
      if (!(await this.lockExecution(m, executionId))) return undefined;
      const updated = await changedRows<TaskRow>(
        m,
        `UPDATE task AS t SET
           status = $2::text,
           status_code = $3::smallint,
           status_revision = $4::bigint,
           status_message = COALESCE($5::text, CASE WHEN t.status_revision < $4 THEN '' ELSE t.status_message END),
           run_count = t.run_count + CASE WHEN t.status_revision < $4 THEN 1 ELSE 0 END,
           start_time = CASE WHEN t.status_revision < $4 THEN now() ELSE t.start_time END,
           end_time = CASE WHEN $3::smallint = 3 THEN now() ELSE NULL END,
           update_time = now()
         WHERE t.id = $1 AND (t.status_revision < $4 OR (t.status_revision = $4 AND t.status_code < $3))
         RETURNING ${TASK_COLUMNS}`,
        [taskId, report.status, code, report.revision, message],
      );
      let task: Task;
      if (updated.length === 1) {
        task = toTask(updated[0]);
        await this.refreshStatus(m, executionId);
      } else {
        const current = await m.query<TaskRow[]>(`SELECT ${TASK_COLUMNS} FROM task t WHERE t.id = $1`, [taskId]);
        if (current.length === 0) return undefined;
        task = toTask(current[0]);
      }
      const execution = await this.readExecution(m, executionId);
      return { applied: updated.length === 1, task, execution: execution! };
    });
  }

  /**
   * Ends an execution that has no tasks with the given status (Harbor's MarkDone / MarkError); one with tasks takes
   * its status from them, so this returns false for it and for a missing execution.
   */
  async markExecution(
    executionId: number,
    status: 'Success' | 'Error' | 'Stopped',
    message?: string,
  ): Promise<boolean> {
    checkId('execution_id', executionId);
    if (!FINAL_STATUSES.includes(status)) {
      throw new ExecutionInputError('status', 'must be Success, Error or Stopped');
    }
    const text = checkMessage(message);
    const rows = await changedRows<{ id: string }>(
      this.dataSource.manager,
      `UPDATE execution e SET status = $2, status_message = COALESCE($3, e.status_message),
         end_time = now(), update_time = now()
       WHERE e.id = $1 AND NOT EXISTS (SELECT 1 FROM task t WHERE t.execution_id = e.id)
       RETURNING e.id`,
      [executionId, status, text],
    );
    return rows.length === 1;
  }

  /**
   * Stops an execution: its unfinished tasks become Stopped at once (a later Running report of the same run is then
   * stale and ignored) and the execution's status follows. Returns the job ids the runner must stop, or undefined
   * if there is no such execution. One without tasks that has not ended becomes Stopped.
   */
  async stopExecution(executionId: number): Promise<{ jobIds: string[]; execution: Execution } | undefined> {
    checkId('execution_id', executionId);
    return this.dataSource.transaction(async (m) => {
      if (!(await this.lockExecution(m, executionId))) return undefined;
      const stopped = await changedRows<{ job_id: string | null }>(
        m,
        `UPDATE task SET status = 'Stopped', status_code = 3, end_time = now(), update_time = now()
         WHERE execution_id = $1 AND status_code < 3 RETURNING job_id`,
        [executionId],
      );
      const derived = await this.refreshStatus(m, executionId);
      if (derived === undefined) {
        await m.query(
          `UPDATE execution SET status = 'Stopped', end_time = now(), update_time = now()
           WHERE id = $1 AND status NOT IN ('Stopped', 'Error', 'Success')`,
          [executionId],
        );
      }
      const execution = await this.readExecution(m, executionId);
      const jobIds = stopped.map((r) => r.job_id).filter((id): id is string => id !== null);
      return { jobIds, execution: execution! };
    });
  }

  async getExecution(executionId: number): Promise<Execution | undefined> {
    checkId('execution_id', executionId);
    return this.readExecution(this.dataSource.manager, executionId);
  }

  /**
   * The id of the newest execution of the vendor (any vendor id when left out) that is still Pending or Running, or
   * undefined: what keeps a second run of the same work from starting beside the first.
   */
  async unfinishedExecutionId(vendorType: string, vendorId?: number): Promise<number | undefined> {
    checkVendorType(vendorType);
    const params: unknown[] = [vendorType];
    let where = `vendor_type = $1 AND status IN ('Pending', 'Running')`;
    if (vendorId !== undefined) where += ` AND vendor_id = $${params.push(checkVendorId(vendorId))}`;
    const rows = await this.dataSource.query<{ id: string }[]>(
      `SELECT id FROM execution WHERE ${where} ORDER BY start_time DESC, id DESC LIMIT 1`,
      params,
    );
    return rows[0] ? Number(rows[0].id) : undefined;
  }

  async getTask(taskId: number): Promise<Task | undefined> {
    checkId('task_id', taskId);
    const rows = await this.dataSource.query<TaskRow[]>(`SELECT ${TASK_COLUMNS} FROM task t WHERE t.id = $1`, [taskId]);
    return rows.length === 0 ? undefined : toTask(rows[0]);
  }

  /** The task a job id was recorded for (the newest, should a job id have been reused). */
  async getTaskByJobId(jobId: string): Promise<Task | undefined> {
    const id = checkJobId(jobId);
    const rows = await this.dataSource.query<TaskRow[]>(
      `SELECT ${TASK_COLUMNS} FROM task t WHERE t.job_id = $1 ORDER BY t.id DESC LIMIT 1`,
      [id],
    );
    return rows.length === 0 ? undefined : toTask(rows[0]);
  }

  /**
   * Unfinished tasks (Pending, Scheduled, Running) that were queued as a job, by id after `afterId`: what a
   * reconciliation compares with the queues.
   */
  async listUnfinishedJobTasks(afterId: number, limit: number): Promise<Task[]> {
    const rows = await this.dataSource.query<TaskRow[]>(
      `SELECT ${TASK_COLUMNS} FROM task t WHERE t.status_code < 3 AND t.job_id IS NOT NULL AND t.id > $1
       ORDER BY t.id LIMIT $2`,
      [afterId, limit],
    );
    return rows.map(toTask);
  }

  /** Task counts per status of one execution. */
  async metrics(executionId: number): Promise<ExecutionMetrics> {
    checkId('execution_id', executionId);
    return (await this.metricsOf(this.dataSource.manager, [executionId])).get(executionId) ?? emptyMetrics();
  }

  /**
   * One page of a vendor's executions (of every vendor id when `vendorId` is left out), newest first unless
   * `sort` says otherwise, with their metrics. `q` takes id, vendor_id, status, trigger, start_time and end_time;
   * a bad `q`, `sort`, `page` or `page_size` throws QuerySyntaxError naming the parameter.
   */
  async listExecutions(
    vendorType: string,
    vendorId: number | undefined,
    input: ListInput = {},
  ): Promise<Page<Execution>> {
    checkVendorType(vendorType);
    const params: unknown[] = [vendorType];
    let where = `e.vendor_type = $1`;
    if (vendorId !== undefined) where += ` AND e.vendor_id = $${params.push(checkVendorId(vendorId))}`;
    where += ` AND ${buildFilter(parseQuery(input.q), EXECUTION_FIELDS, params)}`;
    const orderBy = buildOrderBy(parseSort(input.sort), EXECUTION_SORTABLE, 'e.start_time DESC, e.id DESC');
    const { page, pageSize, offset } = parsePagination(input.page, input.pageSize);
    const [count, rows] = await Promise.all([
      this.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM execution e WHERE ${where}`, params),
      this.dataSource.query<ExecutionRow[]>(
        `SELECT ${EXECUTION_COLUMNS} FROM execution e WHERE ${where} ORDER BY ${orderBy}
         LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, pageSize, offset],
      ),
    ]);
    const metrics = await this.metricsOf(
      this.dataSource.manager,
      rows.map((r) => Number(r.id)),
    );
    return {
      items: rows.map((r) => toExecution(r, metrics.get(Number(r.id)) ?? emptyMetrics())),
      total: count[0].n,
      page,
      pageSize,
    };
  }

  /** One page of an execution's tasks, by id unless `sort` says otherwise; `q` takes id, status and job_id. */
  async listTasks(executionId: number, input: ListInput = {}): Promise<Page<Task>> {
    checkId('execution_id', executionId);
    const params: unknown[] = [executionId];
    const where = `t.execution_id = $1 AND ${buildFilter(parseQuery(input.q), TASK_FIELDS, params)}`;
    const orderBy = buildOrderBy(parseSort(input.sort), TASK_SORTABLE, 't.id');
    const { page, pageSize, offset } = parsePagination(input.page, input.pageSize);
    const [count, rows] = await Promise.all([
      this.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM task t WHERE ${where}`, params),
      this.dataSource.query<TaskRow[]>(
        `SELECT ${TASK_COLUMNS} FROM task t WHERE ${where} ORDER BY ${orderBy}
         LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, pageSize, offset],
      ),
    ]);
    return { items: rows.map(toTask), total: count[0].n, page, pageSize };
  }

  /**
   * Appends text to a task's log. The log keeps its last `maxLogChars` characters: what falls off the start is
   * counted, and reading the log says so. False if there is no such task.
   */
  async appendTaskLog(taskId: number, text: string): Promise<boolean> {
    checkId('task_id', taskId);
    if (typeof text !== 'string') throw new ExecutionInputError('log', 'must be text');
    if (text.length === 0) return (await this.getTask(taskId)) !== undefined;
    // Only the tail of a chunk longer than the bound can survive; cutting it here keeps the statement small.
    const overflow = Math.max(text.length - this.maxLogChars, 0);
    const kept = overflow > 0 ? text.slice(overflow) : text;
    const rows = await this.dataSource.query<{ task_id: string }[]>(
      `INSERT INTO task_log AS l (task_id, content, dropped)
       SELECT t.id, $2, $3 FROM task t WHERE t.id = $1
       ON CONFLICT (task_id) DO UPDATE SET
         content = right(l.content || EXCLUDED.content, $4),
         dropped = l.dropped + EXCLUDED.dropped + greatest(length(l.content) + length(EXCLUDED.content) - $4, 0),
         update_time = now()
       RETURNING l.task_id`,
      [taskId, kept, overflow, this.maxLogChars],
    );
    return rows.length === 1;
  }

  /** A task's log (empty when it wrote none), or undefined if there is no such task. */
  async taskLog(taskId: number): Promise<TaskLog | undefined> {
    checkId('task_id', taskId);
    const rows = await this.dataSource.query<{ content: string | null; dropped: string | null }[]>(
      `SELECT l.content, l.dropped FROM task t LEFT JOIN task_log l ON l.task_id = t.id WHERE t.id = $1`,
      [taskId],
    );
    if (rows.length === 0) return undefined;
    const content = rows[0].content ?? '';
    const dropped = Number(rows[0].dropped ?? 0);
    const text = dropped > 0 ? `[log truncated: the first ${dropped} characters were dropped]\n${content}` : content;
    return { text, dropped };
  }

  /**
   * Deletes a vendor type's ended executions (with their tasks and logs) beyond the newest `keep` per vendor id, or
   * of one vendor id only, in batches so that no transaction holds many rows. Running executions are never deleted.
   */
  async sweep(vendorType: string, keep: number, vendorId?: number): Promise<SweepResult> {
    checkVendorType(vendorType);
    if (!Number.isSafeInteger(keep) || keep < 0)
      throw new ExecutionInputError('keep', 'must be an integer of 0 or more');
    const params: unknown[] = [vendorType, keep, SWEEP_BATCH];
    const byVendor = vendorId === undefined ? '' : ` AND vendor_id = $${params.push(checkVendorId(vendorId))}`;
    let total = 0;
    for (;;) {
      const deleted = await changedRows<{ id: string }>(
        this.dataSource.manager,
        `DELETE FROM execution WHERE id IN (
           SELECT id FROM (
             SELECT id, row_number() OVER (PARTITION BY vendor_id ORDER BY start_time DESC, id DESC) AS rank
             FROM execution
             WHERE vendor_type = $1 AND status IN ('Stopped', 'Error', 'Success')${byVendor}
           ) ranked
           WHERE rank > $2
           LIMIT $3
         ) RETURNING id`,
        params,
      );
      total += deleted.length;
      if (deleted.length < SWEEP_BATCH) return { executions: total };
    }
  }

  private async lockExecution(m: EntityManager, executionId: number): Promise<boolean> {
    const rows = await m.query<{ id: string }[]>(`SELECT id FROM execution WHERE id = $1 FOR UPDATE`, [executionId]);
    return rows.length === 1;
  }

  /**
   * Derives the execution's status from its tasks and stores it, with the end time of its last task once it is final
   * and none while it runs (again). The caller holds the execution's row lock. Returns the derived status, or
   * undefined when the execution has no tasks (and keeps its own).
   */
  private async refreshStatus(m: EntityManager, executionId: number): Promise<JobStatus | undefined> {
    const metrics = (await this.metricsOf(m, [executionId])).get(executionId) ?? emptyMetrics();
    const status = deriveExecutionStatus(metrics);
    if (status === undefined) return undefined;
    await m.query(
      `UPDATE execution SET
         status = $2::text,
         end_time = CASE
           WHEN $2::text IN ('Stopped', 'Error', 'Success') THEN (SELECT max(t.end_time) FROM task t WHERE t.execution_id = $1)
           END,
         update_time = now()
       WHERE id = $1`,
      [executionId, status],
    );
    return status;
  }

  private async readExecution(m: EntityManager, executionId: number): Promise<Execution | undefined> {
    const rows = await m.query<ExecutionRow[]>(`SELECT ${EXECUTION_COLUMNS} FROM execution e WHERE e.id = $1`, [
      executionId,
    ]);
    if (rows.length === 0) return undefined;
    const metrics = (await this.metricsOf(m, [executionId])).get(executionId) ?? emptyMetrics();
    return toExecution(rows[0], metrics);
  }

  private async metricsOf(m: EntityManager, executionIds: number[]): Promise<Map<number, ExecutionMetrics>> {
    const result = new Map<number, ExecutionMetrics>();
    if (executionIds.length === 0) return result;
    const rows = await m.query<{ execution_id: string; status: JobStatus; n: number }[]>(
      `SELECT execution_id, status, count(*)::int AS n FROM task WHERE execution_id = ANY($1::bigint[])
       GROUP BY execution_id, status`,
      [executionIds],
    );
    for (const row of rows) {
      const id = Number(row.execution_id);
      const metrics = result.get(id) ?? emptyMetrics();
      metrics.taskCount += row.n;
      switch (row.status) {
        case 'Pending':
          metrics.pendingTaskCount += row.n;
          break;
        case 'Scheduled':
          metrics.scheduledTaskCount += row.n;
          break;
        case 'Running':
          metrics.runningTaskCount += row.n;
          break;
        case 'Stopped':
          metrics.stoppedTaskCount += row.n;
          break;
        case 'Error':
          metrics.errorTaskCount += row.n;
          break;
        case 'Success':
          metrics.successTaskCount += row.n;
          break;
      }
      result.set(id, metrics);
    }
    return result;
  }
}
