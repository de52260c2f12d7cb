/** A payload refused by its job's schema: nothing was enqueued or run. */
export class JobPayloadError extends Error {
  override readonly name = 'JobPayloadError';
  constructor(
    readonly job: string,
    readonly issues: string[],
  ) {
    super(`invalid payload for job ${job}: ${issues.join('; ')}`);
  }
}

/** The declared jobs and the handlers found do not pair one to one; the process must not start. */
export class JobHandlerBindingError extends Error {
  override readonly name = 'JobHandlerBindingError';
  constructor(
    message: string,
    readonly missing: string[],
    readonly doubled: string[],
  ) {
    super(message);
  }
}

/** A declaration that cannot run as written (unknown queue, a limit below one, …). */
export class JobDeclarationError extends Error {
  override readonly name = 'JobDeclarationError';
}

/** The job queue (Redis) did not answer in time; what was asked of it may still happen later. */
export class QueueTimeoutError extends Error {
  override readonly name = 'QueueTimeoutError';
  constructor(readonly ms: number) {
    super(`the job queue did not answer within ${ms} ms`);
  }
}
