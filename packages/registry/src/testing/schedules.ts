const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `stop` while the work it has to wait for is held by the test, then lets that work go (`release`). Resolves,
 * after a moment for any run that should not follow, to whether `stop` waited for the work.
 */
export async function stopWaitsForHeldWork(stop: () => Promise<void>, release: () => void): Promise<boolean> {
  let stopped = false;
  const stopping = stop().then(() => {
    stopped = true;
  });
  await pause(50);
  const waited = !stopped;
  release();
  await stopping;
  await pause(50);
  return waited;
}
