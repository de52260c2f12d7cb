import { describe, expect, it } from '@jest/globals';
import { buildFilter, escapeLike, type FieldSpec } from './filter.builder.js';
import { QuerySyntaxError } from './query.error.js';
import { parseQuery } from './query.parser.js';

const FIELDS: Record<string, FieldSpec> = {
  name: { column: 'p.name', type: 'text', fuzzy: true },
  owner: { column: 'p.owner_name', type: 'text' },
  id: { column: 'p.project_id', type: 'int', range: true },
  public: { column: 'p.public', type: 'bool' },
  creation_time: { column: 'p.creation_time', type: 'time', range: true },
  tags: { column: 'a.tags', type: 'text', array: true, fuzzy: true },
  labels: { column: 'a.label_ids', type: 'int', array: true, range: true },
};

function build(q: string): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  return { sql: buildFilter(parseQuery(q), FIELDS, params), params };
}

function message(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof QuerySyntaxError) return error.message;
    throw error;
  }
  throw new Error('expected a QuerySyntaxError');
}

describe('buildFilter', () => {
  it('gives TRUE and no parameters when nothing filters', () => {
    expect(build('')).toEqual({ sql: 'TRUE', params: [] });
    expect(build('id={}')).toEqual({ sql: 'TRUE', params: [] });
  });

  it('builds each kind of term on a scalar column', () => {
    expect(build('owner=admin')).toEqual({ sql: '(p.owner_name = $1::text)', params: ['admin'] });
    expect(build('name=~ngi')).toEqual({ sql: "(p.name ILIKE $1::text ESCAPE '\\')", params: ['%ngi%'] });
    expect(build('id=[1~9]')).toEqual({
      sql: '(p.project_id >= $1::bigint AND p.project_id <= $2::bigint)',
      params: ['1', '9'],
    });
    expect(build('id=[~9]')).toEqual({ sql: '(p.project_id <= $1::bigint)', params: ['9'] });
    expect(build('id={1 2 3}')).toEqual({ sql: '(p.project_id = ANY($1::bigint[]))', params: [['1', '2', '3']] });
    expect(build('id=(4 4)')).toEqual({ sql: '(p.project_id = ALL($1::bigint[]))', params: [['4', '4']] });
    expect(build('public=TRUE')).toEqual({ sql: '(p.public = $1::boolean)', params: [true] });
  });

  it('builds each kind of term on an array column', () => {
    expect(build('tags=v1').sql).toBe('($1::text = ANY(a.tags))');
    expect(build('tags=~rc')).toEqual({
      sql: "(EXISTS (SELECT 1 FROM unnest(a.tags) AS e(v) WHERE e.v ILIKE $1::text ESCAPE '\\'))",
      params: ['%rc%'],
    });
    expect(build('labels=[2~]').sql).toBe(
      '(EXISTS (SELECT 1 FROM unnest(a.label_ids) AS e(v) WHERE e.v >= $1::bigint))',
    );
    expect(build('labels={1 2}')).toEqual({ sql: '(a.label_ids && $1::bigint[])', params: [['1', '2']] });
    expect(build('labels=(1 2)')).toEqual({ sql: '(a.label_ids @> $1::bigint[])', params: [['1', '2']] });
  });

  it('joins terms with AND and numbers parameters after those already in the list', () => {
    const params: unknown[] = ['already'];
    const sql = buildFilter(parseQuery('name=~a,id=[1~2],public=false'), FIELDS, params);
    expect(sql).toBe(
      "(p.name ILIKE $2::text ESCAPE '\\') AND (p.project_id >= $3::bigint AND p.project_id <= $4::bigint) AND (p.public = $5::boolean)",
    );
    expect(params).toEqual(['already', '%a%', '1', '2', false]);
  });

  it('keeps hostile text out of the SQL, as parameters', () => {
    const { sql, params } = build("owner=x' OR '1'='1,name=~'; DROP TABLE project; --");
    expect(sql).toBe("(p.owner_name = $1::text) AND (p.name ILIKE $2::text ESCAPE '\\')");
    expect(params).toEqual(["x' OR '1'='1", "%'; DROP TABLE project; --%"]);
  });

  it('escapes LIKE wildcards in fuzzy values so they match literally', () => {
    expect(escapeLike('50%_a\\b')).toBe('50\\%\\_a\\\\b');
    expect(build('name=~100%_\\').params).toEqual(['%100\\%\\_\\\\%']);
  });

  it('converts times to RFC 3339 with an explicit offset, UTC when none is given', () => {
    const times = (value: string) => build(`creation_time=[${value}~]`).params[0];
    expect(times('2020-04-09')).toBe('2020-04-09T00:00:00+00:00');
    expect(times('2020-04-09 02:36:00')).toBe('2020-04-09T02:36:00+00:00');
    expect(times('2020-04-09T02:36:00')).toBe('2020-04-09T02:36:00+00:00');
    expect(times('2020-04-09T02:36')).toBe('2020-04-09T02:36:00+00:00');
    expect(times('2020-04-09T02:36:00.123456789Z')).toBe('2020-04-09T02:36:00.123456+00:00');
    expect(times('2020-04-09T02:36:00-05:30')).toBe('2020-04-09T02:36:00-05:30');
    expect(times('2020-04-09T02:36:00+0800')).toBe('2020-04-09T02:36:00+08:00');
    // "+08:00" typed into a URL unencoded arrives as " 08:00".
    expect(times('2020-04-09T02:36:00 08:00')).toBe('2020-04-09T02:36:00+08:00');
    expect(times('2024-02-29')).toBe('2024-02-29T00:00:00+00:00');
  });

  it('rejects values that do not fit the field type', () => {
    expect(message(() => build('id=abc'))).toBe('q: "id" takes an integer, not "abc"');
    expect(message(() => build('id=1.5'))).toBe('q: "id" takes an integer, not "1.5"');
    expect(message(() => build('id={1 x}'))).toBe('q: "id" takes an integer, not "x"');
    expect(message(() => build('id=9223372036854775808'))).toMatch(
      /64-bit integer; 9223372036854775808 is out of range/,
    );
    expect(build('id=-9223372036854775808').params).toEqual(['-9223372036854775808']);
    expect(message(() => build('public=yes'))).toBe('q: "public" takes true or false, not "yes"');
    for (const bad of ['yesterday', '2023-02-29', '2020-13-01', '2020-01-01T24:00:00', '2020-01-01T10:00:00+16:00']) {
      expect(message(() => build(`creation_time=[${bad}~]`))).toMatch(/^q: "creation_time" takes a time such as/);
    }
  });

  it('rejects unknown keys, naming the valid ones', () => {
    expect(message(() => build('nmae=x'))).toBe(
      'q: unknown key "nmae"; valid keys are creation_time, id, labels, name, owner, public, tags',
    );
    expect(message(() => build('constructor=x'))).toMatch(/unknown key "constructor"/);
    expect(message(() => buildFilter(parseQuery('a=1'), {}, []))).toBe(
      'q: unknown key "a"; this list takes no q filters',
    );
  });

  it('rejects fuzzy and range matching where the field does not offer it', () => {
    expect(message(() => build('id=~1'))).toBe('q: "id" is not text, so fuzzy match "~" does not apply');
    expect(message(() => build('owner=~adm'))).toBe('q: "owner" does not support fuzzy match "~"');
    expect(message(() => build('owner=[a~b]'))).toBe('q: "owner" does not support range "[min~max]"');
    expect(message(() => build('public=[true~]'))).toBe('q: "public" does not support range "[min~max]"');
  });
});
