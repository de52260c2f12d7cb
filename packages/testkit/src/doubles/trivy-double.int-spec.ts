import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../database.js';
import { readLayoutBlob, readLayoutIndex } from '../images.js';
import { type PrivateRedis, startPrivateRedis } from '../private-services.js';
import { type CoreProcess, repoRoot, startWharfCore } from '../processes.js';
import {
  type ScanImageLayout,
  WHITED_OUT_PACKAGE,
  buildAlpineScanImage,
  buildDebianScanImage,
  pushLayout,
} from '../scan-images.js';

/*
 * The Trivy TEST DOUBLE (packages/testkit/bin/trivy) against Wharf core, the registry with token authentication:
 * it pulls the images it is given and reports what the fixture's advisories imply for the packages really in
 * them. The expectations are computed here independently: this machine's dpkg status read with a few lines of
 * code, versions compared by dpkg itself.
 */

jest.setTimeout(180_000);

const TRIVY = join(repoRoot(), 'packages', 'testkit', 'bin', 'trivy');
const FIXTURE = join(repoRoot(), 'packages', 'testkit', 'fixtures', 'wharf-double-db.json');

interface Fixture {
  Metadata: { UpdatedAt: string; NextUpdate: string };
  Advisories: Array<{
    Ecosystem: string;
    SourcePackage: string;
    VulnerabilityID: string;
    FixedVersion?: string;
    Severity: string;
  }>;
}

interface TrivyVuln {
  VulnerabilityID: string;
  PkgID: string;
  PkgName: string;
  InstalledVersion: string;
  FixedVersion?: string;
  Status: string;
  Severity: string;
  Layer: { Digest?: string; DiffID?: string };
  DataSource: { ID: string };
  PrimaryURL: string;
  SeveritySource: string;
  References: string[];
}

interface TrivyJson {
  SchemaVersion: number;
  ArtifactName: string;
  ArtifactType: string;
  Metadata: {
    OS?: { Family: string; Name: string };
    ImageID?: string;
    DiffIDs?: string[];
    RepoTags?: string[];
    RepoDigests?: string[];
    ImageConfig?: { architecture?: string };
  };
  Results?: Array<{ Target: string; Class: string; Type: string; Vulnerabilities?: TrivyVuln[] }>;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function trivy(args: string[], env: Record<string, string | undefined> = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      TRIVY,
      args,
      { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, maxBuffer: 64 << 20 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function findings(report: TrivyJson): string[] {
  return (report.Results ?? [])
    .flatMap((result) => result.Vulnerabilities ?? [])
    .map((v) => `${v.VulnerabilityID} ${v.PkgName} ${v.InstalledVersion}`)
    .sort();
}

/** The installed packages of a dpkg status file: name, version, source name and source version. */
function installedDebianPackages(status: string) {
  return status
    .split('\n\n')
    .map((block) => {
      const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(block)?.[1];
      const source = field('Source')?.split(' ');
      return {
        name: field('Package'),
        version: field('Version'),
        installed: / installed$/.test(field('Status') ?? ''),
        srcName: source?.[0] ?? field('Package'),
        srcVersion: source?.[1]?.replace(/[()]/g, '') ?? field('Version'),
      };
    })
    .filter((pkg) => pkg.name && pkg.version && pkg.installed);
}

function dpkgLessThan(a: string, b: string): boolean {
  try {
    execFileSync('dpkg', ['--compare-versions', a, 'lt', b]);
    return true;
  } catch {
    return false;
  }
}

/** What the fixture implies for an image holding `status`. */
function expectedDebianFindings(
  status: string,
  fixture: Fixture,
  options: { ignoreUnfixed?: boolean; severities?: string[] } = {},
): string[] {
  const expected: string[] = [];
  for (const pkg of installedDebianPackages(status)) {
    for (const advisory of fixture.Advisories) {
      if (advisory.Ecosystem !== 'debian 12' || advisory.SourcePackage !== pkg.srcName) continue;
      if (options.severities && !options.severities.includes(advisory.Severity)) continue;
      const affected = advisory.FixedVersion
        ? dpkgLessThan(pkg.srcVersion as string, advisory.FixedVersion)
        : !options.ignoreUnfixed;
      if (affected) expected.push(`${advisory.VulnerabilityID} ${pkg.name} ${pkg.version}`);
    }
  }
  return expected.sort();
}

async function firstLayer(layout: ScanImageLayout): Promise<{ digest: string; diffId: string }> {
  const index = await readLayoutIndex(layout.path);
  const manifest = JSON.parse((await readLayoutBlob(layout.path, index.manifests[0].digest)).toString()) as {
    config: { digest: string };
    layers: Array<{ digest: string }>;
  };
  const config = JSON.parse((await readLayoutBlob(layout.path, manifest.config.digest)).toString()) as {
    rootfs: { diff_ids: string[] };
  };
  return { digest: manifest.layers[0].digest, diffId: config.rootfs.diff_ids[0] };
}

describe('Trivy test double against Wharf core (token authentication)', () => {
  let workDir: string;
  let database: TestDatabase;
  let redis: PrivateRedis;
  let core: CoreProcess;
  let debian: ScanImageLayout;
  let alpine: ScanImageLayout;
  let debianDigest: string;
  let fixture: Fixture;
  let cacheDir: string;
  let creds: Record<string, string>;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'wharf-trivy-double-'));
    fixture = JSON.parse(await readFile(FIXTURE, 'utf8')) as Fixture;
    database = await createTestDatabase('wharf_trivy_double');
    redis = await startPrivateRedis();
    core = await startWharfCore({
      database,
      dataDir: join(workDir, 'data'),
      extraConfig: { external_redis: { host: `127.0.0.1:${redis.port}` } },
    });
    creds = { TRIVY_USERNAME: core.admin.username, TRIVY_PASSWORD: core.admin.password };
    const created = await fetch(`${core.url}/api/v2.0/projects`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${core.admin.username}:${core.admin.password}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ project_name: 'scans', metadata: { public: 'false' } }),
    });
    expect(created.status).toBe(201);
    debian = await buildDebianScanImage(join(workDir, 'debian'), '12');
    alpine = await buildAlpineScanImage(join(workDir, 'alpine'), '3.19');
    const admin = `${core.admin.username}:${core.admin.password}`;
    debianDigest = await pushLayout(debian, `${core.host}/scans/debian:12`, admin);
    await pushLayout(alpine, `${core.host}/scans/alpine:3.19`, admin);
    cacheDir = join(workDir, 'cache');
  });

  afterAll(async () => {
    await core?.stop();
    await redis?.stop();
    await database?.drop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('has no vulnerability DB at first and cannot skip its first update', async () => {
    const version = await trivy(['version', '--format', 'json', '--cache-dir', cacheDir]);
    expect(version.code).toBe(0);
    expect(JSON.parse(version.stdout)).toEqual({ Version: expect.stringMatching(/^0\.\d+\.\d+$/) });

    const skipped = await trivy(
      [
        'image',
        '--skip-db-update',
        '--format',
        'json',
        '--insecure',
        '--cache-dir',
        cacheDir,
        `${core.host}/scans/debian:12`,
      ],
      creds,
    );
    expect(skipped.code).toBe(1);
    expect(skipped.stderr).toContain('--skip-db-update cannot be specified on the first run');
  });

  it('fails as Trivy does when the DB cannot be downloaded', async () => {
    const result = await trivy(
      ['image', '--format', 'json', '--insecure', '--cache-dir', cacheDir, `${core.host}/scans/debian:12`],
      creds,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/FATAL.*failed to download vulnerability DB/);
    expect(result.stdout).toBe('');
  });

  it('rejects a flag Trivy does not have', async () => {
    const result = await trivy(['image', '--no-such-flag', `${core.host}/scans/debian:12`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('unknown flag: --no-such-flag');
  });

  it('pulls the Debian image with basic credentials through the token service and reports what the fixture implies', async () => {
    const reference = `${core.host}/scans/debian@${debianDigest}`;
    const output = join(workDir, 'debian.json');
    const result = await trivy(
      [
        'image',
        '--format',
        'json',
        '--output',
        output,
        '--insecure',
        '--cache-dir',
        cacheDir,
        '--scanners',
        'vuln',
        '--timeout',
        '2m0s',
        reference,
      ],
      { ...creds, TRIVY_DOUBLE_DB_SOURCE: FIXTURE },
    );
    expect(result).toMatchObject({ code: 0 });
    const report = JSON.parse(await readFile(output, 'utf8')) as TrivyJson;
    const debianVersion = (await readFile('/etc/debian_version', 'utf8')).trim();
    const layer = await firstLayer(debian);
    expect(report).toMatchObject({
      SchemaVersion: 2,
      ArtifactName: reference,
      ArtifactType: 'container_image',
      Metadata: {
        OS: { Family: 'debian', Name: debianVersion },
        RepoDigests: [reference],
        RepoTags: [],
        ImageConfig: { architecture: 'amd64' },
      },
    });
    expect(report.Metadata.DiffIDs).toHaveLength(3);
    expect(report.Metadata.DiffIDs?.[0]).toBe(layer.diffId);
    expect(report.Results).toHaveLength(1);
    expect(report.Results?.[0]).toMatchObject({
      Target: `${reference} (debian ${debianVersion})`,
      Class: 'os-pkgs',
      Type: 'debian',
    });

    const expected = expectedDebianFindings(debian.packageDatabase, fixture);
    expect(findings(report)).toEqual(expected);
    // Outcomes certain whatever the security updates of this machine: fixed long ago, an epoch that outranks the fix,
    // a fix older only numerically (u4 < u1x), no fix at all, a package deleted by a whiteout.
    expect(expected.join('\n')).not.toMatch(/CVE-2099-1002|CVE-2099-2002|CVE-2099-3002|wharf-deleted/);
    const vulns = report.Results?.[0].Vulnerabilities ?? [];
    expect(vulns.some((v) => v.PkgName === WHITED_OUT_PACKAGE)).toBe(false);
    const tar = vulns.find((v) => v.PkgName === 'tar');
    expect(tar).toMatchObject({ VulnerabilityID: 'CVE-2099-4001', Status: 'affected', Severity: 'LOW' });
    expect(tar).not.toHaveProperty('FixedVersion');
    const ssl = vulns.find((v) => v.PkgName === 'libssl3' && v.VulnerabilityID === 'CVE-2099-1001');
    expect(ssl).toMatchObject({
      PkgID: `libssl3@${ssl?.InstalledVersion}`,
      FixedVersion: '3.0.99-1~deb12u1',
      Status: 'fixed',
      Severity: 'HIGH',
      SeveritySource: 'debian',
      PrimaryURL: 'https://avd.aquasec.com/nvd/cve-2099-1001',
      DataSource: { ID: 'debian' },
      Layer: { Digest: layer.digest, DiffID: layer.diffId },
      CVSS: { nvd: { V3Score: 9.1 } },
    });

    const version = await trivy(['--version', '--format', 'json', '--cache-dir', cacheDir]);
    expect(JSON.parse(version.stdout)).toMatchObject({
      VulnerabilityDB: { Version: 2, UpdatedAt: fixture.Metadata.UpdatedAt, NextUpdate: fixture.Metadata.NextUpdate },
    });
  });

  it('filters by severity and leaves out unfixed findings with --ignore-unfixed', async () => {
    const result = await trivy(
      [
        'image',
        '-f',
        'json',
        '--severity',
        'LOW,CRITICAL',
        '--ignore-unfixed',
        '--skip-db-update',
        '--insecure',
        '--cache-dir',
        cacheDir,
        '-q',
        `${core.host}/scans/debian:12`,
      ],
      creds,
    );
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as TrivyJson;
    expect(report.Metadata.RepoTags).toEqual([`${core.host}/scans/debian:12`]);
    const expected = expectedDebianFindings(debian.packageDatabase, fixture, {
      ignoreUnfixed: true,
      severities: ['LOW', 'CRITICAL'],
    });
    expect(findings(report)).toEqual(expected);
    expect(findings(report).some((f) => f.startsWith('CVE-2099-4001'))).toBe(false);
  });

  it('sends TRIVY_REGISTRY_TOKEN as it is, and is refused without credentials', async () => {
    const challenge = await fetch(`${core.url}/v2/scans/debian/manifests/12`);
    expect(challenge.status).toBe(401);
    const params = Object.fromEntries(
      [...(challenge.headers.get('www-authenticate') ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]),
    );
    const tokenUrl = new URL(params.realm);
    tokenUrl.searchParams.set('service', params.service);
    tokenUrl.searchParams.set('scope', 'repository:scans/debian:pull');
    const token = (await (
      await fetch(tokenUrl, {
        headers: {
          authorization: `Basic ${Buffer.from(`${creds.TRIVY_USERNAME}:${creds.TRIVY_PASSWORD}`).toString('base64')}`,
        },
      })
    ).json()) as { token: string };

    // A fresh cache, so that the layers too are pulled with the token.
    const args = [
      'image',
      '-f',
      'json',
      '--insecure',
      '--cache-dir',
      join(workDir, 'token-cache'),
      '-q',
      `${core.host}/scans/debian:12`,
    ];
    const withToken = await trivy(args, { TRIVY_REGISTRY_TOKEN: token.token, TRIVY_DOUBLE_DB_SOURCE: FIXTURE });
    expect(withToken.stderr).toBe('');
    expect(findings(JSON.parse(withToken.stdout) as TrivyJson)).toEqual(
      expectedDebianFindings(debian.packageDatabase, fixture),
    );

    const anonymous = await trivy(args, { TRIVY_DOUBLE_DB_SOURCE: FIXTURE });
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/unable to find the specified image.*UNAUTHORIZED|status 401/);

    const badToken = await trivy(args, { TRIVY_REGISTRY_TOKEN: 'not-a-token', TRIVY_DOUBLE_DB_SOURCE: FIXTURE });
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toMatch(/unexpected status code 401/);
  });

  it('reads the apk database of the Alpine image', async () => {
    const result = await trivy(
      [
        'image',
        '-f',
        'json',
        '--skip-db-update',
        '--insecure',
        '--cache-dir',
        cacheDir,
        '-q',
        `${core.host}/scans/alpine:3.19`,
      ],
      creds,
    );
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as TrivyJson;
    expect(report.Metadata.OS).toEqual({ Family: 'alpine', Name: '3.19.1' });
    expect(report.Results?.[0]).toMatchObject({
      Class: 'os-pkgs',
      Type: 'alpine',
      Target: `${core.host}/scans/alpine:3.19 (alpine 3.19.1)`,
    });
    // musl and musl-utils (origin musl) at r4 are below the fix r5; busybox r15 is above the fix r7.
    expect(findings(report)).toEqual([
      'CVE-2099-5001 musl 1.2.4_git20230717-r4',
      'CVE-2099-5001 musl-utils 1.2.4_git20230717-r4',
    ]);
    expect(report.Results?.[0].Vulnerabilities?.[0]).toMatchObject({
      DataSource: { ID: 'alpine' },
      FixedVersion: '1.2.4_git20230717-r5',
    });
  });

  it.each([
    ['cyclonedx', 'cyclonedx'],
    ['spdx-json', 'spdx'],
  ])('writes a %s SBOM that `trivy sbom` scans to the same findings', async (format, artifactType) => {
    const reference = `${core.host}/scans/debian@${debianDigest}`;
    const sbomFile = join(workDir, `debian.${format}.json`);
    const sbom = await trivy(
      ['image', '--format', format, '--output', sbomFile, '--insecure', '--cache-dir', cacheDir, '-q', reference],
      creds,
    );
    expect(sbom).toMatchObject({ code: 0 });
    const document = JSON.parse(await readFile(sbomFile, 'utf8')) as Record<string, unknown>;
    const zlib = installedDebianPackages(debian.packageDatabase).find((p) => p.name === 'zlib1g');
    const zlibVersion = zlib?.version?.replace(/^\d+:/, '');
    const purl = `pkg:deb/debian/zlib1g@${encodeURIComponent(zlibVersion as string)}?arch=amd64&distro=debian-${(await readFile('/etc/debian_version', 'utf8')).trim()}&epoch=1`;
    if (format === 'cyclonedx') {
      expect(document).toMatchObject({
        bomFormat: 'CycloneDX',
        specVersion: '1.5',
        metadata: { component: { type: 'container' } },
      });
      const components = document.components as Array<{ purl?: string; 'bom-ref': string }>;
      expect(components.find((c) => c.purl === purl)).toMatchObject({ 'bom-ref': purl });
      expect(components.filter((c) => c.purl?.startsWith('pkg:deb/')).length).toBe(
        installedDebianPackages(debian.packageDatabase).length,
      );
    } else {
      expect(document).toMatchObject({ spdxVersion: 'SPDX-2.3', dataLicense: 'CC0-1.0', SPDXID: 'SPDXRef-DOCUMENT' });
      const packages = document.packages as Array<{ externalRefs?: Array<{ referenceLocator: string }> }>;
      expect(packages.some((p) => p.externalRefs?.some((r) => r.referenceLocator === purl))).toBe(true);
    }

    // `trivy sbom` reads the packages back: no registry is involved, so no credentials are given.
    const scan = await trivy(['sbom', '--format', 'json', '--skip-db-update', '--cache-dir', cacheDir, '-q', sbomFile]);
    expect(scan).toMatchObject({ code: 0 });
    const report = JSON.parse(scan.stdout) as TrivyJson;
    expect(report).toMatchObject({
      ArtifactType: artifactType,
      ArtifactName: sbomFile,
      Metadata: { OS: { Family: 'debian' } },
    });
    expect(findings(report)).toEqual(expectedDebianFindings(debian.packageDatabase, fixture));
  });
});
