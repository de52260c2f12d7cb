import { connect, type Socket } from 'node:net';
import { type WrkResult } from './wrk.js';

export interface HeadLoad {
  url: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Closed-loop HEAD load over kept-alive raw sockets, reported like wrk. wrk itself cannot time HEAD:
 * its parser waits for the body that Content-Length announces and HEAD never sends (wg/wrk#198).
 * A HEAD answer is headers only, so each response ends at the first blank line.
 */
export async function headLoad(spec: HeadLoad): Promise<WrkResult> {
  const url = new URL(spec.url);
  if (url.protocol !== 'http:') throw new Error(`head load needs an http:// URL, got ${spec.url}`);
  const port = Number(url.port || 80);
  const extra = Object.entries(spec.headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const request = Buffer.from(`HEAD ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n${extra}\r\n`);
  const latencies: number[] = [];
  let failure: Error | undefined;
  const deadline = process.hrtime.bigint() + BigInt(Math.round(spec.seconds * 1e9));

  const connection = (): Promise<void> =>
    new Promise((resolve) => {
      let socket: Socket;
      let pending: Buffer = Buffer.alloc(0);
      let sentAt = 0n;
      let finished = false;
      const finish = (): void => {
        finished = true;
        socket.destroy();
        resolve();
      };
      const send = (): void => {
        if (failure || process.hrtime.bigint() >= deadline) {
          finish();
          return;
        }
        sentAt = process.hrtime.bigint();
        socket.write(request);
      };
      const open = (): void => {
        pending = Buffer.alloc(0);
        socket = connect({ host: url.hostname, port, noDelay: true });
        socket.once('connect', send);
        socket.on('data', (chunk: Buffer) => {
          pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
          const end = pending.indexOf(HEADER_END);
          if (end < 0) return;
          const head = pending.subarray(0, end).toString('latin1');
          pending = pending.subarray(end + HEADER_END.length);
          latencies.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
          const status = /^HTTP\/1\.[01] (\d{3})/.exec(head);
          if (!status || status[1] !== '200') {
            failure ??= new Error(`HEAD ${spec.url} answered "${head.split('\r\n')[0]}"`);
            finish();
          } else if (/^connection:\s*close/im.test(head)) {
            // The server ends this connection; the close handler opens the next one, as a client would.
            socket.end();
          } else {
            send();
          }
        });
        socket.once('error', (error) => {
          failure ??= error;
          finish();
        });
        socket.once('close', () => {
          if (!finished) open();
        });
      };
      open();
    });

  const began = process.hrtime.bigint();
  await Promise.all(Array.from({ length: spec.connections }, connection));
  const elapsed = Number(process.hrtime.bigint() - began) / 1e9;
  if (failure) throw failure;
  if (latencies.length === 0) throw new Error(`HEAD ${spec.url}: no response in ${spec.seconds} s`);
  latencies.sort((a, b) => a - b);
  return {
    requestsPerSecond: latencies.length / elapsed,
    p99Ms: latencies[Math.min(latencies.length - 1, Math.ceil(latencies.length * 0.99) - 1)],
    requests: latencies.length,
  };
}
