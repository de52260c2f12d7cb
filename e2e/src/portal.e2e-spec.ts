import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type TestImageLayout, buildImageLayout } from '@wharf/testkit';
import { type Browser, type BrowserContext, type Locator, type Page, chromium } from 'playwright-core';
import { type InstalledWharf, installWharf } from './install-kit.js';
import { Skopeo } from './support/clients.js';
import { e2eTarget } from './support/target.js';

jest.setTimeout(900_000);

/** Where the screenshots of this test go, one PNG per step, numbered in order. */
const SCREENSHOTS = fileURLToPath(new URL('../screenshots/portal/', import.meta.url));
const CHROMIUM = process.env.WHARF_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];
const PROJECT = 'frontend';
const REPOSITORY = 'web/app';
const ROBOT = 'ci';

interface AuditLog {
  username: string;
  resource: string;
  resource_type: string;
  operation: string;
}

/**
 * A newcomer's first ten minutes, in a real browser: install.sh into a temporary data_volume, log in to the portal as
 * the administrator, create a project and a robot, push with skopeo using the secret read off the page, find the
 * artifact, delete a tag and see it all in the audit log. Runs as root (install.sh provisions PostgreSQL and Redis).
 */
const describePortal = e2eTarget() === 'wharf' ? describe : describe.skip;

describePortal('the portal after ./install.sh, in Chromium', () => {
  let workDir: string;
  let wharf: InstalledWharf;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let skopeo: Skopeo;
  let image: TestImageLayout;
  let robotName: string;
  let robotSecret: string;
  let step = 0;

  async function shot(name: string): Promise<void> {
    step += 1;
    await page.screenshot({ path: join(SCREENSHOTS, `${String(step).padStart(2, '0')}-${name}.png`), fullPage: true });
  }

  /** The dialog titled `name` (role dialog, labelled by its heading). */
  function dialog(name: string | RegExp): Locator {
    return page.getByRole('dialog', { name });
  }

  async function api<T>(path: string): Promise<T> {
    const auth = Buffer.from(`${wharf.admin.username}:${wharf.admin.password}`).toString('base64');
    const response = await fetch(`${wharf.url}/api/v2.0${path}`, { headers: { authorization: `Basic ${auth}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  }

  beforeAll(async () => {
    await rm(SCREENSHOTS, { recursive: true, force: true });
    await mkdir(SCREENSHOTS, { recursive: true });
    workDir = await mkdtemp(join(tmpdir(), 'wharf-e2e-portal-'));
    image = await buildImageLayout(join(workDir, 'image'), { seed: 'e2e-portal', layerSizes: [4096, 64 * 1024] });
    skopeo = await Skopeo.create(await mkdtemp(join(workDir, 'skopeo-')));
    wharf = await installWharf();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: wharf.url });
    page = await context.newPage();
    // eslint-disable-next-line no-console
    console.log(`portal screenshots: ${SCREENSHOTS}`);
  });

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await wharf?.cleanup().catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  });

  it('opens on the login page and logs the administrator in', async () => {
    await page.goto(`${wharf.url}/`);
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    await shot('login');
    await page.getByLabel('Username').fill(wharf.admin.username);
    await page.getByLabel('Password').fill('Not-the-passw0rd');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /password|incorrect|invalid/i })
      .waitFor();
    await shot('login-refused');
    await page.getByLabel('Password').fill(wharf.admin.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(/\/projects/);
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    await shot('projects-empty');
  });

  it('creates a private project', async () => {
    await page.getByRole('button', { name: 'New project' }).click();
    const create = dialog(/new project/i);
    await create.getByLabel('Project name').fill(PROJECT);
    await create.getByLabel('Storage limit').fill('1');
    await shot('project-create');
    await create.getByRole('button', { name: 'OK' }).click();
    await create.waitFor({ state: 'detached' });
    const row = page.getByRole('row').filter({ hasText: PROJECT });
    await row.waitFor();
    await shot('projects');
    await row.getByRole('link', { name: PROJECT }).click();
    await page.waitForURL(/\/projects\/\d+\//);
    await page.getByRole('heading', { name: PROJECT }).waitFor();
    await shot('project-summary');
  });

  it('creates a robot account and shows its secret once', async () => {
    await page.getByRole('link', { name: 'Robot Accounts', exact: true }).click();
    await page.waitForURL(/\/robots$/);
    await page.getByRole('button', { name: 'New robot account' }).click();
    const form = dialog(/robot account/i);
    await form.getByLabel('Name').fill(ROBOT);
    await form
      .getByRole('button', { name: /select all/i })
      .first()
      .click();
    await shot('robot-create');
    await form.getByRole('button', { name: /^(OK|Create|Save)$/ }).click();

    const secretDialog = page.getByRole('dialog').filter({ has: page.getByLabel('Secret') });
    await secretDialog.waitFor();
    robotName = await secretDialog.getByLabel('Name').inputValue();
    robotSecret = await secretDialog.getByLabel('Secret').inputValue();
    expect(robotName).toBe(`robot$${PROJECT}+${ROBOT}`);
    expect(robotSecret.length).toBeGreaterThanOrEqual(32);
    const download = page.waitForEvent('download');
    await secretDialog.getByRole('button', { name: 'Download' }).click();
    expect((await download).suggestedFilename()).toContain(ROBOT);
    await shot('robot-secret');
    await secretDialog
      .getByRole('button', { name: /close|done|ok/i })
      .first()
      .click();
    await page.getByRole('row').filter({ hasText: robotName }).waitFor();
    await shot('robots');
    // The secret is never shown again.
    await expect(page.getByText(robotSecret).count()).resolves.toBe(0);
  });

  it('pushes an image with skopeo using the robot, and shows it in the portal', async () => {
    const creds = `${robotName}:${robotSecret}`;
    await skopeo.copy(`oci:${image.path}:${image.ref}`, `docker://${wharf.host}/${PROJECT}/${REPOSITORY}:1.0`, [
      '--dest-creds',
      creds,
    ]);
    await skopeo.copy(`oci:${image.path}:${image.ref}`, `docker://${wharf.host}/${PROJECT}/${REPOSITORY}:latest`, [
      '--dest-creds',
      creds,
    ]);

    await page.getByRole('link', { name: 'Repositories', exact: true }).click();
    const repoRow = page.getByRole('row').filter({ hasText: REPOSITORY });
    await repoRow.waitFor();
    await shot('repositories');
    await repoRow.getByRole('link', { name: new RegExp(REPOSITORY.replace('/', '\\/')) }).click();
    const artifactRow = page.getByRole('row').filter({ hasText: image.manifest.digest.slice(7, 19) });
    await artifactRow.waitFor();
    const tags = artifactRow.getByRole('list', { name: /^Tags of/ }).getByRole('listitem');
    const names = (await tags.allInnerTexts()).map((text) => text.replace('×', '').trim()).sort();
    expect(names).toEqual(['1.0', 'latest']);
    await shot('artifacts');
  });

  it('deletes a tag from the portal', async () => {
    const artifactRow = page.getByRole('row').filter({ hasText: image.manifest.digest.slice(7, 19) });
    await artifactRow.getByRole('button', { name: /delete tag 1\.0/i }).click();
    const confirm = page.getByRole('dialog');
    await shot('tag-delete-confirm');
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await confirm.waitFor({ state: 'detached' });
    await artifactRow.getByRole('button', { name: 'Delete tag 1.0' }).waitFor({ state: 'detached', timeout: 10_000 });
    const tags = artifactRow.getByRole('list', { name: /^Tags of/ }).getByRole('listitem');
    await expect(tags.allInnerTexts()).resolves.toEqual([expect.stringContaining('latest')]);
    await shot('artifacts-after-tag-delete');
    const listed = await skopeo.run([
      'list-tags',
      '--tls-verify=false',
      '--creds',
      `${robotName}:${robotSecret}`,
      `docker://${wharf.host}/${PROJECT}/${REPOSITORY}`,
    ]);
    expect((JSON.parse(listed) as { Tags: string[] }).Tags).toEqual(['latest']);
  });

  it('shows each step in the audit log', async () => {
    // Registry events (the push, the tag deletion) reach the audit log through the outbox: wait for both first.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const logs = await api<AuditLog[]>('/audit-logs?page_size=100');
      const has = (operation: string) =>
        logs.some((entry) => entry.operation === operation && entry.resource.includes(`${REPOSITORY}:1.0`));
      if (has('create') && has('delete')) break;
      if (Date.now() > deadline) throw new Error(`push or tag deletion not in the audit log: ${JSON.stringify(logs)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await page.waitForURL(/\/admin\/audit-logs/);
    const table = page.getByRole('table');
    await table.getByRole('row').filter({ hasText: robotName }).first().waitFor();
    const rows = await table.getByRole('row').allInnerTexts();
    for (const [who, what] of [
      ['admin', PROJECT],
      ['admin', ROBOT],
      [robotName, `${REPOSITORY}:1.0`],
      ['admin', `${REPOSITORY}:1.0`],
    ]) {
      expect({ who, what, shown: rows.some((row) => row.includes(who) && row.includes(what)) || rows }).toEqual({
        who,
        what,
        shown: true,
      });
    }
    await shot('audit-log');
  });

  it('works on a narrow window', async () => {
    await page.setViewportSize({ width: 400, height: 800 });
    await page.goto(`${wharf.url}/projects`);
    await page.getByRole('row').filter({ hasText: PROJECT }).waitFor();
    await shot('projects-narrow');
    // Nothing wider than the window: the page itself never scrolls sideways (wide tables scroll inside their box).
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
  });
});
