import { describe, expect, it } from '@jest/globals';
import { WORKLOAD_IDS, parseOptions } from './options.js';

describe('parseOptions', () => {
  it('defaults to four rounds (each side first in two) of every workload against Wharf', () => {
    expect(parseOptions([])).toEqual({
      rounds: 4,
      quick: false,
      only: [...WORKLOAD_IDS],
      referenceOnly: false,
      throughCore: false,
      directIO: false,
    });
  });

  it('reads --rounds, --quick, --reference-only and a comma list for --only, in both spellings', () => {
    expect(parseOptions(['--rounds', '5', '--quick', '--reference-only', '--only=pull-1m,manifest-head'])).toEqual({
      rounds: 5,
      quick: true,
      only: ['pull-1m', 'manifest-head'],
      referenceOnly: true,
      throughCore: false,
      directIO: false,
    });
    expect(parseOptions(['--quick']).rounds).toBe(2);
    expect(parseOptions(['--through-core']).throughCore).toBe(true);
    expect(parseOptions(['--through-core', '--direct-io'])).toMatchObject({ throughCore: true, directIO: true });
  });

  it('rejects what it cannot run, naming the problem', () => {
    expect(() => parseOptions(['--rounds', '0'])).toThrow('--rounds must be a positive integer, got "0"');
    expect(() => parseOptions(['--rounds'])).toThrow('--rounds needs a value');
    expect(() => parseOptions(['--only', 'pull-2m'])).toThrow(/unknown workload "pull-2m"; known workloads: push-1m/);
    expect(() => parseOptions(['--fast'])).toThrow('unknown argument "--fast"');
    expect(() => parseOptions(['--reference-only', '--through-core'])).toThrow(
      'excludes --through-core and --direct-io',
    );
    expect(() => parseOptions(['--reference-only', '--direct-io'])).toThrow('excludes --through-core and --direct-io');
  });
});
