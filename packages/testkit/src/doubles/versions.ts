/*
 * Package version ordering for the Trivy test double: Debian's (dpkg's `verrevcmp`, with epochs, revisions and the
 * `~` that sorts before everything) and Alpine's (apk's digits, letter, suffixes and `-rN` revision).
 */

export interface DpkgVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

/** Splits `[epoch:]upstream[-revision]` as dpkg does: the revision follows the last hyphen. */
export function parseDpkgVersion(version: string): DpkgVersion {
  const text = version.trim();
  if (text.length === 0) throw new TypeError('empty dpkg version');
  let epoch = 0;
  let rest = text;
  const colon = text.indexOf(':');
  if (colon >= 0) {
    const epochText = text.slice(0, colon);
    if (!/^\d+$/.test(epochText)) throw new TypeError(`invalid epoch in dpkg version ${JSON.stringify(version)}`);
    epoch = Number(epochText);
    rest = text.slice(colon + 1);
  }
  const hyphen = rest.lastIndexOf('-');
  const upstream = hyphen >= 0 ? rest.slice(0, hyphen) : rest;
  const revision = hyphen >= 0 ? rest.slice(hyphen + 1) : '';
  if (upstream.length === 0 || !/^\d/.test(upstream)) {
    throw new TypeError(`dpkg version ${JSON.stringify(version)} must start with a digit`);
  }
  if (!/^[A-Za-z0-9.+~:-]+$/.test(upstream) || !/^[A-Za-z0-9.+~]*$/.test(revision)) {
    throw new TypeError(`invalid character in dpkg version ${JSON.stringify(version)}`);
  }
  return { epoch, upstream, revision };
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/** dpkg's `order()`: digits 0, letters their code, `~` before everything, other characters after letters. */
function order(c: string | undefined): number {
  if (c === undefined) return 0;
  if (isDigit(c)) return 0;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  if (c === '~') return -1;
  return c.charCodeAt(0) + 256;
}

/** dpkg's `verrevcmp`: alternating non-digit and digit runs. */
function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const ac = order(a[i]);
      const bc = order(b[j]);
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a[i])) return 1;
    if (isDigit(b[j])) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

/** Negative when `a` sorts before `b`, 0 when equal, positive after: `dpkg --compare-versions`. */
export function compareDpkgVersions(a: string, b: string): number {
  const va = parseDpkgVersion(a);
  const vb = parseDpkgVersion(b);
  if (va.epoch !== vb.epoch) return va.epoch - vb.epoch;
  return verrevcmp(va.upstream, vb.upstream) || verrevcmp(va.revision, vb.revision);
}

/** apk's suffixes in order; the pre-release ones sort before a version without a suffix, the others after. */
const APK_PRE_SUFFIXES = ['alpha', 'beta', 'pre', 'rc'];
const APK_POST_SUFFIXES = ['cvs', 'svn', 'git', 'hg', 'p'];

interface ApkVersion {
  numbers: bigint[];
  letter: string;
  suffixes: Array<{ rank: number; number: bigint }>;
  revision: bigint;
}

function parseApkVersion(version: string): ApkVersion {
  const match = /^(\d+(?:\.\d+)*)([a-z]?)((?:_[a-z]+\d*)*)(?:-r(\d+))?$/.exec(version.trim());
  if (!match) throw new TypeError(`invalid apk version ${JSON.stringify(version)}`);
  const suffixes = [...match[3].matchAll(/_([a-z]+)(\d*)/g)].map(([, name, number]) => {
    const pre = APK_PRE_SUFFIXES.indexOf(name);
    const post = APK_POST_SUFFIXES.indexOf(name);
    if (pre < 0 && post < 0) throw new TypeError(`invalid apk version suffix _${name} in ${JSON.stringify(version)}`);
    // Pre-release suffixes rank below 0 (no suffix), post-release ones above.
    const rank = pre >= 0 ? pre - APK_PRE_SUFFIXES.length : post + 1;
    return { rank, number: BigInt(number || '0') };
  });
  return {
    numbers: match[1].split('.').map((part) => BigInt(part)),
    letter: match[2],
    suffixes,
    revision: BigInt(match[4] ?? '0'),
  };
}

function sign(value: bigint | number): number {
  return value > 0 ? 1 : value < 0 ? -1 : 0;
}

/** Negative when `a` sorts before `b`, 0 when equal, positive after: `apk version -t`. */
export function compareApkVersions(a: string, b: string): number {
  const va = parseApkVersion(a);
  const vb = parseApkVersion(b);
  const parts = Math.max(va.numbers.length, vb.numbers.length);
  for (let i = 0; i < parts; i++) {
    const x = va.numbers[i];
    const y = vb.numbers[i];
    // A version with more numeric components is the later one (1.2.1 > 1.2).
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x !== y) return sign(x - y);
  }
  if (va.letter !== vb.letter) return va.letter < vb.letter ? -1 : 1;
  const suffixes = Math.max(va.suffixes.length, vb.suffixes.length);
  for (let i = 0; i < suffixes; i++) {
    const x = va.suffixes[i] ?? { rank: 0, number: 0n };
    const y = vb.suffixes[i] ?? { rank: 0, number: 0n };
    if (x.rank !== y.rank) return x.rank - y.rank;
    if (x.number !== y.number) return sign(x.number - y.number);
  }
  return sign(va.revision - vb.revision);
}
