import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CoreProcess,
  type JobServiceProcess,
  type ScanImageLayout,
  type TestDatabase,
  buildDebianScanImage,
  createTestDatabase,
  startWharfCore,
  startWharfJobService,
  trivyDoubleBinary,
  trivyDoubleDbFixture,
} from '@wharf/testkit';
import { CommandError, Skopeo } from './support/clients.js';
import { e2eTarget } from './support/target.js';

jest.setTimeout(300_000);

const MIME = 'application/vnd.security.vulnerability.report; version=1.1';
/** Harbor's 412 message of the vulnerability policy, as skopeo reports it. */
const REFUSED =
  /vulnerabilities cannot be pulled due to configured policy in 'Prevent images with vulnerability severity of \\"High\\" or higher/;

interface Overview {
  report_id: string;
  scan_status: string;
  severity?: string;
  summary?: { total: number; summary: Record<string, number> };
}

interface Vulnerability {
  id: string;
  severity: string;
}

/** Scans and the vulnerability policy end to end. Core and jobservice have no reference. */
const describeCore = e2eTarget() === 'wharf' ? describe : describe.skip;

describeCore('scanning with the Trivy test double as trivy.binary, and pulls gated by prevent_vul', () => {
  let workDir: string;
  let database: TestDatabase;
  let core: CoreProcess;
  let jobservice: JobServiceProcess;
  let skopeo: Skopeo;
  let layout: ScanImageLayout;
  let adminCreds: string;

  async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { authorization: `Basic ${Buffer.from(adminCreds).toString('base64')}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${core.url}/api/v2.0${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const isJson = (response.headers.get('content-type') ?? '').includes('json') && text.length > 0;
    return { status: response.status, body: (isJson ? JSON.parse(text) : text) as T };
  }

  /** Whether skopeo may read the manifest (a pull's first step); the error it reports otherwise. */
  async function inspect(): Promise<string | undefined> {
    try {
      await skopeo.inspect(`docker://${core.host}/secure/debian:12`, ['--override-os', 'linux']);
      return undefined;
    } catch (error) {
      if (error instanceof CommandError) return error.stderr;
      throw error;
    }
  }

  /** The artifact's scan overview once its scan has ended. */
  async function scanned(artifact: string): Promise<Overview> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const got = await api<{ scan_overview?: Record<string, Overview> }>('GET', `${artifact}?with_scan_overview=true`);
      const overview = got.body.scan_overview?.[MIME];
      if (overview && !['Pending', 'Running'].includes(overview.scan_status)) return overview;
      if (Date.now() > deadline) throw new Error(`the scan did not end: ${JSON.stringify(overview)}`);
      await sleep(250);
    }
  }

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'wharf-e2e-scan-'));
    // The Trivy TEST DOUBLE as harbor.yml's trivy.binary, with its vulnerability data to "download".
    const binary = join(workDir, 'trivy');
    await writeFile(
      binary,
      `#!/bin/sh\nTRIVY_DOUBLE_DB_SOURCE="${trivyDoubleDbFixture()}"\nexport TRIVY_DOUBLE_DB_SOURCE\n` +
        `exec "${trivyDoubleBinary()}" "$@"\n`,
    );
    await chmod(binary, 0o755);
    database = await createTestDatabase('wharf_e2e_scan');
    core = await startWharfCore({
      database,
      dataDir: join(workDir, 'data'),
      extraConfig: { trivy: { binary, cache_dir: join(workDir, 'trivy-cache') } },
    });
    jobservice = await startWharfJobService(core);
    adminCreds = `${core.admin.username}:${core.admin.password}`;
    skopeo = await Skopeo.create(await mkdtemp(join(workDir, 'skopeo-')));
    // skopeo reads with the administrator's credentials from its auth file.
    await skopeo.run(['login', '--tls-verify=false', '-u', core.admin.username, '-p', core.admin.password, core.host]);
    layout = await buildDebianScanImage(join(workDir, 'debian'), '12');
    expect((await api('POST', '/projects', { project_name: 'secure', metadata: { public: 'false' } })).status).toBe(
      201,
    );
  });

  afterAll(async () => {
    await jobservice?.stop();
    await core?.stop();
    await database?.drop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('scans a pushed Debian image, then refuses its pull until an allowlist covers its findings', async () => {
    await skopeo.copy(`oci:${layout.path}:${layout.ref}`, `docker://${core.host}/secure/debian:12`);
    const artifact = '/projects/secure/repositories/debian/artifacts/12';
    expect((await api('POST', `${artifact}/scan`)).status).toBe(202);
    const overview = await scanned(artifact);
    expect(overview.scan_status).toBe('Success');
    const findings = (
      await api<Record<string, { vulnerabilities: Vulnerability[] }>>('GET', `${artifact}/additions/vulnerabilities`)
    ).body[MIME].vulnerabilities;
    const blocking = [
      ...new Set(findings.filter((v) => v.severity === 'High' || v.severity === 'Critical').map((v) => v.id)),
    ];
    // The double's data has High and Critical advisories for Debian 12's packages: otherwise nothing would be gated.
    expect(blocking.length).toBeGreaterThan(0);
    expect(overview.summary!.total).toBeGreaterThanOrEqual(blocking.length);

    expect(await inspect()).toBeUndefined();
    const gated = await api('PUT', '/projects/secure', {
      metadata: { prevent_vul: 'true', severity: 'high', reuse_sys_cve_allowlist: 'false' },
    });
    expect(gated.status).toBe(200);
    expect(await inspect()).toMatch(REFUSED);
    // The scanner pulls what the policy refuses to everyone else: a new scan of the gated image succeeds.
    const first = overview.report_id;
    expect((await api('POST', `${artifact}/scan`)).status).toBe(202);
    expect(await scanned(artifact)).toMatchObject({ scan_status: 'Success', summary: overview.summary });
    expect((await scanned(artifact)).report_id).not.toBe(first);

    // An allowlist of every blocking CVE, for a short while: the pull goes through, then is refused again.
    const expiresAt = Math.floor(Date.now() / 1000) + 10;
    const allowed = await api('PUT', '/projects/secure', {
      cve_allowlist: { items: blocking.map((cve_id) => ({ cve_id })), expires_at: expiresAt },
    });
    expect(allowed.status).toBe(200);
    expect(await inspect()).toBeUndefined();
    // Only some of them: still refused.
    if (blocking.length > 1) {
      await api('PUT', '/projects/secure', {
        cve_allowlist: { items: blocking.slice(1).map((cve_id) => ({ cve_id })), expires_at: expiresAt },
      });
      expect(await inspect()).toMatch(REFUSED);
      await api('PUT', '/projects/secure', {
        cve_allowlist: { items: blocking.map((cve_id) => ({ cve_id })), expires_at: expiresAt },
      });
      expect(await inspect()).toBeUndefined();
    }
    await sleep(Math.max(0, expiresAt * 1000 - Date.now()) + 1500);
    expect(await inspect()).toMatch(REFUSED);
  });
});
