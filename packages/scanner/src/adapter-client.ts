/*
 * A client of Harbor's Pluggable Scanner Adapter API v1: what Wharf asks an external scanner (Trivy's, Grype's or
 * Clair's adapter) for. Every answer is validated before it is believed; every failure is a ScannerAdapterError that
 * says what the adapter answered, never what credential was sent.
 */
import { Agent, type Dispatcher, request } from 'undici';
import { z } from 'zod';
import {
  SEVERITIES,
  type ScanRequest,
  type ScannerAdapterMetadata,
  ScannerMime,
  type VulnerabilityReport,
} from './types.js';

/**
 * How a registration authenticates to its adapter, as Harbor names it: none (empty), `Basic` (the credential is
 * `user:password`), `Bearer` (the credential is the token) or the API key header (`X-ScannerAdapter-API-Key`, also
 * accepted as `APIKey`).
 */
export const SCANNER_AUTH_TYPES = ['', 'Basic', 'Bearer', 'X-ScannerAdapter-API-Key', 'APIKey'] as const;
export type ScannerAuthType = (typeof SCANNER_AUTH_TYPES)[number];

/** The header an API key travels in. */
export const API_KEY_HEADER = 'X-ScannerAdapter-API-Key';

/** Where an adapter is and how to talk to it: a scanner registration's connection settings. */
export interface ScannerEndpoint {
  /** The adapter's base URL (http or https); `/api/v1/...` is appended. */
  url: string;
  auth?: string;
  accessCredential?: string;
  /** Accept any certificate from this adapter (and this adapter only). */
  skipCertVerify?: boolean;
  /** Longest wait for one answer, in milliseconds (default 30 s). */
  timeoutMs?: number;
}

export type ScannerAdapterErrorKind =
  /** The adapter answered with an unexpected status; `status` and the adapter's message are given. */
  | 'status'
  /** The adapter could not be reached (refused, reset, DNS, TLS). */
  | 'unreachable'
  /** No answer in time. */
  | 'timeout'
  /** The adapter answered something that is not what the API defines. */
  | 'invalid'
  /** The caller gave up. */
  | 'aborted';

export class ScannerAdapterError extends Error {
  constructor(
    readonly kind: ScannerAdapterErrorKind,
    message: string,
    /** The adapter's HTTP status, when it answered. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ScannerAdapterError';
  }
}

/** A report the adapter is still producing: ask again after this many seconds. */
export interface ReportNotReady {
  ready: false;
  refreshAfterSeconds: number;
}
export interface ReportReady<T> {
  ready: true;
  report: T;
}

/** Harbor's vulnerability report media types: their reports are validated as VulnerabilityReport. */
const VULNERABILITY_MIMES: readonly string[] = [ScannerMime.VulnerabilityReport, ScannerMime.HarborVulnerabilityReport];
/** The report a media type yields: a VulnerabilityReport for the vulnerability types, else the parsed JSON. */
export type ReportOf<M extends string> = M extends
  typeof ScannerMime.VulnerabilityReport | typeof ScannerMime.HarborVulnerabilityReport
  ? VulnerabilityReport
  : unknown;

const DEFAULT_TIMEOUT_MS = 30_000;
/** Polling waits at least this long, whatever Refresh-After says, and at most MAX_POLL_MS. */
const MIN_POLL_MS = 100;
const MAX_POLL_MS = 60_000;
/** Without a usable Refresh-After, ask again after this long, as Harbor does. */
const DEFAULT_REFRESH_SECONDS = 5;
const METADATA_LIMIT = 1024 * 1024;
const REPORT_LIMIT = 256 * 1024 * 1024;

/** Null as absent: adapters written in Go send null for empty lists and strings. */
function optional<T extends z.ZodType>(schema: T) {
  return schema.nullish().transform((value) => value ?? undefined);
}

const ScannerInfoSchema = z.object({ name: z.string().min(1), vendor: z.string(), version: z.string() });

const MetadataSchema = z.object({
  scanner: ScannerInfoSchema,
  capabilities: z
    .array(
      z.object({
        type: optional(z.enum(['vulnerability', 'sbom'])),
        consumes_mime_types: z.array(z.string()),
        produces_mime_types: z.array(z.string()),
      }),
    )
    .min(1),
  properties: optional(z.record(z.string(), z.string())),
});

const ScanResponseSchema = z.object({ id: z.string().min(1).max(1024) });

const VulnerabilityItemSchema = z.object({
  id: z.string().min(1),
  package: z.string(),
  version: z.string(),
  fix_version: optional(z.string()),
  severity: z.enum(SEVERITIES),
  description: optional(z.string()),
  links: optional(z.array(z.string())),
  layer: optional(z.object({ digest: optional(z.string()), diff_id: optional(z.string()) })),
  preferred_cvss: optional(
    z.object({
      score_v2: z.number().nullish(),
      score_v3: z.number().nullish(),
      vector_v2: optional(z.string()),
      vector_v3: optional(z.string()),
    }),
  ),
  cwe_ids: optional(z.array(z.string())),
  vendor_attributes: optional(z.record(z.string(), z.unknown())),
});

const VulnerabilityReportSchema = z.object({
  generated_at: z.string(),
  artifact: optional(z.object({ repository: z.string(), digest: z.string(), mime_type: z.string() })),
  scanner: ScannerInfoSchema,
  severity: z.enum(SEVERITIES),
  vulnerabilities: z
    .array(VulnerabilityItemSchema)
    .nullish()
    .transform((value) => value ?? []),
});

const ErrorResponseSchema = z.object({ error: z.object({ message: z.string() }) });

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}

/** Validates a Harbor vulnerability report from any source (an adapter, a stored report). */
export function parseVulnerabilityReport(value: unknown): VulnerabilityReport {
  const parsed = VulnerabilityReportSchema.safeParse(value);
  if (!parsed.success) {
    throw new ScannerAdapterError('invalid', `not a Harbor vulnerability report: ${describeIssues(parsed.error)}`);
  }
  return parsed.data;
}

/** Validates an adapter's metadata. */
export function parseScannerMetadata(value: unknown): ScannerAdapterMetadata {
  const parsed = MetadataSchema.safeParse(value);
  if (!parsed.success) {
    throw new ScannerAdapterError('invalid', `not scanner adapter metadata: ${describeIssues(parsed.error)}`);
  }
  return parsed.data;
}

/** The headers that authenticate a request to the adapter; none when the registration has no auth. */
export function authorizationHeaders(auth: string | undefined, credential: string | undefined): Record<string, string> {
  if (!auth) return {};
  if (!credential) throw new ScannerAdapterError('invalid', `auth ${auth} needs an access credential`);
  switch (auth) {
    case 'Basic':
      if (!credential.includes(':')) {
        throw new ScannerAdapterError('invalid', 'a Basic access credential is user:password');
      }
      return { authorization: `Basic ${Buffer.from(credential, 'utf8').toString('base64')}` };
    case 'Bearer':
      return { authorization: `Bearer ${credential}` };
    case 'APIKey':
    case API_KEY_HEADER:
      return { [API_KEY_HEADER.toLowerCase()]: credential };
    default:
      throw new ScannerAdapterError('invalid', `unknown auth ${JSON.stringify(auth)}`);
  }
}

/** The adapter's base URL, once it is one: http or https, no query, no fragment, no user info. */
export function adapterBaseUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ScannerAdapterError('invalid', `${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ScannerAdapterError('invalid', `a scanner adapter URL is http or https, not ${parsed.protocol}`);
  }
  if (parsed.username || parsed.password) {
    throw new ScannerAdapterError('invalid', 'a scanner adapter URL holds no credentials; use auth instead');
  }
  if (parsed.search || parsed.hash) {
    throw new ScannerAdapterError('invalid', 'a scanner adapter URL has no query or fragment');
  }
  return parsed;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

async function readLimited(body: Dispatcher.ResponseData['body'], limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      body.destroy();
      throw new ScannerAdapterError('invalid', `the answer is larger than ${limit} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Seconds of a Refresh-After header, or the default when absent or not a number. */
function refreshAfter(header: string | string[] | undefined): number {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !/^\s*\d+(\.\d+)?\s*$/.test(value)) return DEFAULT_REFRESH_SECONDS;
  return Number(value);
}

/** Talks to one scanner adapter with one registration's settings. */
export class ScannerAdapterClient {
  private readonly base: URL;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  /** Its own connection pool when certificates are not checked, so no other adapter shares that. */
  private readonly insecureAgent: Agent | undefined;

  constructor(endpoint: ScannerEndpoint) {
    this.base = adapterBaseUrl(endpoint.url);
    this.headers = authorizationHeaders(endpoint.auth, endpoint.accessCredential);
    this.timeoutMs = endpoint.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.insecureAgent = endpoint.skipCertVerify ? new Agent({ connect: { rejectUnauthorized: false } }) : undefined;
  }

  /** GET /api/v1/metadata: the scanner behind the adapter and what it can do. */
  async metadata(options: { signal?: AbortSignal } = {}): Promise<ScannerAdapterMetadata> {
    const answer = await this.call('GET', 'metadata', { accept: ScannerMime.Metadata }, undefined, options.signal);
    if (answer.status !== 200) throw this.statusError('metadata', answer);
    return parseScannerMetadata(this.json(answer));
  }

  /** POST /api/v1/scan: the adapter accepts the scan (202) and names it. */
  async submitScan(scan: ScanRequest, options: { signal?: AbortSignal } = {}): Promise<{ id: string }> {
    const answer = await this.call(
      'POST',
      'scan',
      { accept: ScannerMime.ScanResponse, 'content-type': ScannerMime.ScanRequest },
      JSON.stringify(scan),
      options.signal,
    );
    if (answer.status !== 202) throw this.statusError('scan', answer);
    const parsed = ScanResponseSchema.safeParse(this.json(answer));
    if (!parsed.success) {
      throw new ScannerAdapterError('invalid', `the scan answer names no scan: ${describeIssues(parsed.error)}`);
    }
    return { id: parsed.data.id };
  }

  /**
   * GET /api/v1/scan/{id}/report: the report in `mime` (200), or not ready yet (302 with Refresh-After). An unknown
   * scan is an error with status 404.
   */
  async getReport<M extends string>(
    id: string,
    mime: M,
    options: { signal?: AbortSignal } = {},
  ): Promise<ReportReady<ReportOf<M>> | ReportNotReady> {
    const answer = await this.call(
      'GET',
      `scan/${encodeURIComponent(id)}/report`,
      { accept: mime },
      undefined,
      options.signal,
      REPORT_LIMIT,
    );
    if (answer.status === 302)
      return { ready: false, refreshAfterSeconds: refreshAfter(answer.headers['refresh-after']) };
    if (answer.status !== 200) throw this.statusError(`report of scan ${id}`, answer);
    const json = this.json(answer);
    const report = VULNERABILITY_MIMES.includes(mime) ? parseVulnerabilityReport(json) : json;
    return { ready: true, report: report as ReportOf<M> };
  }

  /**
   * Asks for the report until it is ready, waiting as long as each Refresh-After says (at least 100 ms, at most a
   * minute), for `timeoutMs` at most (default 10 minutes) or until `signal` aborts.
   */
  async waitForReport<M extends string>(
    id: string,
    mime: M,
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<ReportOf<M>> {
    const timeoutMs = options.timeoutMs ?? 10 * 60_000;
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
    try {
      for (;;) {
        const state = await this.getReport(id, mime, { signal });
        if (state.ready) return state.report;
        const wait = Math.min(Math.max(state.refreshAfterSeconds * 1000, MIN_POLL_MS), MAX_POLL_MS);
        await sleep(wait, signal);
      }
    } catch (error) {
      if (options.signal?.aborted) {
        if (error instanceof ScannerAdapterError && error.kind === 'aborted') throw error;
        throw new ScannerAdapterError('aborted', `waiting for the report of scan ${id} was aborted`, undefined, {
          cause: error,
        });
      }
      if (deadline.aborted) {
        throw new ScannerAdapterError(
          'timeout',
          `the report of scan ${id} was not ready within ${timeoutMs} ms`,
          undefined,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }

  /** Closes the connections of this client's own pool (a client that checks certificates has none). */
  async close(): Promise<void> {
    await this.insecureAgent?.close();
  }

  private endpoint(path: string): URL {
    const base = this.base.href.endsWith('/') ? this.base.href : `${this.base.href}/`;
    return new URL(`api/v1/${path}`, base);
  }

  private async call(
    method: 'GET' | 'POST',
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    callerSignal: AbortSignal | undefined,
    limit = METADATA_LIMIT,
  ): Promise<Answer> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = callerSignal ? AbortSignal.any([callerSignal, timeout]) : timeout;
    const url = this.endpoint(path);
    try {
      const response = await request(url, {
        method,
        headers: { ...headers, ...this.headers },
        body,
        signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        ...(this.insecureAgent ? { dispatcher: this.insecureAgent } : {}),
      });
      const data = await readLimited(response.body, limit);
      return { status: response.statusCode, headers: response.headers, body: data };
    } catch (error) {
      if (error instanceof ScannerAdapterError) throw error;
      if (callerSignal?.aborted) {
        throw new ScannerAdapterError('aborted', `${method} ${url.pathname} was aborted`, undefined, { cause: error });
      }
      const code = (error as { code?: string }).code;
      if (timeout.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        throw new ScannerAdapterError(
          'timeout',
          `the scanner adapter at ${this.base.origin} did not answer ${method} ${url.pathname} within ${this.timeoutMs} ms`,
          undefined,
          { cause: error },
        );
      }
      const reason = (error as Error).message || code || 'connection failed';
      throw new ScannerAdapterError(
        'unreachable',
        `the scanner adapter at ${this.base.origin} cannot be reached: ${reason}`,
        undefined,
        { cause: error },
      );
    }
  }

  private json(answer: Answer): unknown {
    try {
      return JSON.parse(answer.body.toString('utf8')) as unknown;
    } catch {
      throw new ScannerAdapterError(
        'invalid',
        'the scanner adapter answered something that is not JSON',
        answer.status,
      );
    }
  }

  /** The adapter's ErrorResponse message with its status, or the status alone. */
  private statusError(what: string, answer: Answer): ScannerAdapterError {
    let detail = '';
    try {
      const parsed = ErrorResponseSchema.safeParse(JSON.parse(answer.body.toString('utf8')));
      if (parsed.success) detail = `: ${parsed.data.error.message.slice(0, 1000)}`;
    } catch {
      // Not an ErrorResponse: the status says enough.
    }
    return new ScannerAdapterError(
      'status',
      `the scanner adapter answered ${answer.status} to ${what}${detail}`,
      answer.status,
    );
  }
}
