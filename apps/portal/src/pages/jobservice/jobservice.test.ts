import { describe, expect, it } from 'vitest';
import { actionDone, actionTargets, waitText, workersByPool } from './jobservice.js';

describe('waitText', () => {
  it('says how long the oldest job has waited, in the two largest units', () => {
    expect(waitText(0)).toBe('0 s');
    expect(waitText(45.9)).toBe('45 s');
    expect(waitText(125)).toBe('2 min 5 s');
    expect(waitText(3 * 3600 + 4 * 60 + 5)).toBe('3 h 4 min');
    expect(waitText(2 * 86400 + 5 * 3600)).toBe('2 d 5 h');
  });
});

describe('actionTargets', () => {
  const listed = ['GARBAGE_COLLECTION', 'RETENTION', 'SCHEDULED_RUN'];
  it('sends each chosen type in the order listed, and `all` once every listed type is chosen', () => {
    expect(actionTargets(listed, new Set())).toEqual([]);
    expect(actionTargets(listed, new Set(['SCHEDULED_RUN', 'GARBAGE_COLLECTION']))).toEqual([
      'GARBAGE_COLLECTION',
      'SCHEDULED_RUN',
    ]);
    expect(actionTargets(listed, new Set(listed))).toEqual(['all']);
    expect(actionTargets(listed, new Set(['GONE']))).toEqual([]);
  });

  it('words what was done', () => {
    expect(actionDone('pause', ['GARBAGE_COLLECTION'])).toBe('GARBAGE_COLLECTION is paused.');
    expect(actionDone('resume', ['A', 'B'])).toBe('A, B are resumed.');
    expect(actionDone('stop', ['all'])).toBe('Every job type is stopped.');
  });
});

describe('workersByPool', () => {
  it('puts each worker under its pool, a pool without workers keeping an empty list', () => {
    const pool = (id: string) => ({
      worker_pool_id: id,
      pid: 1,
      host: 'h',
      start_at: '2026-12-07T10:00:00Z',
      heartbeat_at: '2026-12-07T10:00:00Z',
      concurrency: 1,
    });
    const worker = (id: string, poolId: string) => ({ id, pool_id: poolId, job_name: '', job_id: '' });
    const grouped = workersByPool(
      [pool('a:1'), pool('b:2')],
      [worker('a:1:system:1', 'a:1'), worker('x:9:system:1', 'x:9')],
    );
    expect([...grouped.keys()]).toEqual(['a:1', 'b:2']);
    expect(grouped.get('a:1')?.map((w) => w.id)).toEqual(['a:1:system:1']);
    expect(grouped.get('b:2')).toEqual([]);
  });
});
