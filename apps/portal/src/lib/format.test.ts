import { describe, expect, it } from 'vitest';
import { formatBytes, formatDate, formatRelative, fromBytes, isZeroTime, shortDigest, toBytes } from './format.js';

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1 KiB'],
    [1536, '1.5 KiB'],
    [12.3 * 1024 * 1024, '12.3 MiB'],
    [150 * 1024 ** 3, '150 GiB'],
    [2 * 1024 ** 4, '2 TiB'],
  ])('%d bytes → %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it('shows a dash for sizes that are not sizes', () => {
    expect(formatBytes(-1)).toBe('—');
    expect(formatBytes(Number.NaN)).toBe('—');
  });
});

describe('storage units', () => {
  it('converts both ways', () => {
    expect(toBytes(10, 'GiB')).toBe(10 * 1024 ** 3);
    expect(toBytes(1.5, 'MiB')).toBe(1572864);
    expect(fromBytes(10 * 1024 ** 3)).toEqual({ amount: 10, unit: 'GiB' });
    expect(fromBytes(512 * 1024 ** 2)).toEqual({ amount: 512, unit: 'MiB' });
    expect(fromBytes(3 * 1024 ** 4)).toEqual({ amount: 3, unit: 'TiB' });
  });
});

describe('dates', () => {
  it('treats Harbor zero times and missing values as never', () => {
    expect(isZeroTime('0001-01-01T00:00:00Z')).toBe(true);
    expect(isZeroTime('1970-01-01T00:00:00Z')).toBe(true);
    expect(isZeroTime(undefined)).toBe(true);
    expect(isZeroTime('2026-03-01T12:00:00Z')).toBe(false);
    expect(formatDate('0001-01-01T00:00:00Z')).toBe('never');
    expect(formatDate(null, '—')).toBe('—');
  });

  it('formats a date in the given locale', () => {
    expect(formatDate('2026-03-01T12:00:00Z', 'never', 'en-GB')).toMatch(/1 Mar 2026/);
  });

  it('says how long ago', () => {
    const now = Date.parse('2026-03-01T12:00:00Z');
    expect(formatRelative('2026-03-01T11:57:00Z', 'never', now, 'en')).toBe('3 minutes ago');
    expect(formatRelative('2026-02-28T12:00:00Z', 'never', now, 'en')).toBe('yesterday');
    expect(formatRelative('2026-03-01T12:00:00Z', 'never', now, 'en')).toBe('now');
    expect(formatRelative('0001-01-01T00:00:00Z', 'never', now, 'en')).toBe('never');
  });
});

describe('shortDigest', () => {
  it('keeps the algorithm and 12 hex digits', () => {
    expect(shortDigest('sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef')).toBe(
      'sha256:0123456789ab',
    );
  });
});
