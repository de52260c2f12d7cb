import { type JobName } from './enum.js';
import { type JobPayload } from './job.declarations.js';

/** What a handler learns about the run besides its payload. */
export interface JobContext {
  /** BullMQ's id of the job. */
  id: string;
  /** 1 on the first run, 2 on the first retry, … */
  attempt: number;
  /**
   * Aborted when the run should end early: its execution was stopped (from any process), or this process shuts down.
   * A long handler checks it between units of work and returns (or throws) soon after.
   */
  signal: AbortSignal;
  /**
   * Appends a line to the task's log (bounded: the oldest text goes first); of a job that is not task-backed, to the
   * process's log.
   */
  log: (line: string) => Promise<void>;
}

export type JobHandler<N extends JobName> = (payload: JobPayload<N>, context: JobContext) => unknown;

interface HandlerMark {
  job: JobName;
  method: string | symbol;
}

// Kept beside the class rather than in reflect-metadata so plain classes need no polyfill.
const marks = new WeakMap<object, HandlerMark[]>();

/**
 * Binds the decorated method as the handler of job `name`. The method receives the job's parsed payload, so its
 * parameter type is checked against the declaration.
 */
export function OnJob<N extends JobName>(name: N) {
  return <M extends JobHandler<N>>(
    prototype: object,
    method: string | symbol,
    _descriptor: TypedPropertyDescriptor<M>,
  ) => {
    const own = marks.get(prototype) ?? [];
    own.push({ job: name, method });
    marks.set(prototype, own);
  };
}

/** The `@OnJob` marks on an instance's class and its ancestors, an overridden method counted once. */
export function jobHandlerMarks(instance: object): HandlerMark[] {
  const found: HandlerMark[] = [];
  const seen = new Set<string>();
  for (
    let proto = Object.getPrototypeOf(instance) as object | null;
    proto;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    for (const mark of marks.get(proto) ?? []) {
      const key = `${mark.job}\0${String(mark.method)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      found.push(mark);
    }
  }
  return found;
}
