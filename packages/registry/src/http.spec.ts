import { describe, expect, it } from '@jest/globals';
import { OciError, OciErrorCode } from '@wharf/oci';
import { parseContentRange, parsePagination, parseRange } from './http.js';

function refusal(run: () => unknown): OciError {
  try {
    run();
  } catch (error) {
    if (error instanceof OciError) return error;
    throw error;
  }
  throw new Error('expected an OciError');
}

describe('parseContentRange', () => {
  it('is undefined when the header is absent', () => {
    expect(parseContentRange(undefined)).toBeUndefined();
  });

  it.each([
    ['0-99', { start: 0, length: 100 }],
    ['bytes=0-99', { start: 0, length: 100 }],
    ['bytes 100-199/1000', { start: 100, length: 100 }],
    ['100-199/*', { start: 100, length: 100 }],
    ['5-5', { start: 5, length: 1 }],
    ['  0-0  ', { start: 0, length: 1 }],
    ['0-4294967295', { start: 0, length: 4294967296 }],
    ['0-99/100', { start: 0, length: 100 }],
  ])('reads %j', (header, expected) => {
    expect(parseContentRange(header)).toEqual(expected);
  });

  it.each([
    '',
    '100',
    '-99',
    '0-',
    '99-0',
    'bytes=abc',
    'bytes:0-99',
    'items=0-99',
    '0-99/',
    '0-99/abc',
    '0-99,100-199',
    '1.5-2',
    `0-${'9'.repeat(20)}`,
    '0-99/50',
    '0-99/99',
    'bytes 100-199/150',
  ])('refuses %j with BLOB_UPLOAD_INVALID and status 416', (header) => {
    const error = refusal(() => parseContentRange(header));
    expect(error.code).toBe(OciErrorCode.BLOB_UPLOAD_INVALID);
    expect(error.status).toBe(416);
  });
});

describe('parseRange', () => {
  const size = 1000;

  it('serves the whole blob when there is no Range header', () => {
    expect(parseRange(undefined, size)).toBeNull();
  });

  it.each([
    ['bytes=0-99', { start: 0, end: 99 }],
    ['bytes=100-', { start: 100, end: 999 }],
    ['bytes=0-', { start: 0, end: 999 }],
    ['bytes=999-999', { start: 999, end: 999 }],
    ['bytes=500-5000', { start: 500, end: 999 }],
    ['bytes=-100', { start: 900, end: 999 }],
    ['bytes=-1', { start: 999, end: 999 }],
    ['bytes=-5000', { start: 0, end: 999 }],
    [' bytes=1-2 ', { start: 1, end: 2 }],
  ])('reads %j as an inclusive slice', (header, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });

  it.each(['bytes=1000-', 'bytes=1000-1001', 'bytes=5000-6000', 'bytes=-0', 'bytes=500-100', 'bytes=-', 'bytes=x-y'])(
    'answers 416 for %j, telling the blob size',
    (header) => {
      const error = refusal(() => parseRange(header, size));
      expect(error.status).toBe(416);
      expect(error.detail).toEqual({ size });
    },
  );

  it('answers 416 for any range of an empty blob', () => {
    expect(refusal(() => parseRange('bytes=0-', 0)).status).toBe(416);
    expect(refusal(() => parseRange('bytes=-10', 0)).status).toBe(416);
  });

  it.each(['bytes=0-1,5-6', 'items=0-10', 'pages=1'])(
    'serves the whole blob for %j (allowed by RFC 9110)',
    (header) => {
      expect(parseRange(header, size)).toBeNull();
    },
  );
});

describe('parsePagination', () => {
  it('uses the default page size without parameters', () => {
    expect(parsePagination({}, 100, 1000)).toEqual({ n: 100 });
  });

  it('reads n and last', () => {
    expect(parsePagination({ n: '5', last: 'library/alpine' }, 100, 1000)).toEqual({ n: 5, last: 'library/alpine' });
  });

  it('accepts n=0', () => {
    expect(parsePagination({ n: '0' }, 100, 1000)).toEqual({ n: 0 });
  });

  it('clamps n to the maximum', () => {
    expect(parsePagination({ n: '5000' }, 100, 1000)).toEqual({ n: 1000 });
    expect(parsePagination({ n: '9'.repeat(30) }, 100, 1000)).toEqual({ n: 1000 });
  });

  it('ignores an empty last', () => {
    expect(parsePagination({ last: '' }, 100, 1000)).toEqual({ n: 100 });
  });

  it.each(['-1', 'abc', '1.5', '', ' 5', '5 ', '0x10', '1e3'])('refuses n=%j with PAGINATION_NUMBER_INVALID', (n) => {
    const error = refusal(() => parsePagination({ n }, 100, 1000));
    expect(error.code).toBe(OciErrorCode.PAGINATION_NUMBER_INVALID);
    expect(error.status).toBe(400);
  });

  it('refuses n or last given twice', () => {
    expect(refusal(() => parsePagination({ n: ['1', '2'] }, 100, 1000)).code).toBe(
      OciErrorCode.PAGINATION_NUMBER_INVALID,
    );
    expect(refusal(() => parsePagination({ last: ['a', 'b'] }, 100, 1000)).code).toBe(
      OciErrorCode.PAGINATION_NUMBER_INVALID,
    );
  });
});
