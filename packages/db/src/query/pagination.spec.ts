import { describe, expect, it } from '@jest/globals';
import { paginationLinks, parsePagination } from './pagination.js';
import { QuerySyntaxError } from './query.error.js';

describe('parsePagination', () => {
  it('defaults to page 1 of 10', () => {
    expect(parsePagination(undefined, undefined)).toEqual({ page: 1, pageSize: 10, offset: 0 });
    expect(parsePagination('', null)).toEqual({ page: 1, pageSize: 10, offset: 0 });
  });

  it('reads query-string text and numbers', () => {
    expect(parsePagination('3', '25')).toEqual({ page: 3, pageSize: 25, offset: 50 });
    expect(parsePagination(2, 100)).toEqual({ page: 2, pageSize: 100, offset: 100 });
  });

  it('takes other defaults and maximum', () => {
    expect(parsePagination(undefined, undefined, { page: 1, pageSize: 50 }, 500)).toEqual({
      page: 1,
      pageSize: 50,
      offset: 0,
    });
    expect(parsePagination(1, '500', undefined, 500).pageSize).toBe(500);
  });

  it('rejects out-of-range and non-integer values, naming the parameter and its bounds', () => {
    const cases: [unknown, unknown, string][] = [
      ['0', undefined, 'page: must be an integer from 1 to 2147483647, not 0'],
      ['-1', undefined, 'page: must be an integer from 1 to 2147483647, not "-1"'],
      ['1.5', undefined, 'page: must be an integer from 1 to 2147483647, not "1.5"'],
      [1.5, undefined, 'page: must be an integer from 1 to 2147483647, not 1.5'],
      ['abc', undefined, 'page: must be an integer from 1 to 2147483647, not "abc"'],
      ['99999999999', undefined, 'page: must be an integer from 1 to 2147483647, not "99999999999"'],
      ['0x10', undefined, 'page: must be an integer from 1 to 2147483647, not "0x10"'],
      [' 1', undefined, 'page: must be an integer from 1 to 2147483647, not " 1"'],
      ['+1', undefined, 'page: must be an integer from 1 to 2147483647, not "+1"'],
      [undefined, '1e1', 'page_size: must be an integer from 1 to 100, not "1e1"'],
      [undefined, '0', 'page_size: must be an integer from 1 to 100, not 0'],
      [undefined, '101', 'page_size: must be an integer from 1 to 100, not 101'],
      [undefined, ['10', '20'], 'page_size: give it once; it must be an integer from 1 to 100'],
    ];
    for (const [page, pageSize, expected] of cases) {
      expect(() => parsePagination(page, pageSize)).toThrow(expected);
    }
    expect(() => parsePagination('x', undefined)).toThrow(QuerySyntaxError);
  });
});

describe('paginationLinks', () => {
  const base = '/api/v2.0/projects';

  it('links to the next page only, from the first page', () => {
    expect(paginationLinks(base, {}, 1, 10, 25)).toBe('</api/v2.0/projects?page=2&page_size=10>; rel="next"');
  });

  it('links both ways from a middle page, joined as Harbor joins them', () => {
    expect(paginationLinks(base, {}, 2, 10, 25)).toBe(
      '</api/v2.0/projects?page=1&page_size=10>; rel="prev" , </api/v2.0/projects?page=3&page_size=10>; rel="next"',
    );
  });

  it('links back only from the last page, and nowhere when everything fits on one page', () => {
    expect(paginationLinks(base, {}, 3, 10, 25)).toBe('</api/v2.0/projects?page=2&page_size=10>; rel="prev"');
    expect(paginationLinks(base, {}, 1, 10, 10)).toBeUndefined();
    expect(paginationLinks(base, {}, 1, 10, 0)).toBeUndefined();
  });

  it('links back from past the end only while the previous page has rows', () => {
    expect(paginationLinks(base, {}, 3, 10, 15)).toBeUndefined();
    expect(paginationLinks(base, {}, 3, 10, 21)).toBe('</api/v2.0/projects?page=2&page_size=10>; rel="prev"');
  });

  it('keeps the other parameters, sorted by name, readable where the URL allows it', () => {
    expect(
      paginationLinks(
        base,
        { sort: '-creation_time', q: 'name=~ngi,public=true', with_detail: undefined, page: '9' },
        1,
        5,
        6,
      ),
    ).toBe('</api/v2.0/projects?page=2&page_size=5&q=name=~ngi,public=true&sort=-creation_time>; rel="next"');
  });

  it('encodes what would change the meaning of the URL or of the header', () => {
    const header = paginationLinks(base, { q: 'id={1 2},n=a&b+c#d>e%' }, 1, 1, 2);
    expect(header).toBe('</api/v2.0/projects?page=2&page_size=1&q=id=%7B1%202%7D,n=a%26b%2Bc%23d%3Ee%25>; rel="next"');
    const url = new URL(`http://x${header?.slice(1, header.indexOf('>'))}`);
    expect(url.searchParams.get('q')).toBe('id={1 2},n=a&b+c#d>e%');
  });
});
