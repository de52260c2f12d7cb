// Harbor's sizes (log rotate_size `200M`) follow logrotate, where K/M/G are powers of 1024; the
// explicit binary spellings (KiB, MiB) and the SI-looking ones (KB, MB) are read the same way so
// that no spelling silently means a slightly different number.
const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

/** Parses `4194304`, `200M`, `4MiB`, `1.5G` into bytes; undefined when the text is not a size. */
export function parseSize(text: string): number | undefined {
  const match = SIZE_PATTERN.exec(text.trim());
  if (!match) return undefined;
  const multiplier = SIZE_UNITS[match[2].toLowerCase()];
  if (multiplier === undefined) return undefined;
  const bytes = Math.floor(Number(match[1]) * multiplier);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;

/**
 * Parses Go-style durations as Harbor writes them (`168h`, `30m`, `90s`, `1h30m`, `500ms`) into
 * milliseconds. A bare `0` is accepted because Harbor uses it for "no limit"; any other bare number
 * is refused since its unit would be a guess.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  if (trimmed === '') return undefined;
  DURATION_PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = DURATION_PART.exec(trimmed); match; match = DURATION_PART.exec(trimmed)) {
    total += Number(match[1]) * DURATION_UNITS[match[2]];
    consumed = DURATION_PART.lastIndex;
  }
  if (consumed !== trimmed.length) return undefined;
  const ms = Math.round(total);
  return Number.isSafeInteger(ms) ? ms : undefined;
}
