import { describe, expect, it } from '@jest/globals';
import { QuerySyntaxError } from './query.error.js';
import { parseQuery, parseSort } from './query.parser.js';

function syntaxError(run: () => unknown): QuerySyntaxError {
  try {
    run();
  } catch (error) {
    if (error instanceof QuerySyntaxError) return error;
    throw error;
  }
  throw new Error('expected a QuerySyntaxError');
}

describe('parseQuery', () => {
  it('gives no terms for an absent or blank q', () => {
    expect(parseQuery(undefined)).toEqual([]);
    expect(parseQuery(null)).toEqual([]);
    expect(parseQuery('')).toEqual([]);
    expect(parseQuery('  ')).toEqual([]);
  });

  it('parses every kind of term in one q', () => {
    expect(parseQuery('name=nginx,name=~ngi,id=[1~10],tags={a b  c},labels=(1 2)')).toEqual([
      { key: 'name', match: 'exact', value: 'nginx' },
      { key: 'name', match: 'fuzzy', value: 'ngi' },
      { key: 'id', match: 'range', min: '1', max: '10' },
      { key: 'tags', match: 'any', values: ['a', 'b', 'c'] },
      { key: 'labels', match: 'all', values: ['1', '2'] },
    ]);
  });

  it('takes open-ended ranges and trims and unquotes their bounds', () => {
    expect(parseQuery('id=[5~]')).toEqual([{ key: 'id', match: 'range', min: '5' }]);
    expect(parseQuery('id=[~5]')).toEqual([{ key: 'id', match: 'range', max: '5' }]);
    expect(parseQuery('t=[ "2020-04-09 02:36:00" ~ \'2020-05-01\' ]')).toEqual([
      { key: 't', match: 'range', min: '2020-04-09 02:36:00', max: '2020-05-01' },
    ]);
  });

  it('unquotes list values and keeps an empty list for the filter to ignore', () => {
    expect(parseQuery(`k={"a" 'b' c}`)).toEqual([{ key: 'k', match: 'any', values: ['a', 'b', 'c'] }]);
    expect(parseQuery('k={}')).toEqual([{ key: 'k', match: 'any', values: [] }]);
    expect(parseQuery('k=( )')).toEqual([{ key: 'k', match: 'all', values: [] }]);
  });

  it('decodes URL-encoded terms, so an encoded comma stays inside its value', () => {
    expect(parseQuery('tags%3Dnil')).toEqual([{ key: 'tags', match: 'exact', value: 'nil' }]);
    expect(parseQuery('name=a%2Cb,x=%7B1%202%7D')).toEqual([
      { key: 'name', match: 'exact', value: 'a,b' },
      { key: 'x', match: 'any', values: ['1', '2'] },
    ]);
    expect(parseQuery('media_type=application/vnd.oci.image.manifest.v1+json')).toEqual([
      { key: 'media_type', match: 'exact', value: 'application/vnd.oci.image.manifest.v1+json' },
    ]);
  });

  it('keeps text that is not valid percent-encoding as typed', () => {
    expect(parseQuery('name=~50%')).toEqual([{ key: 'name', match: 'fuzzy', value: '50%' }]);
  });

  it('reads a leading backslash as "the rest is literal"', () => {
    expect(parseQuery('name=\\~tilde')).toEqual([{ key: 'name', match: 'exact', value: '~tilde' }]);
    expect(parseQuery('name=\\[x]')).toEqual([{ key: 'name', match: 'exact', value: '[x]' }]);
  });

  it('splits a term at its first "=" only and trims the key', () => {
    expect(parseQuery(' a=b=c')).toEqual([{ key: 'a', match: 'exact', value: 'b=c' }]);
  });

  it('rejects malformed terms with messages that point at them', () => {
    expect(syntaxError(() => parseQuery('nginx')).message).toBe('q: expected key=value at "nginx"');
    expect(syntaxError(() => parseQuery('=v')).message).toBe('q: expected key=value at "=v"');
    expect(syntaxError(() => parseQuery('a=b,')).message).toMatch(
      /^q: expected key=value at "" \(is there a stray ","\?\)$/,
    );
    expect(syntaxError(() => parseQuery('a=')).message).toBe('q: "a" has no value at "a="');
    expect(syntaxError(() => parseQuery('a=~')).message).toBe('q: fuzzy match "a=~" needs text after "~"');
    expect(syntaxError(() => parseQuery('a=[1~2')).message).toMatch(/^q: range "a=\[1~2" must look like/);
    expect(syntaxError(() => parseQuery('a=[1~2~3]')).message).toMatch(/must look like \[min~max\]/);
    expect(syntaxError(() => parseQuery('a=[12]')).message).toMatch(/must look like/);
    expect(syntaxError(() => parseQuery('a=[~]')).message).toBe('q: range "a=[~]" needs at least one bound');
    expect(syntaxError(() => parseQuery('a={1 2')).message).toBe('q: list "a={1 2" must end with "}"');
    expect(syntaxError(() => parseQuery('a=(1 2}')).message).toBe('q: list "a=(1 2}" must end with ")"');
    expect(syntaxError(() => parseQuery('a=(')).message).toBe('q: list "a=(" must end with ")"');
  });

  it('shortens long terms in messages', () => {
    const message = syntaxError(() => parseQuery('x'.repeat(500))).message;
    expect(message.length).toBeLessThan(120);
    expect(message).toContain('…');
  });

  it('rejects a repeated or non-string q', () => {
    const repeated = syntaxError(() => parseQuery(['a=1', 'b=2']));
    expect(repeated.parameter).toBe('q');
    expect(repeated.message).toMatch(/one q parameter/);
    expect(syntaxError(() => parseQuery(5)).message).toBe('q: must be a string');
  });
});

describe('parseSort', () => {
  it('reads keys in order, "-" meaning descending', () => {
    expect(parseSort('name,-creation_time, id')).toEqual([
      { key: 'name', descending: false },
      { key: 'creation_time', descending: true },
      { key: 'id', descending: false },
    ]);
  });

  it('gives no keys for an absent or blank sort', () => {
    expect(parseSort(undefined)).toEqual([]);
    expect(parseSort('')).toEqual([]);
  });

  it('rejects empty keys and repeated parameters', () => {
    expect(syntaxError(() => parseSort('name,')).message).toBe('sort: expected a key at ""');
    expect(syntaxError(() => parseSort('-')).message).toBe('sort: expected a key at "-"');
    expect(syntaxError(() => parseSort(['a', 'b'])).parameter).toBe('sort');
  });
});
