import createClient, { type Client, type Middleware } from 'openapi-fetch';
import { type components, type paths } from './schema.js';

export const SESSION_COOKIE = 'sid';
export const CSRF_HEADER = 'X-Harbor-CSRF-Token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export type ApiErrors = components['schemas']['Errors'];

/** An answer of the API that is not a success, with Harbor's error envelope when the server sent one. */
export class WharfApiError extends Error {
  constructor(
    readonly status: number,
    readonly errors: ApiErrors['errors'],
    readonly requestId: string | undefined,
  ) {
    const detail = errors.map((e) => `${e.code}: ${e.message}`).join('; ') || `HTTP ${status}`;
    super(requestId ? `${detail} (request ${requestId})` : detail);
    this.name = 'WharfApiError';
  }
}

function errorsOf(body: unknown): ApiErrors['errors'] {
  if (typeof body !== 'object' || body === null) return [];
  const errors = (body as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return [];
  return errors.filter(
    (e): e is { code: string; message: string } =>
      typeof e === 'object' &&
      e !== null &&
      typeof (e as { code?: unknown }).code === 'string' &&
      typeof (e as { message?: unknown }).message === 'string',
  );
}

/** Throws a WharfApiError for a failed openapi-fetch call, else gives its data. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok) return result.data as T;
  throw new WharfApiError(
    result.response.status,
    errorsOf(result.error),
    result.response.headers.get('X-Request-Id') ?? undefined,
  );
}

export interface WharfClientOptions {
  /** Where Wharf is, without a path: `https://registry.example.com`. */
  baseUrl: string;
  /** A user's name and password, or a robot's name (`robot$…`) and secret, sent as basic credentials. */
  auth?: { username: string; password: string };
  /** The fetch to use; the global one by default. */
  fetch?: (request: Request) => Promise<Response>;
}

export interface WharfClient extends Client<paths> {
  /**
   * Opens a portal session as `principal` (POST /c/login). Afterwards requests go with the session instead of any
   * basic credentials, and changes carry the session's CSRF token. Throws WharfApiError when refused.
   */
  login(principal: string, password: string): Promise<void>;
  /** Ends the portal session (GET /c/logout) and forgets it. */
  logout(): Promise<void>;
  /** Whether the client holds a portal session (in a browser: whether it logged in). */
  readonly hasSession: boolean;
}

function basic(auth: { username: string; password: string }): string {
  const bytes = new TextEncoder().encode(`${auth.username}:${auth.password}`);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `Basic ${btoa(binary)}`;
}

/** The value `Set-Cookie` gives the session cookie: a string, '' when it clears it, undefined when it is not set. */
function sessionFromSetCookie(headers: Headers): string | undefined {
  const cookies = typeof headers.getSetCookie === 'function' ? headers.getSetCookie() : [];
  let value: string | undefined;
  for (const cookie of cookies) {
    const [pair = '', ...attributes] = cookie.split(';');
    const equals = pair.indexOf('=');
    if (equals < 0 || pair.slice(0, equals).trim() !== SESSION_COOKIE) continue;
    const expired = attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
    value = expired ? '' : decodeURIComponent(pair.slice(equals + 1).trim());
  }
  return value;
}

/**
 * A typed client of Wharf's API (`client.GET('/api/v2.0/projects', { params: { query: { page: 1 } } })`), with the
 * portal's session handling: in a browser the cookie travels by itself and the client only keeps the CSRF token;
 * elsewhere (Node) it keeps the session cookie too, since there is no cookie jar.
 */
export function createWharfClient(options: WharfClientOptions): WharfClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  let authorization = options.auth ? basic(options.auth) : undefined;
  let sessionId: string | undefined;
  let csrfToken: string | undefined;
  let loggedIn = false;

  const client = createClient<paths>({
    baseUrl,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });

  const session: Middleware = {
    onRequest({ request }) {
      if (authorization && !request.headers.has('Authorization')) request.headers.set('Authorization', authorization);
      if (sessionId) request.headers.set('Cookie', `${SESSION_COOKIE}=${encodeURIComponent(sessionId)}`);
      if (csrfToken && !SAFE_METHODS.has(request.method)) request.headers.set(CSRF_HEADER, csrfToken);
      return request;
    },
    onResponse({ response }) {
      const token = response.headers.get(CSRF_HEADER);
      if (token) csrfToken = token;
      const cookie = sessionFromSetCookie(response.headers);
      if (cookie !== undefined) sessionId = cookie || undefined;
      return response;
    },
  };
  client.use(session);

  const wharf = Object.assign(client, {
    async login(principal: string, password: string): Promise<void> {
      // The login itself goes without basic credentials, which would take precedence over the form.
      authorization = undefined;
      sessionId = undefined;
      csrfToken = undefined;
      loggedIn = false;
      unwrap(await client.POST('/c/login', { body: { principal, password } }));
      loggedIn = true;
    },
    async logout(): Promise<void> {
      try {
        unwrap(await client.GET('/c/logout'));
      } finally {
        sessionId = undefined;
        csrfToken = undefined;
        loggedIn = false;
      }
    },
  });
  return Object.defineProperty(wharf, 'hasSession', { get: () => loggedIn, enumerable: true }) as WharfClient;
}
