import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CoreProcess,
  type PrivateRedis,
  type ScanImageLayout,
  type TestDatabase,
  buildDebianScanImage,
  createTestDatabase,
  pushLayout,
  startPrivateRedis,
  startWharfCore,
  trivyDoubleBinary,
  trivyDoubleDbFixture,
} from '@wharf/testkit';
import type { TrivyReport } from './trivy-report.schema.js';
import { ScanFailedError, type ScanTarget, TrivyScanner } from './trivy.scanner.js';
import { toVulnerabilityReport } from './vulnerability-report.js';

/*
 * TrivyScanner runs the Trivy TEST DOUBLE (packages/testkit/bin/trivy), which answers in Trivy's formats from the
 * image it really pulls from Wharf core, as Wharf runs the real trivy.
 */

jest.setTimeout(180_000);

const DOUBLE = trivyDoubleBinary();
const FIXTURE = trivyDoubleDbFixture();

function findings(report: TrivyReport): string[] {
  return (report.Results ?? [])
    .flatMap((result) => result.Vulnerabilities ?? [])
    .map((v) => `${v.VulnerabilityID} ${v.PkgName} ${v.InstalledVersion} ${v.FixedVersion ?? '-'}`)
    .sort();
}

describe('TrivyScanner with the Trivy test double and Wharf core', () => {
  let workDir: string;
  let database: TestDatabase;
  let redis: PrivateRedis;
  let core: CoreProcess;
  let image: ScanImageLayout;
  let digest: string;
  let target: ScanTarget;
  let cacheDir: string;

  function scanner(extra: ConstructorParameters<typeof TrivyScanner>[0] = {}): TrivyScanner {
    return new TrivyScanner({ binary: DOUBLE, cacheDir, env: { TRIVY_DOUBLE_DB_SOURCE: FIXTURE }, ...extra });
  }

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'wharf-trivy-scanner-'));
    cacheDir = join(workDir, 'cache');
    database = await createTestDatabase('wharf_trivy_scanner');
    redis = await startPrivateRedis();
    core = await startWharfCore({
      database,
      dataDir: join(workDir, 'data'),
      extraConfig: { external_redis: { host: `127.0.0.1:${redis.port}` } },
    });
    const created = await fetch(`${core.url}/api/v2.0/projects`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${core.admin.username}:${core.admin.password}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ project_name: 'scans', metadata: { public: 'false' } }),
    });
    expect(created.status).toBe(201);
    image = await buildDebianScanImage(join(workDir, 'debian'), '12');
    digest = await pushLayout(image, `${core.host}/scans/debian:12`, `${core.admin.username}:${core.admin.password}`);
    target = {
      registryHost: core.host,
      insecure: true,
      repository: 'scans/debian',
      digest,
      tag: '12',
      auth: { username: core.admin.username, password: core.admin.password },
    };
  });

  afterAll(async () => {
    await core?.stop();
    await redis?.stop();
    await database?.drop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('is unavailable, with the reason, when the binary is missing', async () => {
    const missing = new TrivyScanner({ binary: join(workDir, 'no-such-trivy') });
    expect(await missing.available()).toEqual({
      ok: false,
      reason: expect.stringContaining('no-such-trivy" was not found'),
    });
    await expect(missing.scanImage(target)).rejects.toMatchObject({
      name: 'ScannerUnavailableError',
      reason: expect.stringContaining('was not found'),
    });
    expect(await scanner().available()).toEqual({ ok: true });
  });

  it('scans the image by digest and maps the findings into a Harbor report', async () => {
    const logs: string[] = [];
    const trivy = scanner();
    const before = await trivy.metadata();
    expect(before.properties).not.toHaveProperty('harbor.scanner-adapter/vulnerability-database-updated-at');

    const report = await trivy.scanImage({ ...target, onLog: (line) => logs.push(line) });
    expect(report.ArtifactName).toBe(`${core.host}/scans/debian@${digest}`);
    expect(report.Metadata?.RepoDigests).toEqual([`${core.host}/scans/debian@${digest}`]);
    const all = findings(report);
    // Certain whatever this machine's security updates: no fix for tar, a fix far ahead for openssl.
    expect(all).toEqual(expect.arrayContaining([expect.stringMatching(/^CVE-2099-4001 tar \S+ -$/)]));
    expect(all).toEqual(
      expect.arrayContaining([expect.stringMatching(/^CVE-2099-1001 libssl3 \S+ 3\.0\.99-1~deb12u1$/)]),
    );

    const info = await trivy.scannerInfo();
    const artifact = { repository: 'scans/debian', digest, mime_type: 'application/vnd.oci.image.manifest.v1+json' };
    const harbor = toVulnerabilityReport(report, info, artifact);
    expect(harbor.scanner).toEqual({ name: 'Trivy', vendor: 'Aqua Security', version: expect.any(String) });
    expect(harbor.vulnerabilities).toHaveLength(all.length);
    expect(harbor.vulnerabilities.find((v) => v.package === 'tar')).toMatchObject({
      id: 'CVE-2099-4001',
      severity: 'Low',
      links: ['https://avd.aquasec.com/nvd/cve-2099-4001', 'https://security-tracker.debian.org/tracker/CVE-2099-4001'],
    });
    expect(['High', 'Critical']).toContain(harbor.severity);

    const after = await trivy.metadata();
    const fixture = JSON.parse(await readFile(FIXTURE, 'utf8')) as { Metadata: { UpdatedAt: string } };
    expect(after).toMatchObject({
      scanner: { name: 'Trivy', vendor: 'Aqua Security' },
      capabilities: [
        { type: 'vulnerability', produces_mime_types: ['application/vnd.security.vulnerability.report; version=1.1'] },
        { type: 'sbom', produces_mime_types: ['application/vnd.security.sbom.report+json; version=1.0'] },
      ],
      properties: { 'harbor.scanner-adapter/vulnerability-database-updated-at': fixture.Metadata.UpdatedAt },
    });
    expect(logs.join('\n')).not.toContain(core.admin.password);
  });

  it('gives credentials to trivy in its environment only, and nothing else of Wharf’s environment', async () => {
    const wrapper = join(workDir, 'recording-trivy');
    const record = join(workDir, 'record');
    await writeFile(
      wrapper,
      `#!/bin/sh\nprintf '%s\\n' "$@" > "${record}.args"\nenv > "${record}.env"\nexec "${DOUBLE}" "$@"\n`,
    );
    await chmod(wrapper, 0o755);
    process.env.WHARF_TEST_SECRET_SENTINEL = 'must-not-leak';
    try {
      await scanner({
        binary: wrapper,
        skipUpdate: true,
        ignoreUnfixed: true,
        severities: ['HIGH', 'CRITICAL'],
      }).scanImage(target);
    } finally {
      delete process.env.WHARF_TEST_SECRET_SENTINEL;
    }
    const args = (await readFile(`${record}.args`, 'utf8')).trim().split('\n');
    const env = await readFile(`${record}.env`, 'utf8');
    expect(args.join(' ')).not.toContain(core.admin.password);
    expect(args).toEqual(
      expect.arrayContaining([
        'image',
        '--format',
        'json',
        '--skip-db-update',
        '--ignore-unfixed',
        '--insecure',
        `${core.host}/scans/debian@${digest}`,
      ]),
    );
    expect(args[args.indexOf('--severity') + 1]).toBe('HIGH,CRITICAL');
    expect(args[args.indexOf('--scanners') + 1]).toBe('vuln');
    expect(args[args.indexOf('--timeout') + 1]).toBe('5m0s');
    expect(env).toContain(`TRIVY_PASSWORD=${core.admin.password}\n`);
    expect(env).toContain(`TRIVY_USERNAME=${core.admin.username}\n`);
    expect(env).not.toContain('WHARF_TEST_SECRET_SENTINEL');
  });

  it('pulls with a bearer token, and fails with the reason on wrong credentials', async () => {
    const challenge = await fetch(`${core.url}/v2/scans/debian/manifests/12`);
    const params = Object.fromEntries(
      [...(challenge.headers.get('www-authenticate') ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]),
    );
    const tokenUrl = new URL(params.realm);
    tokenUrl.searchParams.set('service', params.service);
    tokenUrl.searchParams.set('scope', 'repository:scans/debian:pull');
    const basic = Buffer.from(`${core.admin.username}:${core.admin.password}`).toString('base64');
    const { token } = (await (await fetch(tokenUrl, { headers: { authorization: `Basic ${basic}` } })).json()) as {
      token: string;
    };

    // A cache of its own, so that the layers are pulled with the token as well.
    const own = scanner({ cacheDir: join(workDir, 'token-cache') });
    const withToken = await own.scanImage({ ...target, auth: { token } });
    expect(findings(withToken)).toEqual(findings(await scanner().scanImage(target)));

    const refused = await own
      .scanImage({ ...target, auth: { username: core.admin.username, password: 'wrong' } })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ScanFailedError);
    expect(refused).toMatchObject({ details: { exitCode: 1, timedOut: false, canceled: false } });
    expect((refused as ScanFailedError).reason).toMatch(/unable to find the specified image.*UNAUTHORIZED/);
  });

  it('fails at Trivy’s own timeout, and kills the child when the scan is stopped', async () => {
    const slow = scanner({ timeout: '1s', skipUpdate: true, env: { TRIVY_DOUBLE_DELAY: '20s' } });
    const timedOut = await slow.scanImage(target).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(ScanFailedError);
    expect((timedOut as ScanFailedError).reason).toContain('context deadline exceeded');

    // The wrapper execs the double, so the pid it records is the scanning process itself.
    const wrapper = join(workDir, 'pid-trivy');
    const pidFile = join(workDir, 'trivy.pid');
    await writeFile(wrapper, `#!/bin/sh\necho $$ > "${pidFile}"\nexec "${DOUBLE}" "$@"\n`);
    await chmod(wrapper, 0o755);
    const stoppable = scanner({ binary: wrapper, skipUpdate: true, env: { TRIVY_DOUBLE_DELAY: '60s' } });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 1000);
    const stopped = await stoppable.scanImage({ ...target, signal: controller.signal }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(stopped).toBeInstanceOf(ScanFailedError);
    expect(stopped).toMatchObject({ reason: 'the scan was stopped', details: { canceled: true } });
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  });

  it('generates SBOMs and re-evaluates one after a DB update without pulling the image', async () => {
    const trivy = scanner();
    const cyclonedx = await trivy.generateSbom(target, 'cyclonedx');
    expect(cyclonedx).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.5' });
    const spdx = await trivy.generateSbom(target, 'spdx-json');
    expect(spdx).toMatchObject({ spdxVersion: 'SPDX-2.3' });

    const fromImage = findings(await trivy.scanImage(target));
    expect(findings(await trivy.scanSbom(cyclonedx))).toEqual(fromImage);
    expect(findings(await trivy.scanSbom(JSON.stringify(spdx)))).toEqual(fromImage);

    // A newer database with one more advisory (bash, present on every Debian): the stored SBOM shows it.
    const fixture = JSON.parse(await readFile(FIXTURE, 'utf8')) as { Advisories: Array<Record<string, unknown>> };
    fixture.Advisories.push({
      ...fixture.Advisories[0],
      SourcePackage: 'bash',
      VulnerabilityID: 'CVE-2099-9001',
      FixedVersion: undefined,
    });
    const newer = join(workDir, 'newer-db.json');
    await writeFile(newer, JSON.stringify(fixture));
    const updated = await scanner({ env: { TRIVY_DOUBLE_DB_SOURCE: newer } }).scanSbom(cyclonedx);
    expect(findings(updated)).toEqual([...fromImage, expect.stringMatching(/^CVE-2099-9001 bash \S+ -$/)].sort());
    expect(findings(updated).filter((f) => f.startsWith('CVE-2099-9001'))).toHaveLength(1);
  });
});
