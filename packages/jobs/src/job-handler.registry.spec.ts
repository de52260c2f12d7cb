import { JobName } from './enum.js';
import { JobHandlerBindingError } from './errors.js';
import { JobHandlerRegistry, providerInstances } from './job-handler.registry.js';
import { type JobPayload } from './job.declarations.js';
import { OnJob } from './on-job.decorator.js';

class MaintenanceService {
  calls: unknown[] = [];
  @OnJob(JobName.UploadPurge)
  purge(payload: JobPayload<JobName.UploadPurge>) {
    this.calls.push(payload);
    return payload.ageMs;
  }

  @OnJob(JobName.EventTrim)
  trim() {}
}

class OutboxService {
  @OnJob(JobName.OutboxDelivery)
  deliver(payload: JobPayload<JobName.OutboxDelivery>) {
    return payload.upToId;
  }
}

class SystemService {
  @OnJob(JobName.PurgeAuditLog)
  purgeAuditLog() {}

  @OnJob(JobName.ScheduledRun)
  fire() {}

  @OnJob(JobName.GarbageCollection)
  collect() {}
}

class RetentionService {
  @OnJob(JobName.Retention)
  retain() {}

  @OnJob(JobName.ScanArtifact)
  scan() {}
}

class SecondPurger {
  @OnJob(JobName.UploadPurge)
  alsoPurge() {}
}

class SecondDeliverer {
  @OnJob(JobName.OutboxDelivery)
  alsoDeliver() {}
}

function bindError(instances: object[], jobs?: JobName[]): JobHandlerBindingError {
  try {
    JobHandlerRegistry.bind(instances, { jobs });
  } catch (error) {
    if (error instanceof JobHandlerBindingError) return error;
    throw error;
  }
  throw new Error('bound');
}

describe('JobHandlerRegistry', () => {
  it('binds every declared job to its one handler, called on its instance', async () => {
    const maintenance = new MaintenanceService();
    const registry = JobHandlerRegistry.bind([
      maintenance,
      new OutboxService(),
      new SystemService(),
      new RetentionService(),
      { unrelated: true },
    ]);
    expect(registry.jobs.sort()).toEqual(Object.values(JobName).sort());
    const result = await registry
      .handler(JobName.UploadPurge)!
      .run(
        { ageMs: 5, dryRun: false },
        { id: '1', attempt: 1, signal: new AbortController().signal, log: () => Promise.resolve() },
      );
    expect(result).toBe(5);
    expect(maintenance.calls).toEqual([{ ageMs: 5, dryRun: false }]);
    expect(registry.handler(JobName.UploadPurge)!.owner).toBe('MaintenanceService.purge');
  });

  it('refuses to start, naming every job without a handler', () => {
    const error = bindError([new OutboxService(), new SystemService(), new RetentionService()]);
    expect(error.message).toBe(
      `job handlers do not match the declared jobs: no handler for ${JobName.UploadPurge}, ${JobName.EventTrim}`,
    );
    expect(error.missing.sort()).toEqual([JobName.EventTrim, JobName.UploadPurge].sort());
  });

  it('refuses to start, naming every job with two handlers and their owners', () => {
    const error = bindError([
      new MaintenanceService(),
      new OutboxService(),
      new SystemService(),
      new RetentionService(),
      new SecondPurger(),
      new SecondDeliverer(),
    ]);
    expect(error.message).toBe(
      'job handlers do not match the declared jobs: ' +
        `2 handlers for ${JobName.UploadPurge} (MaintenanceService.purge, SecondPurger.alsoPurge); ` +
        `2 handlers for ${JobName.OutboxDelivery} (OutboxService.deliver, SecondDeliverer.alsoDeliver)`,
    );
    expect(error.doubled).toEqual([JobName.UploadPurge, JobName.OutboxDelivery]);
  });

  it('counts one instance listed twice once', () => {
    const outbox = new OutboxService();
    expect(JobHandlerRegistry.bind([outbox, outbox], { jobs: [JobName.OutboxDelivery] }).jobs).toEqual([
      JobName.OutboxDelivery,
    ]);
  });

  it('runs a subset of jobs, still refusing doubles outside it', () => {
    const registry = JobHandlerRegistry.bind([new OutboxService()], { jobs: [JobName.OutboxDelivery] });
    expect(registry.jobs).toEqual([JobName.OutboxDelivery]);
    expect(registry.queues).toEqual(['events']);

    const error = bindError(
      [new OutboxService(), new SecondPurger(), new MaintenanceService()],
      [JobName.OutboxDelivery],
    );
    expect(error.message).toContain(`2 handlers for ${JobName.UploadPurge}`);
  });

  it('requires every job of a queue the subset works, since a worker takes any job from its queue', () => {
    const error = bindError([new SecondPurger()], [JobName.UploadPurge]);
    expect(error.message).toBe(
      `job handlers do not match the declared jobs: no handler for ${JobName.EventTrim} (shares queue maintenance)`,
    );
  });

  it('takes the providers of a Nest application from its DiscoveryService', () => {
    const outbox = new OutboxService();
    const discovery = { getProviders: () => [{ instance: outbox }, { instance: undefined }, { instance: 'value' }] };
    expect(providerInstances(discovery)).toEqual([outbox]);
  });
});

// The type checker holds a handler to its job's payload: `pnpm run typecheck` fails if this stops being an error.
export class MistypedHandler {
  // @ts-expect-error the purge's payload has no `repository`
  @OnJob(JobName.UploadPurge)
  purge(payload: { repository: string }) {
    return payload.repository;
  }
}
