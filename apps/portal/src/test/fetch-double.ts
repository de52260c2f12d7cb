/**
 * A test double of the HTTP boundary: answers the requests the portal's client makes, from handlers a test gives,
 * and records every request so a test can check what was sent. Requests no handler answers fail the test loudly
 * with a 599 answer naming them.
 */
export interface RecordedRequest {
  method: string;
  /** Path and query as sent, e.g. `/api/v2.0/projects?page=1&page_size=25`. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: unknown;
}

export interface Reply {
  status?: number;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as it is, as text/plain (a log); instead of `body`. */
  text?: string;
  headers?: Record<string, string>;
}

export type Handler = {
  method: string;
  /** An exact path (without query) or a pattern tested against it. */
  path: string | RegExp;
  reply: Reply | ((request: RecordedRequest) => Reply | Promise<Reply>);
};

export interface FetchDouble {
  fetch: (request: Request) => Promise<Response>;
  requests: RecordedRequest[];
  /** Adds handlers; later ones win over earlier ones for the same request. */
  on(method: string, path: string | RegExp, reply: Handler['reply']): FetchDouble;
  unhandled: RecordedRequest[];
}

export const BASE_URL = 'http://wharf.test';

export function createFetchDouble(handlers: Handler[] = []): FetchDouble {
  const all = [...handlers];
  const requests: RecordedRequest[] = [];
  const unhandled: RecordedRequest[] = [];

  async function fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const text = request.method === 'GET' || request.method === 'HEAD' ? '' : await request.text();
    let body: unknown = text;
    if (text && (request.headers.get('Content-Type') ?? '').includes('json')) body = JSON.parse(text);
    const recorded: RecordedRequest = {
      method: request.method,
      url: url.pathname + url.search,
      path: url.pathname,
      query: url.searchParams,
      headers: request.headers,
      body,
    };
    requests.push(recorded);
    const handler = [...all]
      .reverse()
      .find(
        (h) =>
          h.method === request.method &&
          (typeof h.path === 'string' ? h.path === url.pathname : h.path.test(url.pathname)),
      );
    if (!handler) {
      unhandled.push(recorded);
      return new Response(
        JSON.stringify({ errors: [{ code: 'TEST', message: `no handler for ${request.method} ${url.pathname}` }] }),
        {
          status: 599,
          headers: { 'Content-Type': 'application/json' },
        },
      );
    }
    const reply = typeof handler.reply === 'function' ? await handler.reply(recorded) : handler.reply;
    const status = reply.status ?? 200;
    if (reply.text !== undefined) {
      return new Response(reply.text, { status, headers: { 'Content-Type': 'text/plain', ...reply.headers } });
    }
    const hasBody = reply.body !== undefined && status !== 204;
    return new Response(hasBody ? JSON.stringify(reply.body) : null, {
      status,
      headers: { ...(hasBody ? { 'Content-Type': 'application/json' } : {}), ...reply.headers },
    });
  }

  const double: FetchDouble = {
    fetch,
    requests,
    unhandled,
    on(method, path, reply) {
      all.push({ method, path, reply });
      return double;
    },
  };
  return double;
}

/** Harbor's error envelope. */
export function errorReply(status: number, code: string, message: string, requestId?: string): Reply {
  return {
    status,
    body: { errors: [{ code, message }] },
    ...(requestId ? { headers: { 'X-Request-Id': requestId } } : {}),
  };
}
