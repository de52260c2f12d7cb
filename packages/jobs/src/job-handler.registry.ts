import { type JobName, type QueueName } from './enum.js';
import { JobHandlerBindingError } from './errors.js';
import { JOBS, isJobName, jobsOnQueue } from './job.declarations.js';
import { type JobContext, jobHandlerMarks } from './on-job.decorator.js';

export interface BoundJobHandler {
  /** `Class.method`, for logs and errors. */
  owner: string;
  run(payload: unknown, context: JobContext): Promise<unknown>;
}

/** The part of Nest's DiscoveryService the registry needs, so this package does not depend on Nest. */
export interface ProviderDiscovery {
  getProviders(): Array<{ instance: unknown }>;
}

/** Every instantiated provider of a Nest application, to hand to `JobHandlerRegistry.bind`. */
export function providerInstances(discovery: ProviderDiscovery): object[] {
  return discovery
    .getProviders()
    .map(({ instance }) => instance)
    .filter((instance): instance is object => typeof instance === 'object' && instance !== null);
}

export interface BindOptions {
  /**
   * Run only these jobs (and, as a queue is worked whole, every other job on their queues). Without it, every
   * declared job must have a handler.
   */
  jobs?: readonly JobName[];
}

/** Declared jobs paired one to one with the methods marked `@OnJob` on the given instances. */
export class JobHandlerRegistry {
  private constructor(private readonly handlers: ReadonlyMap<JobName, BoundJobHandler>) {}

  /**
   * Pairs jobs with handlers. Throws a JobHandlerBindingError naming every job that is required and has no
   * handler, and every job with two or more handlers (wherever they are, required or not).
   */
  static bind(instances: Iterable<object>, options: BindOptions = {}): JobHandlerRegistry {
    const found = new Map<JobName, BoundJobHandler[]>();
    const unknown: string[] = [];
    for (const instance of new Set(instances)) {
      for (const { job, method } of jobHandlerMarks(instance)) {
        const owner = `${instance.constructor.name}.${String(method)}`;
        if (!isJobName(job)) {
          unknown.push(`${owner} handles ${String(job)}, which is not a declared job`);
          continue;
        }
        const fn = (instance as Record<string | symbol, unknown>)[method];
        if (typeof fn !== 'function') continue;
        const list = found.get(job) ?? [];
        // A handler that throws before its first await still answers with a rejected promise.
        const run = (payload: unknown, context: JobContext) =>
          Promise.resolve().then(() => fn.call(instance, payload, context) as unknown);
        list.push({ owner, run });
        found.set(job, list);
      }
    }

    const required = new Set<JobName>();
    const wanted = options.jobs ?? (Object.keys(JOBS) as JobName[]);
    for (const job of wanted) for (const sibling of jobsOnQueue(JOBS[job].queue)) required.add(sibling);

    const missing = [...required].filter((job) => !found.has(job));
    const doubled = [...found].filter(([, list]) => list.length > 1);
    if (missing.length + doubled.length + unknown.length > 0) {
      const parts: string[] = [];
      if (missing.length > 0) {
        const requested = new Set(wanted);
        const why = (job: JobName) => (requested.has(job) ? job : `${job} (shares queue ${JOBS[job].queue})`);
        parts.push(`no handler for ${missing.map(why).join(', ')}`);
      }
      for (const [job, list] of doubled)
        parts.push(`${list.length} handlers for ${job} (${list.map((h) => h.owner).join(', ')})`);
      parts.push(...unknown);
      throw new JobHandlerBindingError(
        `job handlers do not match the declared jobs: ${parts.join('; ')}`,
        missing,
        doubled.map(([job]) => job),
      );
    }

    const handlers = new Map<JobName, BoundJobHandler>();
    for (const job of required) handlers.set(job, found.get(job)![0]);
    return new JobHandlerRegistry(handlers);
  }

  get jobs(): JobName[] {
    return [...this.handlers.keys()];
  }

  get queues(): QueueName[] {
    return [...new Set(this.jobs.map((job) => JOBS[job].queue))];
  }

  handler<N extends JobName>(job: N): BoundJobHandler | undefined {
    return this.handlers.get(job);
  }
}
