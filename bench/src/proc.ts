import { readFile, readdir } from 'node:fs/promises';
import { run } from './curl.js';

/**
 * Memory and CPU of a server as the kernel accounts them. A server may fork workers, so every
 * figure covers the process and all its live descendants.
 */
export async function processTree(pid: number): Promise<number[]> {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    const tasks = await readdir(`/proc/${pids[i]}/task`).catch(() => [] as string[]);
    for (const task of tasks) {
      const children = await readFile(`/proc/${pids[i]}/task/${task}/children`, 'utf8').catch(() => '');
      for (const child of children.split(' ')) if (child.trim()) pids.push(Number(child));
    }
  }
  return pids;
}

async function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) * 1024 : 0;
}

/** Resident bytes now, summed over the tree. */
export async function residentBytes(pid: number): Promise<number> {
  let total = 0;
  for (const member of await processTree(pid)) total += await statusField(member, 'VmRSS');
  return total;
}

/** Peak resident bytes since start (VmHWM), summed over the tree. */
export async function peakResidentBytes(pid: number): Promise<number> {
  let total = 0;
  for (const member of await processTree(pid)) total += await statusField(member, 'VmHWM');
  return total;
}

/**
 * Bytes the tree caused to be fetched from storage (`read_bytes` of /proc/<pid>/io, read-ahead included): what the
 * page cache could not answer.
 */
export async function storageReadBytes(pid: number): Promise<number> {
  let total = 0;
  for (const member of await processTree(pid)) {
    const text = await readFile(`/proc/${member}/io`, 'utf8').catch(() => '');
    const match = /^read_bytes:\s+(\d+)$/m.exec(text);
    if (match) total += Number(match[1]);
  }
  return total;
}

let ticksPerSecond: number | undefined;

async function clockTicks(): Promise<number> {
  if (ticksPerSecond === undefined) {
    const { code, stdout } = await run('getconf', ['CLK_TCK']);
    const value = Number(stdout.trim());
    ticksPerSecond = code === 0 && value > 0 ? value : 100;
  }
  return ticksPerSecond;
}

/** User + system CPU seconds of the tree, including children it has already reaped. */
export async function cpuSeconds(pid: number): Promise<number> {
  const hz = await clockTicks();
  let ticks = 0;
  for (const member of await processTree(pid)) {
    const stat = await readFile(`/proc/${member}/stat`, 'utf8').catch(() => '');
    // The command name may contain spaces and parentheses; fields are counted after its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields.length < 15) continue;
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  return ticks / hz;
}

/** Samples resident memory every few milliseconds while `work` runs; also catches peaks between samples via VmHWM. */
export async function withMemorySampler<T>(
  pid: number,
  work: () => Promise<T>,
): Promise<{ value: T; peakBytes: number }> {
  const hwmBefore = await peakResidentBytes(pid);
  let peak = await residentBytes(pid);
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, await residentBytes(pid));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  let value: T;
  try {
    value = await work();
  } finally {
    running = false;
    await sampler;
  }
  const hwmAfter = await peakResidentBytes(pid);
  // A new high-water mark can only have been set during this workload.
  if (hwmAfter > hwmBefore) peak = Math.max(peak, hwmAfter);
  return { value, peakBytes: peak };
}

/** Page-cache bytes waiting to be written back (Dirty + Writeback in /proc/meminfo). */
export async function dirtyBytes(): Promise<number> {
  const text = await readFile('/proc/meminfo', 'utf8');
  let total = 0;
  for (const field of ['Dirty', 'Writeback']) {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    if (match) total += Number(match[1]) * 1024;
  }
  return total;
}

/**
 * Writes back every dirty page of the machine (sync(1)) and returns how many bytes were waiting. Pages left dirty
 * (the test data written at the start, anything a server did not sync) are otherwise written back by the kernel
 * seconds later, on the CPU and the disk the next measurement uses; flushing before each timed workload keeps that
 * cost out of it.
 */
export async function flushDirtyPages(): Promise<number> {
  const before = await dirtyBytes();
  const { code, stderr } = await run('sync', []);
  if (code !== 0) throw new Error(`sync failed (exit ${code}): ${stderr.trim()}`);
  return before;
}
