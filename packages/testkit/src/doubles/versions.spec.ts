import { execFileSync } from 'node:child_process';
import { compareApkVersions, compareDpkgVersions, parseDpkgVersion } from './versions.js';

const sign = (n: number) => Math.sign(n);

describe('Trivy test double: dpkg version comparison', () => {
  // Each pair is in strictly increasing order, as Debian policy §5.6.12 and dpkg's own tests order them.
  const ascending: Array<[string, string]> = [
    ['1.0', '1.1'],
    ['1.0~rc1', '1.0'],
    ['1.0~~', '1.0~'],
    ['1.0~', '1.0'],
    ['1.0', '1.0a'],
    ['1.0a', '1.0+'],
    ['1.0', '1.0.1'],
    ['1.9', '1.10'],
    ['1.0-1', '1.0-2'],
    ['1.0-1', '1.0-1+deb12u1'],
    ['1.0-1~deb12u1', '1.0-1'],
    ['2.36-9+deb12u4', '2.36-9+deb12u14'],
    ['3.0.11-1~deb12u2', '3.0.11-1~deb12u3'],
    ['9.9-9', '1:0.1-1'],
    ['1:1.2.13.dfsg-1', '1:1.2.13.dfsg-1+deb12u1'],
    ['0.001', '0.1a'],
    ['1.2-3-4', '1.2-3-5'],
    ['1.34+dfsg-1.2+deb12u1', '1.34+dfsg-1.2+deb12u2'],
  ];

  it.each(ascending)('%s < %s', (low, high) => {
    expect(sign(compareDpkgVersions(low, high))).toBe(-1);
    expect(sign(compareDpkgVersions(high, low))).toBe(1);
  });

  it.each([
    ['1.0', '1.0-0'],
    ['0:1.0', '1.0'],
    ['1.01', '1.1'],
    ['1.0-1', '1.0-01'],
  ])('%s = %s', (a, b) => {
    expect(compareDpkgVersions(a, b)).toBe(0);
  });

  it('splits the epoch and the revision at the last hyphen', () => {
    expect(parseDpkgVersion('1:2.3-4-5')).toEqual({ epoch: 1, upstream: '2.3-4', revision: '5' });
    expect(parseDpkgVersion('2.36')).toEqual({ epoch: 0, upstream: '2.36', revision: '' });
    expect(() => parseDpkgVersion('a1.0')).toThrow(/start with a digit/);
    expect(() => parseDpkgVersion('x:1.0')).toThrow(/epoch/);
  });

  it('agrees with dpkg --compare-versions on every pair', () => {
    const versions = [...new Set(ascending.flat())];
    for (const a of versions) {
      for (const b of versions) {
        let lt = true;
        try {
          execFileSync('dpkg', ['--compare-versions', a, 'lt', b]);
        } catch {
          lt = false;
        }
        expect([a, b, compareDpkgVersions(a, b) < 0]).toEqual([a, b, lt]);
      }
    }
  });
});

describe('Trivy test double: apk version comparison', () => {
  const ascending: Array<[string, string]> = [
    ['1.2.4-r2', '1.2.4-r3'],
    ['1.2.4-r10', '1.2.5-r0'],
    ['1.2.9', '1.2.10'],
    ['1.2', '1.2.1'],
    ['1.2', '1.2a'],
    ['1.2_alpha1', '1.2_beta1'],
    ['1.2_rc2', '1.2'],
    ['1.2', '1.2_p1'],
    ['1.36.1-r9', '1.36.1-r15'],
    ['3.1.4-r5', '3.1.4_git20240101-r0'],
  ];

  it.each(ascending)('%s < %s', (low, high) => {
    expect(sign(compareApkVersions(low, high))).toBe(-1);
    expect(sign(compareApkVersions(high, low))).toBe(1);
  });

  it('treats a missing revision as r0 and rejects what apk cannot parse', () => {
    expect(compareApkVersions('1.2.4', '1.2.4-r0')).toBe(0);
    expect(() => compareApkVersions('1.2.4_foo', '1.2.4')).toThrow(/suffix/);
    expect(() => compareApkVersions('v1', '1')).toThrow(/invalid apk version/);
  });
});
