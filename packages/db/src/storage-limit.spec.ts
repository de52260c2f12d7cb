import { describe, expect, it } from '@jest/globals';
import { formatStorageSize, quotaExceededMessage } from './storage-limit.js';

describe('formatStorageSize', () => {
  it.each([
    [0, '0 B'],
    [100, '100 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [1024 * 1024 - 1, '1024.0 KiB'],
    [1024 * 1024, '1.0 MiB'],
    [1.5 * 1024 * 1024, '1.5 MiB'],
    [1024 ** 3, '1.0 GiB'],
    [1.5 * 1024 ** 3, '1.5 GiB'],
    [1024 ** 4, '1.0 TiB'],
    [1.5 * 1024 ** 4, '1.5 TiB'],
    [2 * 1024 ** 5, '2.0 PiB'],
  ])('prints %d bytes as %s', (bytes, text) => {
    expect(formatStorageSize(bytes)).toBe(text);
  });
});

describe('quotaExceededMessage', () => {
  it("reads as Harbor's refusal", () => {
    expect(quotaExceededMessage(2.1 * 1024 * 1024, 8.3 * 1024 * 1024, 10 * 1024 * 1024)).toBe(
      'Quota exceeded when processing the request of adding 2.1 MiB of storage resource, which when updated to ' +
        'current usage of 8.3 MiB will exceed the configured upper limit of 10.0 MiB.',
    );
  });
});
