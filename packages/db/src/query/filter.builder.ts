import { QuerySyntaxError } from './query.error.js';
import { type QueryTerm } from './query.parser.js';

export type FieldType = 'text' | 'int' | 'bool' | 'time';

/**
 * How one `q` key maps onto SQL. `column` is an SQL expression written by the list's author, never
 * by the user. Fuzzy and range matching are opt-in, so that every filter a list offers can be
 * backed by an index.
 *
 * With `array: true` the column is a PostgreSQL array of `type`'s SQL type (text[], bigint[],
 * boolean[], timestamptz[]) and a term matches when an element does: `{a b}` becomes `&&` and
 * `(a b)` becomes `@>`, both of which a GIN index serves. This is what makes "all of" useful,
 * e.g. `labels=(1 2)` for items carrying both labels.
 */
export interface FieldSpec {
  column: string;
  type: FieldType;
  fuzzy?: boolean;
  range?: boolean;
  array?: boolean;
}

const SQL_TYPE: Record<FieldType, string> = {
  text: 'text',
  int: 'bigint',
  bool: 'boolean',
  time: 'timestamptz',
};

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Escapes LIKE's wildcards so user text matches literally; pair it with `ESCAPE '\'`. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, '\\$&');
}

function convertInt(key: string, value: string): string {
  if (!/^[+-]?\d{1,19}$/.test(value)) {
    throw new QuerySyntaxError('q', `${JSON.stringify(key)} takes an integer, not ${JSON.stringify(value)}`);
  }
  const n = BigInt(value);
  if (n < INT64_MIN || n > INT64_MAX) {
    throw new QuerySyntaxError('q', `${JSON.stringify(key)} takes a 64-bit integer; ${value} is out of range`);
  }
  // Passed as text so values beyond 2^53 keep every digit on their way to PostgreSQL.
  return n.toString();
}

function convertBool(key: string, value: string): boolean {
  const lower = value.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  throw new QuerySyntaxError('q', `${JSON.stringify(key)} takes true or false, not ${JSON.stringify(value)}`);
}

// Harbor documents "2020-04-09 02:36:00" and parses "2020-04-09T02:36:00", both in UTC; RFC 3339 with an
// offset is accepted too. A "+" in an offset arrives as a space when the client did not encode it.
const TIME_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?(?:\s*(Z)|\s*([+\- ])(\d{2})(?::?(\d{2}))?)?)?$/i;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function convertTime(key: string, value: string): string {
  const fail = (): never => {
    throw new QuerySyntaxError(
      'q',
      `${JSON.stringify(key)} takes a time such as 2024-05-01, "2024-05-01 13:30:00" or 2024-05-01T13:30:00Z, not ${JSON.stringify(value)}`,
    );
  };
  const m = TIME_PATTERN.exec(value.trim());
  if (!m) return fail();
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', , sign, oh = '00', om = '00'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) fail();
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59 || Number(oh) > 15 || Number(om) > 59) fail();
  const offset = sign === undefined ? '+00:00' : `${sign === '-' ? '-' : '+'}${oh}:${om}`;
  return `${y}-${mo}-${d}T${h}:${mi}:${s}${frac === '' ? '' : `.${frac}`}${offset}`;
}

function convert(key: string, spec: FieldSpec, value: string): unknown {
  switch (spec.type) {
    case 'text':
      return value;
    case 'int':
      return convertInt(key, value);
    case 'bool':
      return convertBool(key, value);
    case 'time':
      return convertTime(key, value);
  }
}

function lookup(key: string, fields: Record<string, FieldSpec>): FieldSpec {
  if (!Object.hasOwn(fields, key)) {
    const valid = Object.keys(fields).sort();
    const hint = valid.length === 0 ? 'this list takes no q filters' : `valid keys are ${valid.join(', ')}`;
    throw new QuerySyntaxError('q', `unknown key ${JSON.stringify(key)}; ${hint}`);
  }
  return fields[key];
}

function termSql(term: QueryTerm, spec: FieldSpec, params: unknown[]): string | undefined {
  const { key } = term;
  const col = spec.column;
  const type = SQL_TYPE[spec.type];
  const param = (value: unknown, cast: string): string => `$${params.push(value)}::${cast}`;
  const elements = (condition: string): string => `EXISTS (SELECT 1 FROM unnest(${col}) AS e(v) WHERE ${condition})`;

  switch (term.match) {
    case 'exact': {
      const value = param(convert(key, spec, term.value), type);
      return spec.array ? `${value} = ANY(${col})` : `${col} = ${value}`;
    }
    case 'fuzzy': {
      if (spec.type !== 'text') {
        throw new QuerySyntaxError('q', `${JSON.stringify(key)} is not text, so fuzzy match "~" does not apply`);
      }
      if (!spec.fuzzy) throw new QuerySyntaxError('q', `${JSON.stringify(key)} does not support fuzzy match "~"`);
      const pattern = param(`%${escapeLike(term.value)}%`, 'text');
      return spec.array ? elements(`e.v ILIKE ${pattern} ESCAPE '\\'`) : `${col} ILIKE ${pattern} ESCAPE '\\'`;
    }
    case 'range': {
      if (spec.type === 'bool' || !spec.range) {
        throw new QuerySyntaxError('q', `${JSON.stringify(key)} does not support range "[min~max]"`);
      }
      const target = spec.array ? 'e.v' : col;
      const bounds: string[] = [];
      if (term.min !== undefined) bounds.push(`${target} >= ${param(convert(key, spec, term.min), type)}`);
      if (term.max !== undefined) bounds.push(`${target} <= ${param(convert(key, spec, term.max), type)}`);
      const condition = bounds.join(' AND ');
      return spec.array ? elements(condition) : condition;
    }
    case 'any':
    case 'all': {
      // Harbor ignores an empty list rather than matching nothing; clients rely on sending "{}".
      if (term.values.length === 0) return undefined;
      const list = param(
        term.values.map((v) => convert(key, spec, v)),
        `${type}[]`,
      );
      if (spec.array) return term.match === 'any' ? `${col} && ${list}` : `${col} @> ${list}`;
      return term.match === 'any' ? `${col} = ANY(${list})` : `${col} = ALL(${list})`;
    }
  }
}

/**
 * Turns parsed `q` terms into one SQL boolean expression (terms joined by AND), appending every
 * value to `params` and referring to it as `$n`. Returns `TRUE` when nothing filters.
 */
export function buildFilter(terms: readonly QueryTerm[], fields: Record<string, FieldSpec>, params: unknown[]): string {
  const conditions: string[] = [];
  for (const term of terms) {
    const sql = termSql(term, lookup(term.key, fields), params);
    if (sql !== undefined) conditions.push(`(${sql})`);
  }
  return conditions.length === 0 ? 'TRUE' : conditions.join(' AND ');
}
