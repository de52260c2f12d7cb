export const WORKLOAD_IDS = [
  'push-1m',
  'push-64m',
  'push-512m',
  'push-chunked-512m',
  'push-concurrent-64m',
  'pull-1m',
  'pull-64m',
  'pull-512m',
  'pull-concurrent-64m',
  'manifest-get',
  'manifest-head',
  'tags-list',
] as const;

export type WorkloadId = (typeof WORKLOAD_IDS)[number];

export interface BenchOptions {
  rounds: number;
  quick: boolean;
  only: WorkloadId[];
  referenceOnly: boolean;
  /** Wharf runs as `wharf start core`: /v2 behind token authentication, as a robot account pushes and pulls. */
  throughCore: boolean;
  /** Wharf runs with `storage_service.filesystem.direct_io: true` (blob bytes bypass the page cache). */
  directIO: boolean;
}

export const USAGE = `Usage: pnpm bench:registry [--rounds N] [--quick] [--only <workload>[,<workload>…]] [--reference-only] [--through-core] [--direct-io]

  --rounds N          alternating rounds (default 4, so each side goes first as often; 2 with --quick)
  --quick             small sizes and short runs, for a smoke test
  --only W            run only these workloads: ${WORKLOAD_IDS.join(', ')}
  --reference-only    run the reference on both sides, to check the harness and the noise floor
  --through-core      run Wharf as \`wharf start core\`: /v2 behind core's token authentication, with a robot's token
  --direct-io         run Wharf with storage_service.filesystem.direct_io: true (large blob I/O bypasses the page cache)`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  let rounds: number | undefined;
  let quick = false;
  let referenceOnly = false;
  let throughCore = false;
  let directIO = false;
  const only: WorkloadId[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = (): string => {
      const next = inline ?? argv[++i];
      if (next === undefined || next === '') throw new Error(`${flag} needs a value\n\n${USAGE}`);
      return next;
    };
    switch (flag) {
      case '--rounds': {
        const text = value();
        if (!/^[1-9][0-9]*$/.test(text)) throw new Error(`--rounds must be a positive integer, got "${text}"`);
        rounds = Number(text);
        break;
      }
      case '--quick':
        quick = true;
        break;
      case '--reference-only':
        referenceOnly = true;
        break;
      case '--through-core':
        throughCore = true;
        break;
      case '--direct-io':
        directIO = true;
        break;
      case '--only':
        for (const name of value().split(',')) {
          const id = name.trim();
          if (!(WORKLOAD_IDS as readonly string[]).includes(id)) {
            throw new Error(`unknown workload "${id}"; known workloads: ${WORKLOAD_IDS.join(', ')}`);
          }
          if (!only.includes(id as WorkloadId)) only.push(id as WorkloadId);
        }
        break;
      case '--help':
      case '-h':
        throw new Error(USAGE);
      default:
        throw new Error(`unknown argument "${arg}"\n\n${USAGE}`);
    }
  }
  if (referenceOnly && (throughCore || directIO)) {
    throw new Error('--reference-only runs no Wharf: it excludes --through-core and --direct-io');
  }
  return {
    rounds: rounds ?? (quick ? 2 : 4),
    quick,
    only: only.length > 0 ? only : [...WORKLOAD_IDS],
    referenceOnly,
    throughCore,
    directIO,
  };
}
