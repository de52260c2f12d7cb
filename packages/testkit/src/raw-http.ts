import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** Every byte after the header block until the server closed the connection. */
  body: string;
}

/**
 * Sends bytes as they are over a new TCP connection and reads the server's answer until it closes the connection (a
 * request should say `Connection: close`). For what fetch cannot send: malformed HTTP, absolute-form targets, and
 * a HEAD whose answer must be checked for stray body bytes. Resolves undefined when the server closed the connection
 * without answering anything.
 */
export function rawRequest(
  baseUrl: string,
  data: string | Buffer,
  options: { halfClose?: boolean; timeoutMs?: number } = {},
): Promise<RawResponse | undefined> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    // Half-closing tells a server still waiting for the rest of a request that nothing more comes; Node's server
    // then drops a request in progress, so well-formed requests keep the connection open and say Connection: close.
    const socket = connect(Number(port), hostname, () => (options.halfClose ? socket.end(data) : socket.write(data)));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end of the answer within ${timeoutMs} ms: ${Buffer.concat(chunks).toString('latin1')}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The server may close while bytes of the request are still on their way; its answer is what counts.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      if (text === '') return resolve(undefined);
      const end = text.indexOf('\r\n\r\n');
      const head = end === -1 ? text : text.slice(0, end);
      const [statusLine, ...lines] = head.split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status, headers, body: end === -1 ? '' : text.slice(end + 4) });
    });
  });
}
