import { chmod, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScannerMime, TrivyScanner } from '@wharf/scanner';
import { TrivyBinaryProbe, TrivyBuiltInScanner } from './built-in-scanner.js';
import { writeTrivyVersionDouble } from './testing/trivy-version-double.js';

describe('the built-in scanner from the trivy binary', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-trivy-probe-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function script(name: string, body: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return path;
  }

  it('reads its metadata from the test double of trivy --version --format json', async () => {
    const probe = new TrivyBinaryProbe(await writeTrivyVersionDouble(dir, '0.61.0'));
    expect(await probe.available()).toEqual({ ok: true });
    const metadata = await probe.metadata();
    expect(metadata.scanner).toEqual({ name: 'Trivy', vendor: 'Aqua Security', version: '0.61.0' });
    expect(metadata.capabilities.map((c) => [c.type, c.produces_mime_types])).toEqual([
      ['vulnerability', [ScannerMime.VulnerabilityReport, ScannerMime.HarborVulnerabilityReport]],
      ['sbom', [ScannerMime.SbomReport]],
    ]);
    expect(metadata.properties?.['harbor.scanner-adapter/vulnerability-database-updated-at']).toBe(
      '2026-12-07T00:00:00Z',
    );
  });

  it('is unavailable, with the reason, when the binary is missing, fails, hangs or is not trivy', async () => {
    expect(await new TrivyBinaryProbe(join(dir, 'absent')).available()).toEqual({
      ok: false,
      reason: `trivy is not installed (${join(dir, 'absent')} not found)`,
    });
    const failing = await script('failing', 'echo "FATAL cache dir is not writable" >&2; exit 3');
    expect(await new TrivyBinaryProbe(failing).available()).toEqual({
      ok: false,
      reason: `${failing} --version failed (exit code 3): FATAL cache dir is not writable`,
    });
    const other = await script('other', 'echo "Version: 1.0"');
    expect(await new TrivyBinaryProbe(other).available()).toEqual({
      ok: false,
      reason: `${other} --version --format json printed no JSON: is it trivy?`,
    });
    const hanging = await script('hanging', 'exec sleep 5');
    expect(await new TrivyBinaryProbe(hanging, 200).available()).toEqual({
      ok: false,
      reason: `${hanging} --version did not answer within 200 ms`,
    });
    await expect(new TrivyBinaryProbe(other).metadata()).rejects.toThrow('printed no JSON');
  });

  it('as a running Wharf binds it: the TrivyScanner of the scans, its answer kept for a while, a failure not', async () => {
    const binary = await writeTrivyVersionDouble(dir, '0.62.0');
    const builtIn = new TrivyBuiltInScanner(new TrivyScanner({ binary }));
    expect(await builtIn.available()).toEqual({ ok: true });
    expect((await builtIn.metadata()).scanner).toEqual({ name: 'Trivy', vendor: 'Aqua Security', version: '0.62.0' });
    // Kept: health checks do not start a process each.
    await rm(binary);
    expect(await builtIn.available()).toEqual({ ok: true });

    const missing = new TrivyBuiltInScanner(new TrivyScanner({ binary: join(dir, 'absent') }));
    expect(await missing.available()).toEqual({
      ok: false,
      reason: `the trivy binary ${JSON.stringify(join(dir, 'absent'))} was not found`,
    });
    // Not kept: trivy installed meanwhile is seen at the next ask.
    const installed = await writeTrivyVersionDouble(dir, '0.63.0');
    await rename(installed, join(dir, 'absent'));
    expect(await missing.available()).toEqual({ ok: true });
  });
});
