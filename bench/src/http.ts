import { Agent, request } from 'node:http';

export interface SmallResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

// Control requests (upload sessions, manifests, tag lists) are small; Node's client is fine for them.
// Blob bytes never go through here: see curl.ts.
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export function send(
  method: string,
  url: string,
  headers: Record<string, string> = {},
  body?: Buffer | string,
): Promise<SmallResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(body);
    const req = request(
      url,
      { method, agent, headers: { ...headers, 'content-length': String(payload?.length ?? 0) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('error', reject);
        res.once('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.once('error', (error) => reject(new Error(`${method} ${url}: ${error.message}`, { cause: error })));
    req.end(payload);
  });
}

/** Sends a request and fails with the registry's own error text unless the status is the expected one. */
export async function expectStatus(
  expected: number | number[],
  method: string,
  url: string,
  headers: Record<string, string> = {},
  body?: Buffer | string,
): Promise<SmallResponse> {
  const res = await send(method, url, headers, body);
  const allowed = Array.isArray(expected) ? expected : [expected];
  if (!allowed.includes(res.status)) {
    throw new Error(
      `${method} ${url} answered ${res.status}, expected ${allowed.join(' or ')}: ${res.body.toString('utf8', 0, 500)}`,
    );
  }
  return res;
}

export function header(res: SmallResponse, name: string): string {
  const value = res.headers[name.toLowerCase()];
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) throw new Error(`response has no ${name} header`);
  return text;
}

/** Resolves a Location header (absolute or relative) and adds a query parameter the spec way. */
export function withQuery(base: string, location: string, params: Record<string, string>): string {
  const url = new URL(location, base);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

export function closeConnections(): void {
  agent.destroy();
}
