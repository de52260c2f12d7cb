import { describe, expect, it } from '@jest/globals';
import { parseDuration, parseSize } from './units.parser.js';

describe('parseSize', () => {
  it.each([
    ['4194304', 4194304],
    ['0', 0],
    ['512b', 512],
    ['200M', 200 * 1024 ** 2],
    ['4MiB', 4 * 1024 ** 2],
    ['4mb', 4 * 1024 ** 2],
    ['10 K', 10 * 1024],
    ['1.5G', 1.5 * 1024 ** 3],
    ['2TiB', 2 * 1024 ** 4],
  ])('reads %s as %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['', 'M', '4 MiBs', '-1', '4X', '1e3', '9999999999999T'])('refuses %j', (text) => {
    expect(parseSize(text)).toBeUndefined();
  });
});

describe('parseDuration', () => {
  it.each([
    ['168h', 168 * 3_600_000],
    ['30m', 1_800_000],
    ['90s', 90_000],
    ['500ms', 500],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['0', 0],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '24', 'h', '1d', '1h30', '30 m', 'soon', '-5m'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});
