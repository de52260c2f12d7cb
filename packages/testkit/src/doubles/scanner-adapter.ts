/*
 * ScannerAdapterDouble: a test double of an external scanner behind Harbor's Pluggable Scanner Adapter API v1. It
 * speaks the API (metadata, scan accepted with 202 and an id, report 302 with Refresh-After until ready, then 200;
 * 404 for an unknown scan; authentication checked as the registration is configured), but the reports are not its
 * own: each comes from the `produce` function the test gives, so the same scanner double (e.g. the Trivy double) can
 * stand behind the built-in path and behind this API.
 *
 * Kept free of Wharf's packages: requests and reports are `unknown` here.
 */
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo } from 'node:net';

const MIME = {
  metadata: 'application/vnd.scanner.adapter.metadata+json; version=1.0',
  scanRequest: 'application/vnd.scanner.adapter.scan.request+json; version=1.0',
  scanResponse: 'application/vnd.scanner.adapter.scan.response+json; version=1.0',
  error: 'application/vnd.scanner.adapter.error+json; version=1.0',
  vulnerabilityReport: 'application/vnd.security.vulnerability.report; version=1.1',
  harborVulnerabilityReport: 'application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0',
} as const;

/** The metadata the double answers unless the test gives its own: a Trivy adapter producing both report types. */
export const SCANNER_ADAPTER_DOUBLE_METADATA = {
  scanner: { name: 'Trivy', vendor: 'Aqua Security', version: 'v0.0.0-double' },
  capabilities: [
    {
      type: 'vulnerability',
      consumes_mime_types: [
        'application/vnd.oci.image.manifest.v1+json',
        'application/vnd.docker.distribution.manifest.v2+json',
      ],
      produces_mime_types: [MIME.vulnerabilityReport, MIME.harborVulnerabilityReport],
    },
  ],
  properties: { 'harbor.scanner-adapter/scanner-type': 'os-package-vulnerability' },
};

/** How the double checks callers, as a registration's `auth` and `access_credential` say. */
export type ScannerAdapterDoubleAuth =
  | { type: 'Basic'; username: string; password: string }
  | { type: 'Bearer'; token: string }
  | { type: 'APIKey'; key: string };

export interface ScannerAdapterDoubleOptions {
  /** The report of a scan, from the scan request the adapter received. A rejection fails the scan (500). */
  produce(request: unknown): Promise<unknown>;
  /** What GET /api/v1/metadata answers (default SCANNER_ADAPTER_DOUBLE_METADATA). */
  metadata?: unknown;
  /** Refuse (401) requests without these credentials; none: no authentication. */
  auth?: ScannerAdapterDoubleAuth;
  /** Reports asked for before they are served: each is answered 302 first (default 1). */
  notReadyPolls?: number;
  /** Refresh-After of a 302, in seconds (default 0, so tests poll quickly). */
  refreshAfterSeconds?: number;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Wait this long before answering any request, in milliseconds. */
  delayMs?: number;
}

/** A request the double received, for assertions (the headers as Node gives them, lower-case). */
export interface ScannerAdapterDoubleRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
}

export interface ScannerAdapterDouble {
  /**
   * The base URL to register, e.g. `http://127.0.0.1:41234`. Any path under it serves the API as well
   * (`${url}/a/api/v1/metadata`), so several registrations (whose URLs are unique) can share one double.
   */
  url: string;
  /** Every request received, in order. */
  readonly requests: ScannerAdapterDoubleRequest[];
  /** The scan requests accepted, by scan id. */
  readonly scans: ReadonlyMap<string, unknown>;
  close(): Promise<void>;
}

interface Scan {
  request: unknown;
  polls: number;
  outcome?: { ok: true; report: unknown } | { ok: false; message: string };
}

function send(response: ServerResponse, status: number, type: string | undefined, body?: unknown): void {
  if (type) response.setHeader('content-type', type);
  response.statusCode = status;
  response.end(body === undefined ? undefined : JSON.stringify(body));
}

function fail(response: ServerResponse, status: number, message: string): void {
  send(response, status, MIME.error, { error: { message } });
}

function authorized(request: IncomingMessage, auth: ScannerAdapterDoubleAuth | undefined): boolean {
  if (!auth) return true;
  switch (auth.type) {
    case 'Basic':
      return (
        request.headers.authorization === `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`
      );
    case 'Bearer':
      return request.headers.authorization === `Bearer ${auth.token}`;
    case 'APIKey':
      return request.headers['x-scanneradapter-api-key'] === auth.key;
  }
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

/** Whether the Accept header names `mime` (parameters compared too, spaces ignored). */
function accepts(header: string | undefined, mime: string): boolean {
  if (!header) return false;
  const normalise = (value: string) => value.replace(/\s+/g, '').toLowerCase();
  return header.split(/,(?![^;,]*=)/).some((part) => normalise(part) === normalise(mime));
}

/** Starts a Scanner Adapter API v1 test double on a free port of the loopback. */
export async function startScannerAdapterDouble(options: ScannerAdapterDoubleOptions): Promise<ScannerAdapterDouble> {
  const metadata = options.metadata ?? SCANNER_ADAPTER_DOUBLE_METADATA;
  const notReadyPolls = options.notReadyPolls ?? 1;
  const refreshAfter = options.refreshAfterSeconds ?? 0;
  const requests: ScannerAdapterDoubleRequest[] = [];
  const scans = new Map<string, Scan>();
  const requestsById = new Map<string, unknown>();

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    // An adapter may sit under a path prefix (`http://host/adapter-a`): the API starts at its /api/v1.
    const full = new URL(request.url ?? '/', 'http://double').pathname;
    const start = full.indexOf('/api/v1/');
    const path = start === -1 ? full : full.slice(start);
    let body: unknown;
    try {
      body = await readJson(request);
    } catch {
      fail(response, 400, 'the body is not JSON');
      return;
    }
    requests.push({ method: request.method ?? '', path: full, headers: { ...request.headers }, body });
    if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs).unref());
    if (!authorized(request, options.auth)) {
      fail(response, 401, 'unauthorized');
      return;
    }
    if (request.method === 'GET' && path === '/api/v1/metadata') {
      send(response, 200, MIME.metadata, metadata);
      return;
    }
    if (request.method === 'POST' && path === '/api/v1/scan') {
      const type = request.headers['content-type']?.replace(/\s+/g, '');
      if (type !== MIME.scanRequest.replace(/\s+/g, '')) {
        fail(response, 415, `unsupported media type ${request.headers['content-type'] ?? '(none)'}`);
        return;
      }
      const scanRequest = body as { artifact?: { digest?: unknown }; registry?: { url?: unknown } } | undefined;
      if (typeof scanRequest?.artifact?.digest !== 'string' || typeof scanRequest.registry?.url !== 'string') {
        fail(response, 422, 'the scan request names no artifact digest or registry URL');
        return;
      }
      const id = randomUUID();
      const scan: Scan = { request: body, polls: 0 };
      scans.set(id, scan);
      requestsById.set(id, body);
      options.produce(body).then(
        (report) => (scan.outcome = { ok: true, report }),
        (error: unknown) => (scan.outcome = { ok: false, message: (error as Error).message }),
      );
      send(response, 202, MIME.scanResponse, { id });
      return;
    }
    const report = /^\/api\/v1\/scan\/([^/]+)\/report$/.exec(path);
    if (request.method === 'GET' && report) {
      const scan = scans.get(decodeURIComponent(report[1] ?? ''));
      if (!scan) {
        fail(response, 404, `no scan ${report[1]}`);
        return;
      }
      const accept = request.headers.accept;
      if (!accepts(accept, MIME.vulnerabilityReport) && !accepts(accept, MIME.harborVulnerabilityReport)) {
        fail(response, 400, `unsupported report media type ${accept ?? '(none)'}`);
        return;
      }
      if (scan.polls < notReadyPolls || !scan.outcome) {
        scan.polls++;
        response.setHeader('refresh-after', String(refreshAfter));
        response.setHeader('location', `/api/v1/scan/${report[1]}/report`);
        send(response, 302, undefined);
        return;
      }
      if (!scan.outcome.ok) {
        fail(response, 500, scan.outcome.message);
        return;
      }
      const mime = accepts(accept, MIME.vulnerabilityReport)
        ? MIME.vulnerabilityReport
        : MIME.harborVulnerabilityReport;
      send(response, 200, mime, scan.outcome.report);
      return;
    }
    fail(response, 404, `no route ${request.method} ${path}`);
  };

  const listener = (request: IncomingMessage, response: ServerResponse) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) fail(response, 500, (error as Error).message);
      else response.destroy();
    });
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, listener) : createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    scans: requestsById,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
