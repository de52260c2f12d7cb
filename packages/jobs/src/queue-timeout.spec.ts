import { describe, expect, it } from '@jest/globals';
import { QueueTimeoutError } from './errors.js';
import { withinQueueTimeout } from './queue-timeout.js';

describe('withinQueueTimeout', () => {
  it('answers with what the queue answered in time, value or error', async () => {
    await expect(withinQueueTimeout(Promise.resolve('job-1'), 1_000)).resolves.toBe('job-1');
    await expect(withinQueueTimeout(Promise.reject(new Error('READONLY')), 1_000)).rejects.toThrow('READONLY');
  });

  it('gives up with a QueueTimeoutError when the queue does not answer within the time', async () => {
    const started = Date.now();
    const never = new Promise<string>(() => undefined);
    const outcome = withinQueueTimeout(never, 50);
    await expect(outcome).rejects.toBeInstanceOf(QueueTimeoutError);
    await expect(outcome).rejects.toThrow('the job queue did not answer within 50 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });
});
