import { QuerySyntaxError } from './query.error.js';

/**
 * One `key<op>value` term of a list's `q` parameter, with values still as text: what they mean
 * (integer, time, …) depends on the field, which only the list that owns it knows.
 *
 * - `exact`  `k=v`
 * - `fuzzy`  `k=~v`
 * - `range`  `k=[min~max]`, either bound may be left out
 * - `any`    `k={a b c}`  matches one of the values (Harbor: "list with union relationship")
 * - `all`    `k=(a b c)`  matches every value (Harbor: "list with intersection relationship")
 */
export type QueryTerm =
  | { key: string; match: 'exact'; value: string }
  | { key: string; match: 'fuzzy'; value: string }
  | { key: string; match: 'range'; min?: string; max?: string }
  | { key: string; match: 'any'; values: string[] }
  | { key: string; match: 'all'; values: string[] };

export interface SortTerm {
  key: string;
  descending: boolean;
}

/** Long enough to show the user where a term went wrong, short enough to keep a message readable. */
const QUOTE_LIMIT = 60;

function quote(text: string): string {
  return JSON.stringify(text.length > QUOTE_LIMIT ? `${text.slice(0, QUOTE_LIMIT)}…` : text);
}

/**
 * Terms may arrive URL-encoded a second time (Harbor clients send `q=tags%3Dnil`), which is also
 * the only way to put a literal "," inside a value. Text that is not valid percent-encoding, such
 * as a bare "%" in a fuzzy search, is taken as typed, as Harbor does.
 */
function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function single(parameter: 'q' | 'sort', raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (Array.isArray(raw)) {
    throw new QuerySyntaxError(parameter, `give one ${parameter} parameter and separate its parts with ","`);
  }
  if (typeof raw !== 'string') throw new QuerySyntaxError(parameter, 'must be a string');
  return raw;
}

/** Harbor documents range and list values as optionally quoted; lists still split at every space, quoted or not. */
function unquote(value: string): string {
  const first = value[0];
  if (value.length >= 2 && (first === '"' || first === "'") && value.endsWith(first)) return value.slice(1, -1);
  return value;
}

function parseRange(key: string, value: string, term: string): QueryTerm {
  const inner = value.slice(1, -1);
  const parts = inner.split('~');
  if (!value.endsWith(']') || parts.length !== 2) {
    throw new QuerySyntaxError('q', `range ${quote(term)} must look like [min~max], [min~] or [~max]`);
  }
  const min = unquote(parts[0].trim());
  const max = unquote(parts[1].trim());
  if (min === '' && max === '') {
    throw new QuerySyntaxError('q', `range ${quote(term)} needs at least one bound`);
  }
  return {
    key,
    match: 'range',
    ...(min === '' ? {} : { min }),
    ...(max === '' ? {} : { max }),
  };
}

function parseList(key: string, value: string, term: string, match: 'any' | 'all'): QueryTerm {
  const close = match === 'any' ? '}' : ')';
  if (!value.endsWith(close) || value.length < 2) {
    throw new QuerySyntaxError('q', `list ${quote(term)} must end with "${close}"`);
  }
  const values = value
    .slice(1, -1)
    .split(/\s+/)
    .map(unquote)
    .filter((v) => v !== '');
  return { key, match, values };
}

function parseTerm(raw: string): QueryTerm {
  const term = decode(raw);
  const eq = term.indexOf('=');
  const key = eq < 0 ? '' : term.slice(0, eq).trim();
  if (key === '') throw new QuerySyntaxError('q', `expected key=value at ${quote(term)}`);
  const value = term.slice(eq + 1);
  if (value === '') throw new QuerySyntaxError('q', `${quote(key)} has no value at ${quote(term)}`);
  switch (value[0]) {
    case '~': {
      if (value.length === 1) throw new QuerySyntaxError('q', `fuzzy match ${quote(term)} needs text after "~"`);
      return { key, match: 'fuzzy', value: value.slice(1) };
    }
    case '[':
      return parseRange(key, value, term);
    case '{':
      return parseList(key, value, term, 'any');
    case '(':
      return parseList(key, value, term, 'all');
    case '\\':
      // A leading backslash makes the rest literal, so exact values may start with ~ [ { ( or \.
      return { key, match: 'exact', value: value.slice(1) };
    default:
      return { key, match: 'exact', value };
  }
}

/**
 * Parses Harbor's `q` syntax: comma-separated terms, e.g. `name=~nginx,creation_time=[2024-01-01~]`.
 * An absent or empty `q` gives no terms.
 */
export function parseQuery(raw: unknown): QueryTerm[] {
  const q = single('q', raw);
  if (q === undefined || q.trim() === '') return [];
  return q.split(',').map((part) => {
    if (part.trim() === '')
      throw new QuerySyntaxError('q', `expected key=value at ${quote(part)} (is there a stray ","?)`);
    return parseTerm(part);
  });
}

/** Parses `sort=key1,-key2`: keys in priority order, "-" for descending. Keys are checked by `buildOrderBy`. */
export function parseSort(raw: unknown): SortTerm[] {
  const sort = single('sort', raw);
  if (sort === undefined || sort.trim() === '') return [];
  return sort.split(',').map((part) => {
    const item = part.trim();
    const descending = item.startsWith('-');
    const key = descending ? item.slice(1).trim() : item;
    if (key === '') throw new QuerySyntaxError('sort', `expected a key at ${quote(part)}`);
    return { key, descending };
  });
}
