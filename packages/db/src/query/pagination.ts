import { QuerySyntaxError } from './query.error.js';

export interface Pagination {
  page: number;
  pageSize: number;
  /** Rows to skip: `(page - 1) * pageSize`. */
  offset: number;
}

/** PostgreSQL's int4 bound: far past any real page, and offsets stay exact JavaScript integers. */
const MAX_PAGE = 2_147_483_647;

function integerParameter(
  parameter: 'page' | 'page_size',
  raw: unknown,
  fallback: number,
  min: number,
  max: number,
): number {
  const bounds = `must be an integer from ${min} to ${max}`;
  if (raw === undefined || raw === null || raw === '') return fallback;
  if (Array.isArray(raw)) throw new QuerySyntaxError(parameter, `give it once; it ${bounds}`);
  let n: number;
  if (typeof raw === 'number') {
    n = raw;
  } else if (typeof raw === 'string' && /^[0-9]{1,10}$/.test(raw)) {
    // Decimal digits only: no sign, space, exponent or 0x, which Number() would read.
    n = Number(raw);
  } else {
    throw new QuerySyntaxError(parameter, `${bounds}, not ${JSON.stringify(raw)}`);
  }
  if (!Number.isInteger(n) || n < min || n > max) throw new QuerySyntaxError(parameter, `${bounds}, not ${String(n)}`);
  return n;
}

/**
 * Validates `page` and `page_size` as they arrive from a query string (strings) or a parsed body
 * (numbers); absent ones take the defaults, which Harbor's API sets to page 1 of 10.
 */
export function parsePagination(
  page: unknown,
  pageSize: unknown,
  defaults: { page: number; pageSize: number } = { page: 1, pageSize: 10 },
  max = 100,
): Pagination {
  const p = integerParameter('page', page, defaults.page, 1, MAX_PAGE);
  const size = integerParameter('page_size', pageSize, defaults.pageSize, 1, max);
  return { page: p, pageSize: size, offset: (p - 1) * size };
}

/**
 * RFC 3986 allows these in a query value unencoded; leaving them readable keeps links close to
 * Harbor's, which prints q in clear (`q=name=~nginx`). Everything that would change the meaning
 * of the URL or of the Link header ("&", "+", "#", "%", "<", ">", space, brackets) stays encoded.
 */
const READABLE = /%(2C|3D|3A|40|2F|3F|21|24|27|28|29|2A|3B)/gi;

function encode(text: string): string {
  return encodeURIComponent(text).replace(READABLE, (escaped) => decodeURIComponent(escaped));
}

function link(basePath: string, query: Record<string, string>, page: number, pageSize: number, rel: string): string {
  const all: Record<string, string> = { ...query, page: String(page), page_size: String(pageSize) };
  // Parameters sorted by name, as Harbor (Go's url.Values) writes them.
  const search = Object.keys(all)
    .sort()
    .map((name) => `${encode(name)}=${encode(all[name])}`)
    .join('&');
  return `<${basePath}?${search}>; rel="${rel}"`;
}

/**
 * The `Link` header of one page of a list, in Harbor's format:
 * `</api/v2.0/projects?page=1&page_size=10&q=…>; rel="prev" , <…?page=3…>; rel="next"`.
 * `query` holds the request's other parameters (q, sort, …), which the links keep; undefined
 * ones are left out. Returns undefined on a page with neither a previous nor a next page.
 */
export function paginationLinks(
  basePath: string,
  query: Record<string, string | undefined>,
  page: number,
  pageSize: number,
  total: number,
): string | undefined {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && name !== 'page' && name !== 'page_size') kept[name] = value;
  }
  const links: string[] = [];
  // A page past the end links back only if the previous page still holds rows, as Harbor does.
  if (page > 1 && (page - 1) * pageSize < total) links.push(link(basePath, kept, page - 1, pageSize, 'prev'));
  if (page * pageSize < total) links.push(link(basePath, kept, page + 1, pageSize, 'next'));
  return links.length === 0 ? undefined : links.join(' , ');
}
