import { StorageError } from './types.js';

export type WriterState = 'open' | 'closed' | 'committed' | 'cancelled';

/**
 * Runs a writer's operations one after another, so a caller that does not await write() still gets its bytes
 * in order, and refuses any operation once close, commit or cancel has begun. An operation may leave I/O running
 * when it ends (a write whose place in the object it has taken); the writer waits for that where it must.
 */
export class WriterOperations {
  state: WriterState = 'open';
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.tail.then(() => {
      if (this.state !== 'open') throw new StorageError(`writer is already ${this.state}`);
      return operation();
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}
