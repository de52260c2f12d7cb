import { JobName, QueueName } from './enum.js';
import { JobDeclarationError } from './errors.js';
import { JOBS, JOB_PAYLOADS, QUEUES, jobsOnQueue, validateJobDeclarations } from './job.declarations.js';
import { isTransientError } from './retryable.js';

describe('job declarations', () => {
  it('declares every job name with a known queue, limits of at least one and a payload schema', () => {
    expect(() => validateJobDeclarations()).not.toThrow();
    expect(Object.keys(JOBS).sort()).toEqual(Object.values(JobName).sort());
    expect(Object.keys(QUEUES).sort()).toEqual(Object.values(QueueName).sort());
  });

  it('names every fault of a bad declaration set', () => {
    const jobs = {
      A: { ...JOBS[JobName.EventTrim], queue: 'nowhere', maxFails: 0 },
      B: { ...JOBS[JobName.EventTrim], retryable: undefined },
    } as never;
    const queues = { ...QUEUES, [QueueName.Events]: { concurrency: 1.5 } };
    const payloads = { A: JOB_PAYLOADS[JobName.EventTrim], C: JOB_PAYLOADS[JobName.EventTrim] };
    expect(() => validateJobDeclarations(jobs, queues, payloads)).toThrow(JobDeclarationError);
    expect(() => validateJobDeclarations(jobs, queues, payloads)).toThrow(
      'invalid job declarations: queue events: concurrency must be a whole number of at least 1; ' +
        'job A: unknown queue nowhere; job A: maxFails must be a whole number of at least 1; ' +
        'job B: retryable must be a function; job B: no payload schema; job C: a payload schema but no declaration',
    );
  });

  it('pairs task-backed declarations with a taskId in the payload, both ways', () => {
    const jobs = {
      D: { ...JOBS[JobName.EventTrim], taskBacked: true },
      E: { ...JOBS[JobName.UploadPurge], taskBacked: false },
    } as never;
    const payloads = { D: JOB_PAYLOADS[JobName.EventTrim], E: JOB_PAYLOADS[JobName.UploadPurge] };
    expect(() => validateJobDeclarations(jobs, QUEUES, payloads)).toThrow(
      'invalid job declarations: job D: a task-backed job, and it alone, has a taskId in its payload; ' +
        'job E: a task-backed job, and it alone, has a taskId in its payload',
    );
  });

  it('groups jobs by queue', () => {
    expect(jobsOnQueue(QueueName.Maintenance).sort()).toEqual([JobName.EventTrim, JobName.UploadPurge].sort());
    expect(jobsOnQueue(QueueName.Events)).toEqual([JobName.OutboxDelivery]);
  });

  it('derives deduplication ids from the payload', () => {
    expect(JOBS[JobName.UploadPurge].deduplicationId({ taskId: 1, ageMs: 1, dryRun: true })).not.toBe(
      JOBS[JobName.UploadPurge].deduplicationId({ taskId: 2, ageMs: 1, dryRun: false }),
    );
    expect(JOBS[JobName.OutboxDelivery].deduplicationId({ upToId: 7 })).toBe('outbox-delivery:7');
  });

  it('applies defaults and refuses unknown or wrong fields', () => {
    expect(JOB_PAYLOADS[JobName.UploadPurge].parse({ taskId: 3, ageMs: 1000 })).toEqual({
      taskId: 3,
      ageMs: 1000,
      dryRun: false,
    });
    expect(JOB_PAYLOADS[JobName.UploadPurge].safeParse({ taskId: 3, ageMs: -1 }).success).toBe(false);
    expect(JOB_PAYLOADS[JobName.UploadPurge].safeParse({ ageMs: 1000 }).success).toBe(false);
    expect(JOB_PAYLOADS[JobName.EventTrim].safeParse({ retention: 5 }).success).toBe(false);
  });
});

describe('isTransientError', () => {
  it('retries unreachable peers and transient database states, not errors in the work', () => {
    expect(isTransientError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransientError(Object.assign(new Error('x'), { driverError: { code: '40P01' } }))).toBe(true);
    expect(isTransientError(Object.assign(new Error('x'), { code: '08006' }))).toBe(true);
    expect(isTransientError(new Error('x', { cause: Object.assign(new Error('y'), { $retryable: {} }) }))).toBe(true);
    expect(isTransientError(Object.assign(new Error('x'), { code: '23505' }))).toBe(false);
    expect(isTransientError(new TypeError('bug'))).toBe(false);
    expect(isTransientError(undefined)).toBe(false);
  });
});
