import { run } from './curl.js';

export interface WrkResult {
  requestsPerSecond: number;
  p99Ms: number;
  requests: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** Reads requests/s and the 99th percentile from `wrk --latency`; non-2xx answers or socket errors are failures. */
export function parseWrkOutput(output: string): WrkResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(output);
  const total = /^\s+(\d+) requests in /m.exec(output);
  if (!rps || !p99 || !total) throw new Error(`unexpected wrk output:\n${output}`);
  if (Number(total[1]) === 0) throw new Error(`wrk completed no request:\n${output}`);
  const non2xx = /^\s+Non-2xx or 3xx responses:\s+(\d+)/m.exec(output);
  if (non2xx) throw new Error(`${non2xx[1]} of ${total[1]} requests got a non-2xx/3xx answer:\n${output}`);
  const errors = /^\s+Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/m.exec(output);
  if (errors && errors.slice(1).some((count) => Number(count) > 0)) {
    throw new Error(`wrk reported socket errors:\n${output}`);
  }
  return {
    requestsPerSecond: Number(rps[1]),
    p99Ms: Number(p99[1]) * UNIT_MS[p99[2]],
    requests: Number(total[1]),
  };
}

export interface WrkRun {
  url: string;
  /** HEAD is not here on purpose: see head-load.ts. */
  method: 'GET';
  headers: Record<string, string>;
  connections: number;
  seconds: number;
}

export async function wrk(spec: WrkRun): Promise<WrkResult> {
  const args = [
    '--threads',
    '2',
    '--connections',
    String(spec.connections),
    '--duration',
    `${spec.seconds}s`,
    '--timeout',
    '5s',
    '--latency',
  ];
  for (const [name, value] of Object.entries(spec.headers)) args.push('--header', `${name}: ${value}`);
  args.push(spec.url);
  const { code, stdout, stderr } = await run('wrk', args);
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${stderr.trim() || stdout.trim()}`);
  return parseWrkOutput(stdout);
}
