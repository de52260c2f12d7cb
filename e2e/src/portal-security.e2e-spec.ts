import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDataSource } from '@wharf/db';
import {
  type CoreProcess,
  type ScannerAdapterDouble,
  type TestDatabase,
  type TestImageLayout,
  buildImageLayout,
  createTestDatabase,
  startScannerAdapterDouble,
  startWharfCore,
} from '@wharf/testkit';
import { type Browser, type Locator, type Page } from 'playwright-core';
import { ScanReportRepository } from '../../apps/core/src/repositories/scan-report.repository.js';
import { ScanReportFactory, finding } from '../../apps/core/src/testing/scan-report.factory.js';
import { launchChromium } from './support/browser.js';
import { Skopeo } from './support/clients.js';
import { e2eTarget } from './support/target.js';

jest.setTimeout(600_000);

const SCREENSHOTS = fileURLToPath(new URL('../screenshots/portal-security/', import.meta.url));
const PROJECT = 'secure';
const REPOSITORY = 'app';

/**
 * Scanners, scan results and a project's security settings in a real browser against Wharf core serving the built
 * portal: a scanner adapter (the testkit's double) is tested, added, made the default, disabled and deleted under
 * Administration → Interrogation Services; an artifact shows the findings of a scan report stored through the report
 * repository (as a scan stores it), another says it was never scanned; the project configuration saves scan on
 * push, the vulnerability gate, cosign, a project CVE allowlist and a trusted key, read back through the API.
 */
const describeSecurity = e2eTarget() === 'wharf' ? describe : describe.skip;

describeSecurity('the portal: scanners, vulnerabilities and project security, in Chromium', () => {
  let workDir: string;
  let database: TestDatabase;
  let core: CoreProcess;
  let adapter: ScannerAdapterDouble;
  let dataSource: ReturnType<typeof createDataSource>;
  let browser: Browser;
  let page: Page;
  let skopeo: Skopeo;
  let scanned: TestImageLayout;
  let unscanned: TestImageLayout;
  let creds: string;
  let projectPath: string;
  let step = 0;

  async function shot(name: string): Promise<void> {
    step += 1;
    await page.screenshot({ path: join(SCREENSHOTS, `${String(step).padStart(2, '0')}-${name}.png`), fullPage: true });
  }

  function dialog(name: string | RegExp): Locator {
    return page.getByRole('dialog', { name });
  }

  async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { authorization: `Basic ${Buffer.from(creds).toString('base64')}` };
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

  async function push(image: TestImageLayout, tag: string): Promise<void> {
    await skopeo.copy(`oci:${image.path}:${image.ref}`, `docker://${core.host}/${PROJECT}/${REPOSITORY}:${tag}`, [
      '--preserve-digests',
      '--dest-creds',
      creds,
    ]);
  }

  function artifactUrl(digest: string): string {
    return `${core.url}${projectPath}/repositories/${REPOSITORY}/artifacts/${encodeURIComponent(digest)}`;
  }

  beforeAll(async () => {
    await rm(SCREENSHOTS, { recursive: true, force: true });
    await mkdir(SCREENSHOTS, { recursive: true });
    workDir = await mkdtemp(join(tmpdir(), 'wharf-e2e-portal-security-'));
    [scanned, unscanned] = await Promise.all([
      buildImageLayout(join(workDir, 'scanned'), { seed: 'e2e-security-scanned', layerSizes: [2048] }),
      buildImageLayout(join(workDir, 'unscanned'), { seed: 'e2e-security-unscanned', layerSizes: [1024] }),
    ]);
    skopeo = await Skopeo.create(await mkdtemp(join(workDir, 'skopeo-')));
    adapter = await startScannerAdapterDouble({ produce: () => Promise.resolve({}) });
    database = await createTestDatabase('wharf_e2e_portal_security');
    core = await startWharfCore({ database, dataDir: join(workDir, 'data') });
    creds = `${core.admin.username}:${core.admin.password}`;
    expect((await api('POST', '/projects', { project_name: PROJECT, metadata: { public: 'false' } })).status).toBe(201);
    await push(scanned, '1.0');
    await push(unscanned, '2.0');
    const [project] = (
      await api<{ project_id: number; name: string }[]>('GET', `/projects?name=${PROJECT}`)
    ).body.filter((p) => p.name === PROJECT);
    projectPath = `/projects/${project.project_id}`;

    // A finished scan by the default scanner, stored through the report repository as a scan stores it.
    const scanners = await api<{ uuid: string; is_default: boolean }[]>('GET', '/scanners');
    const defaultScanner = scanners.body.find((s) => s.is_default);
    expect(defaultScanner).toBeDefined();
    dataSource = createDataSource({
      host: database.host,
      port: database.port,
      database: database.database,
      username: database.username,
      password: database.password,
    });
    await dataSource.initialize();
    await new ScanReportFactory(new ScanReportRepository(dataSource)).scanned(
      scanned.manifest.digest,
      [
        finding('CVE-2024-3094', 'Critical', 'xz-utils', '5.6.0', '5.6.1'),
        finding('CVE-2023-4863', 'High', 'libwebp', '1.0.0'),
        finding('CVE-2024-0727', 'Medium', 'openssl', '3.0.1', '3.0.13'),
      ],
      defaultScanner!.uuid,
    );

    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    await page.goto(`${core.url}/`);
    await page.getByLabel('Username').fill(core.admin.username);
    await page.getByLabel('Password').fill(core.admin.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(/\/projects/);
  });

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await dataSource?.destroy().catch(() => undefined);
    await Promise.allSettled([core?.stop(), adapter?.close()]);
    await Promise.allSettled([database?.drop(), rm(workDir, { recursive: true, force: true })]);
  });

  it('tests, adds, makes default, disables and deletes a scanner under Interrogation Services', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Interrogation Services' }).click();
    await page.waitForURL(/\/admin\/interrogation-services\/scanners$/);
    const table = page.getByRole('table', { name: 'Scanners' });
    const builtIn = table.getByRole('row').filter({ hasText: '(built in)' });
    await builtIn.getByText('Default').waitFor();
    // The built-in registration can be neither disabled nor deleted.
    expect(await builtIn.getByRole('button').count()).toBe(0);

    await page.getByRole('button', { name: 'New scanner' }).click();
    const add = dialog('New scanner');
    await add.getByLabel('Name').fill('Remote');
    await add.getByLabel('Endpoint').fill('http://127.0.0.1:9');
    await add.getByRole('button', { name: 'Test connection' }).click();
    await add.getByText(/^Could not reach the scanner: ping http:\/\/127\.0\.0\.1:9/).waitFor();
    await shot('scanner-ping-failed');
    await add.getByLabel('Endpoint').fill(adapter.url);
    await add.getByRole('button', { name: 'Test connection' }).click();
    await add.getByText('Connection succeeded: the scanner answered.').waitFor();
    await add.getByRole('button', { name: 'Add' }).click();
    await add.waitFor({ state: 'detached' });

    const remote = table.getByRole('row').filter({ hasText: 'Remote' });
    await remote.getByText('Healthy').waitFor();
    await expect(remote.innerText()).resolves.toMatch(/Aqua Security\s+v0\.0\.0-double\s+Yes/);
    await shot('scanner-added');

    await remote.getByRole('button', { name: 'Set Remote as default' }).click();
    await dialog('Set default scanner').getByRole('button', { name: 'Set as default' }).click();
    await remote.getByText('Default').waitFor();
    let listed = await api<{ name: string; is_default: boolean; disabled: boolean }[]>('GET', '/scanners');
    expect(listed.body.filter((s) => s.is_default).map((s) => s.name)).toEqual(['Remote']);

    // Back to the built-in one, then Remote can be disabled and deleted.
    await builtIn.getByRole('button', { name: /^Set .* as default$/ }).click();
    await dialog('Set default scanner').getByRole('button', { name: 'Set as default' }).click();
    await builtIn.getByText('Default').waitFor();
    await remote.getByRole('button', { name: 'Disable Remote' }).click();
    await dialog('Disable scanner').getByRole('button', { name: 'Disable' }).click();
    await remote.getByRole('button', { name: 'Enable Remote' }).waitFor();
    listed = await api('GET', '/scanners');
    expect(listed.body.find((s) => s.name === 'Remote')?.disabled).toBe(true);
    await shot('scanner-disabled');

    await remote.getByRole('button', { name: 'Delete Remote' }).click();
    await dialog('Delete scanner').getByRole('button', { name: 'Delete' }).click();
    await remote.waitFor({ state: 'detached' });
    listed = await api('GET', '/scanners');
    expect(listed.body.map((s) => s.name)).not.toContain('Remote');
  });

  it("shows a scanned artifact's vulnerabilities worst first, and an unscanned one with Scan", async () => {
    await page.goto(artifactUrl(scanned.manifest.digest));
    const table = page.getByRole('table', { name: 'Vulnerabilities' });
    await table.waitFor();
    const rows = table.getByRole('row');
    expect(await rows.count()).toBe(4);
    await expect(rows.nth(1).innerText()).resolves.toMatch(
      /CVE-2024-3094\s+xz-utils\s+5\.6\.0\s+5\.6\.1\s+Critical\s+9\.8/,
    );
    await expect(rows.nth(2).innerText()).resolves.toMatch(/CVE-2023-4863\s+libwebp\s+1\.0\.0\s+—\s+High\s+7\.5/);
    await expect(rows.nth(3).innerText()).resolves.toMatch(/CVE-2024-0727\s+openssl\s+3\.0\.1\s+3\.0\.13\s+Medium/);
    await expect(rows.nth(1).getByRole('link', { name: 'CVE-2024-3094' }).getAttribute('href')).resolves.toBe(
      'https://avd.aquasec.com/nvd/cve-2024-3094',
    );
    const legend = page.getByRole('list', { name: 'Vulnerability counts' });
    await expect(legend.getByRole('listitem').allInnerTexts()).resolves.toEqual([
      'Critical 1',
      'High 1',
      'Medium 1',
      'Total 3, 2 fixable',
    ]);
    await page.getByText('Scan status: Success').waitFor();
    await page.getByText('This artifact is not signed.').waitFor();
    await shot('artifact-vulnerabilities');

    await page.goto(artifactUrl(unscanned.manifest.digest));
    await page.getByText('This artifact has not been scanned.').waitFor();
    await expect(page.getByRole('button', { name: 'Scan' }).isEnabled()).resolves.toBe(true);
    expect(await page.getByRole('table', { name: 'Vulnerabilities' }).count()).toBe(0);
  });

  it('saves the security settings, a project allowlist and a trusted key in the project configuration', async () => {
    await page.goto(`${core.url}${projectPath}/configuration`);
    await page.getByLabel('Automatically scan images on push').check();
    await page.getByLabel('Prevent vulnerable images from running').check();
    await page.getByLabel('Prevent images with vulnerabilities of severity and above').selectOption('high');
    await page.getByLabel('Cosign: allow only verified images to be deployed').check();
    await page.getByLabel('Use the project allowlist').check();
    await page.getByLabel('CVE ids to add').fill('cve-2024-3094, CVE-2023-4863');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('button', { name: 'Remove CVE-2023-4863' }).click();
    await page.getByLabel('Never expires').uncheck();
    await page.getByLabel('Expires on').fill('2030-06-30');
    await page.getByRole('button', { name: 'Save security settings' }).click();
    await page.getByText(`The security settings of ${PROJECT} are saved.`).waitFor();
    await shot('project-security');

    const saved = await api<{
      metadata: Record<string, string>;
      cve_allowlist: { items: { cve_id: string }[]; expires_at: number | null };
    }>('GET', `/projects/${PROJECT}`);
    expect(saved.body.metadata).toMatchObject({
      auto_scan: 'true',
      prevent_vul: 'true',
      severity: 'high',
      enable_content_trust_cosign: 'true',
      enable_content_trust: 'false',
      reuse_sys_cve_allowlist: 'false',
    });
    expect(saved.body.cve_allowlist.items.map((i) => i.cve_id)).toEqual(['CVE-2024-3094']);
    expect(saved.body.cve_allowlist.expires_at).toBe(Date.parse('2030-06-30T00:00:00Z') / 1000);

    // After a reload the form shows what was saved.
    await page.reload();
    await expect(page.getByLabel('Automatically scan images on push').isChecked()).resolves.toBe(true);
    await page.getByRole('list', { name: 'Project allowlist' }).getByText('CVE-2024-3094').waitFor();

    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    await page.getByRole('button', { name: 'Add trusted key' }).click();
    const add = dialog('Add trusted key');
    await add.getByLabel('Name').fill('release');
    await add.getByLabel('PEM').fill(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    await add.getByRole('button', { name: 'Add' }).click();
    await add.waitFor({ state: 'detached' });
    const keys = page.getByRole('table', { name: 'Trusted keys' });
    const row = keys.getByRole('row').filter({ hasText: 'release' });
    await row.waitFor();
    const listed = await api<{ id: number; name: string; fingerprint: string }[]>(
      'GET',
      `/projects/${PROJECT}/trusted-keys`,
    );
    expect(listed.body.map((k) => k.name)).toEqual(['release']);
    await row.getByText(listed.body[0].fingerprint).waitFor();
    await shot('trusted-key');

    await row.getByRole('button', { name: 'Delete trusted key release' }).click();
    await dialog('Delete trusted key').getByRole('button', { name: 'Delete' }).click();
    await page.getByText('The project trusts no keys.').waitFor();
    expect((await api<unknown[]>('GET', `/projects/${PROJECT}/trusted-keys`)).body).toEqual([]);
  });
});
