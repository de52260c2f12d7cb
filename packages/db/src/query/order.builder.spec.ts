import { describe, expect, it } from '@jest/globals';
import { buildOrderBy } from './order.builder.js';
import { QuerySyntaxError } from './query.error.js';
import { parseSort } from './query.parser.js';

const SORTABLE = { name: 'p.name', creation_time: 'p.creation_time' };

describe('buildOrderBy', () => {
  it('uses the fallback alone when no sort is given', () => {
    expect(buildOrderBy([], SORTABLE, 'p.project_id')).toBe('p.project_id');
  });

  it('orders by the requested keys, then by the fallback to break ties', () => {
    expect(buildOrderBy(parseSort('-creation_time,name'), SORTABLE, 'p.project_id')).toBe(
      'p.creation_time DESC, p.name ASC, p.project_id',
    );
  });

  it('lets the first mention of a key decide its direction', () => {
    expect(buildOrderBy(parseSort('name,-name'), SORTABLE, 'p.project_id')).toBe('p.name ASC, p.project_id');
  });

  it('rejects unknown keys, naming the sortable ones', () => {
    const run = () => buildOrderBy(parseSort('name,owner'), SORTABLE, 'p.project_id');
    expect(run).toThrow(QuerySyntaxError);
    expect(run).toThrow('sort: unknown key "owner"; sortable keys are creation_time, name');
    expect(() => buildOrderBy(parseSort('toString'), SORTABLE, 'x')).toThrow('unknown key "toString"');
    expect(() => buildOrderBy(parseSort('name'), {}, 'x')).toThrow(
      'sort: unknown key "name"; this list cannot be sorted',
    );
  });
});
