/**
 * Runs `work` every `intervalMs`, and at once with `immediately`, one run at a time: a run still going when the
 * next is due makes that one skip. The timer keeps no process alive. The returned function stops the schedule and
 * resolves once a run in progress has ended; `work` is given a function that tells whether the schedule has been
 * stopped, to end a long run early. `work` reports its own failures: it must not reject.
 */
export function repeatInBackground(
  work: (stopped: () => boolean) => Promise<void>,
  intervalMs: number,
  immediately = false,
): () => Promise<void> {
  let running: Promise<void> | undefined;
  let stopped = false;
  const isStopped = () => stopped;
  const run = (): void => {
    if (running || stopped) return;
    running = work(isStopped).finally(() => {
      running = undefined;
    });
  };
  if (immediately) run();
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
