import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';

export interface CurlTransfer {
  method: 'GET' | 'PUT' | 'PATCH';
  url: string;
  /** File streamed as the request body (`--upload-file`), as registry clients stream layers from disk. */
  bodyFile?: string;
  headers?: Record<string, string>;
  /** Where the response body goes; /dev/null for downloads. */
  output: string;
}

export interface CurlResult {
  status: number;
  /** Seconds from the start of this transfer to its end, as curl measured it (no process start-up). */
  seconds: number;
  downloaded: number;
  uploaded: number;
  location: string;
}

const SEPARATOR = '\u001f';
const WRITE_OUT = ['%{http_code}', '%{time_total}', '%{size_download}', '%{size_upload}', '%header{location}']
  .join(SEPARATOR)
  .concat('\\n');

/**
 * Runs transfers in one curl process, sequentially on one kept-alive connection or all at once
 * (`--parallel`). One process keeps the client's own cost out of the figures as far as possible.
 */
export async function curl(transfers: CurlTransfer[], parallel = false): Promise<CurlResult[]> {
  if (transfers.length === 0) return [];
  const args = ['--silent', '--show-error', '--noproxy', '*', '--http1.1'];
  if (parallel) args.push('--parallel', '--parallel-immediate', '--parallel-max', String(transfers.length));
  transfers.forEach((transfer, index) => {
    if (index > 0) args.push('--next');
    // curl would otherwise wait for "100 Continue" before every body over 1 MiB.
    args.push('-X', transfer.method, '-H', 'Expect:', '-o', transfer.output, '-w', WRITE_OUT);
    for (const [name, value] of Object.entries(transfer.headers ?? {})) args.push('-H', `${name}: ${value}`);
    // Streamed in curl's upload-buffer pieces: `--data-binary @file` would first read the whole file into the
    // client's memory, and copy it from there while sending; that client work would be timed with the server's.
    if (transfer.bodyFile) args.push('--upload-file', transfer.bodyFile);
    args.push(transfer.url);
  });
  const { code, stdout, stderr } = await run('curl', args);
  const lines = stdout.split('\n').filter((line) => line.length > 0);
  if (code !== 0 || lines.length !== transfers.length) {
    throw new Error(`curl exited with ${code} after ${lines.length}/${transfers.length} transfers: ${stderr.trim()}`);
  }
  // With --parallel the lines arrive in completion order, which is all the callers need.
  return lines.map((line) => {
    const [status, seconds, downloaded, uploaded, location] = line.split(SEPARATOR);
    return {
      status: Number(status),
      seconds: Number(seconds),
      downloaded: Number(downloaded),
      uploaded: Number(uploaded),
      location: location ?? '',
    };
  });
}

/** Fails with the response body (when it was kept in a file) unless every transfer got the status. */
export async function expectCurlStatus(
  results: CurlResult[],
  transfers: CurlTransfer[],
  expected: number,
): Promise<void> {
  const bad = results.find((result) => result.status !== expected);
  if (!bad) return;
  const outputs = transfers.map((transfer) => transfer.output).filter((output) => output !== '/dev/null');
  const body = outputs.length > 0 ? await readFile(outputs[0], 'utf8').catch(() => '') : '';
  throw new Error(
    `${transfers[0].method} ${transfers[0].url}: status ${bad.status}, expected ${expected} ${body.slice(0, 500)}`,
  );
}

export async function removeOutputs(transfers: CurlTransfer[]): Promise<void> {
  await Promise.all(transfers.filter((t) => t.output !== '/dev/null').map((t) => rm(t.output, { force: true })));
}

export function run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', (error) => reject(new Error(`cannot run ${command}: ${error.message}`)));
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
