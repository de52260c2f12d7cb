import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type TestImageLayout, buildImageLayout } from '@wharf/testkit';
import { type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { type InstalledWharf, installWharf } from './install-kit.js';
import { launchChromium } from './support/browser.js';
import { Skopeo } from './support/clients.js';
import { e2eTarget } from './support/target.js';

jest.setTimeout(900_000);

/** Where the screenshots of this test go, one PNG per step, numbered in order. */
const SCREENSHOTS = fileURLToPath(new URL('../screenshots/portal/', import.meta.url));
const PROJECT = 'frontend';
const REPOSITORY = 'web/app';
const ROBOT = 'ci';
/**
 * The configured hostname: not the address the browser and the clients use (127.0.0.1), so a command that names the
 * page's address instead of the configured one shows.
 */
const HOSTNAME = 'localhost';

interface RobotRecord {
  name: string;
  permissions: { kind: string; namespace: string; access: { resource: string; action: string }[] }[];
}

/** Relative luminance (WCAG 2) of a computed CSS colour `rgb(r, g, b)`. */
function luminance(color: string): number {
  const [r, g, b] = (color.match(/[\d.]+/g) ?? []).slice(0, 3).map((part) => {
    const channel = Number(part) / 255;
    return channel <= 0.03928 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (light + 0.05) / (dark + 0.05);
}

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
  /** The registry address the configuration gives: what every command in the portal must name. */
  let registry: string;
  /** `/projects/<id>` of the project the test creates. */
  let projectPath: string;
  let step = 0;

  async function shot(name: string): Promise<void> {
    step += 1;
    await page.screenshot({ path: join(SCREENSHOTS, `${String(step).padStart(2, '0')}-${name}.png`), fullPage: true });
  }

  /** The dialog titled `name` (role dialog, labelled by its heading). */
  function dialog(name: string | RegExp): Locator {
    return page.getByRole('dialog', { name });
  }

  /** The project's robots, as the API reports them. */
  async function robotsOf(projectName: string): Promise<RobotRecord[]> {
    const [project] = await api<{ project_id: number }[]>(`/projects?name=${projectName}`);
    return await api<RobotRecord[]>(`/robots?q=${encodeURIComponent(`Level=project,ProjectID=${project.project_id}`)}`);
  }

  function accessOf(robot: RobotRecord | undefined): string[] {
    return (robot?.permissions ?? [])
      .flatMap((p) => p.access.map((a) => `${p.namespace} ${a.resource}:${a.action}`))
      .sort();
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
    wharf = await installWharf({ extraConfig: { hostname: HOSTNAME } });
    registry = `${HOSTNAME}:${wharf.httpPort}`;
    browser = await launchChromium();
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
    projectPath = new URL(page.url()).pathname.split('/').slice(0, 3).join('/');
    await page.getByRole('heading', { name: PROJECT }).waitFor();
    await shot('project-summary');
  });

  it('says once, in words, that a project of that name already exists', async () => {
    await page.goto(`${wharf.url}/projects`);
    await page.getByRole('button', { name: 'New project' }).click();
    const create = dialog(/new project/i);
    await create.getByLabel('Project name').fill(PROJECT);
    await create.getByRole('button', { name: 'OK' }).click();
    const alert = create.getByRole('alert');
    await alert.waitFor();
    await shot('project-exists');
    const text = (await alert.innerText()).trim();
    expect(text).toBe(`Could not create the project: project ${PROJECT} already exists.`);
    expect(text.match(/already exists/g)).toHaveLength(1);
    await create.getByRole('button', { name: 'Cancel' }).click();
    await create.waitFor({ state: 'detached' });
    await page.getByRole('row').filter({ hasText: PROJECT }).getByRole('link', { name: PROJECT }).click();
    await page.waitForURL(/\/projects\/\d+\//);
  });

  it('shows the push commands of an empty project with the configured registry address', async () => {
    await page
      .getByRole('navigation', { name: 'Project sections' })
      .getByRole('link', { name: 'Repositories' })
      .click();
    const push = page.getByText(`docker push ${registry}/${PROJECT}/REPOSITORY[:TAG]`);
    await push.waitFor();
    await expect(page.getByText(`docker login ${registry}`).count()).resolves.toBe(1);
    await expect(page.getByText(wharf.host).count()).resolves.toBe(0);
    await shot('repositories-empty');
  });

  it('offers robot permissions by preset, Pull by default, and only for resources that exist', async () => {
    await page.getByRole('link', { name: 'Robot Accounts', exact: true }).click();
    await page.waitForURL(/\/robots$/);
    await page.getByRole('button', { name: 'New robot account' }).click();
    const form = dialog(/robot account/i);
    await form.getByLabel('Name').fill('reader');
    await expect(form.getByRole('radio', { name: 'Pull', exact: true }).isChecked()).resolves.toBe(true);
    await expect(form.getByRole('checkbox').count()).resolves.toBe(0);

    await form.getByRole('radio', { name: 'Custom' }).click();
    const picker = form.getByRole('group', { name: 'Custom permissions' });
    const resources = (await picker.getByRole('rowheader').allInnerTexts()).map((text) => text.trim());
    expect(resources.sort()).toEqual(
      [
        'Accessory',
        'Artifact',
        'Artifact addition',
        'Immutable tag',
        'Log',
        'Member',
        'Project',
        'Quota',
        'Repository',
        'Robot',
        'Scan',
        'Scanner',
        'Tag',
        'Tag retention',
      ].sort(),
    );
    await expect(picker.getByRole('checkbox', { checked: true }).count()).resolves.toBe(1);
    await expect(picker.getByRole('checkbox', { name: 'Repository: Pull' }).isChecked()).resolves.toBe(true);
    await shot('robot-custom-permissions');
    await form.getByRole('radio', { name: 'Pull', exact: true }).click();
    await form.getByRole('button', { name: 'Create' }).click();
    const secretDialog = page.getByRole('dialog').filter({ has: page.getByLabel('Secret') });
    await secretDialog.waitFor();
    await secretDialog
      .getByRole('button', { name: /close|done|ok/i })
      .first()
      .click();
    await secretDialog.waitFor({ state: 'detached' });

    const reader = (await robotsOf(PROJECT)).find((r) => r.name === `robot$${PROJECT}+reader`);
    expect(accessOf(reader)).toEqual([`${PROJECT} repository:pull`]);
  });

  it('gives a robot everything a project robot may have, none of it for features not built', async () => {
    await page.getByRole('button', { name: 'New robot account' }).click();
    const form = dialog(/robot account/i);
    await form.getByLabel('Name').fill('admin-bot');
    await form.getByRole('radio', { name: 'Everything a project robot may have' }).click();
    await form.getByRole('radio', { name: 'Custom' }).click();
    const offered = await form.getByRole('group', { name: 'Custom permissions' }).getByRole('checkbox').count();
    await expect(form.getByRole('checkbox', { checked: false }).count()).resolves.toBe(0);
    await form.getByRole('button', { name: 'Create' }).click();
    const secretDialog = page.getByRole('dialog').filter({ has: page.getByLabel('Secret') });
    await secretDialog.waitFor();
    await secretDialog
      .getByRole('button', { name: /close|done|ok/i })
      .first()
      .click();
    await secretDialog.waitFor({ state: 'detached' });

    const access = accessOf((await robotsOf(PROJECT)).find((r) => r.name === `robot$${PROJECT}+admin-bot`));
    expect(access).toHaveLength(offered);
    expect(access).toEqual(
      expect.arrayContaining([
        `${PROJECT} repository:push`,
        `${PROJECT} repository:delete`,
        `${PROJECT} member:create`,
        `${PROJECT} immutable-tag:create`,
        `${PROJECT} tag-retention:update`,
      ]),
    );
    expect(access).toEqual(expect.arrayContaining([`${PROJECT} scan:create`, `${PROJECT} scanner:read`]));
    expect(access.filter((entry) => /\b(sbom|label|metadata):/.test(entry))).toEqual([]);
  });

  it('creates a robot account and shows its secret once', async () => {
    await page.getByRole('link', { name: 'Robot Accounts', exact: true }).click();
    await page.waitForURL(/\/robots$/);
    await page.getByRole('button', { name: 'New robot account' }).click();
    const form = dialog(/robot account/i);
    await form.getByLabel('Name').fill(ROBOT);
    await form.getByRole('radio', { name: 'Push and pull' }).click();
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
    const ci = (await robotsOf(PROJECT)).find((r) => r.name === robotName);
    expect(accessOf(ci)).toEqual([`${PROJECT} repository:pull`, `${PROJECT} repository:push`]);
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

  it('copies pull commands that name the configured registry address, and the copied command pulls', async () => {
    const artifactRow = page.getByRole('row').filter({ hasText: image.manifest.digest.slice(7, 19) });
    await artifactRow.getByRole('button', { name: 'Copy pull command for tag latest' }).click();
    const copied = await page.evaluate<string>('navigator.clipboard.readText()');
    expect(copied).toBe(`docker pull ${registry}/${PROJECT}/${REPOSITORY}:latest`);

    // The command works as copied: the same address pulls the pushed image (skopeo checks every digest).
    const pulled = join(workDir, 'pulled');
    await skopeo.copy(copied.replace(/^docker pull /, 'docker://'), `oci:${pulled}:latest`, [
      '--src-creds',
      `${robotName}:${robotSecret}`,
    ]);
    const index = JSON.parse(await readFile(join(pulled, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(index.manifests.map((m) => m.digest)).toEqual([image.manifest.digest]);
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

  it('follows a dark colour scheme on every page, with readable text', async () => {
    const colours = () =>
      page.evaluate<{ background: string; text: string; surface: string | null }>(`(() => {
        const table = document.querySelector('.table-wrap table, .state, .card');
        return {
          background: getComputedStyle(document.documentElement).backgroundColor,
          text: getComputedStyle(document.body).color,
          surface: table ? getComputedStyle(table).backgroundColor : null,
        };
      })()`);

    await page.emulateMedia({ colorScheme: 'light' });
    await page.goto(`${wharf.url}/projects`);
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    expect(luminance((await colours()).background)).toBeGreaterThan(0.8);

    await page.emulateMedia({ colorScheme: 'dark' });
    const paths = [
      '/projects',
      `${projectPath}/summary`,
      `${projectPath}/repositories`,
      `${projectPath}/members`,
      `${projectPath}/robots`,
      `${projectPath}/policy`,
      `${projectPath}/logs`,
      `${projectPath}/configuration`,
      '/admin/users',
      '/admin/robots',
      '/admin/quotas',
      '/admin/audit-logs',
      '/account',
    ];
    for (const path of paths) {
      await page.goto(`${wharf.url}${path}`);
      await page.getByRole('heading', { level: 1 }).first().waitFor();
      await page.waitForLoadState('networkidle');
      const { background, text, surface } = await colours();
      const seen = { path, background, text, surface };
      expect({ ...seen, dark: luminance(background) < 0.05 }).toEqual({ ...seen, dark: true });
      expect({ ...seen, contrast: contrast(text, background) >= 7 }).toEqual({ ...seen, contrast: true });
      if (surface && !surface.startsWith('rgba(0, 0, 0, 0)')) {
        expect({ ...seen, surfaceDark: luminance(surface) < 0.05 }).toEqual({ ...seen, surfaceDark: true });
      }
    }
    await shot('projects-dark');

    // The login page, to someone not logged in.
    const visitor = await browser.newContext({ colorScheme: 'dark' });
    const login = await visitor.newPage();
    await login.goto(`${wharf.url}/`);
    await login.getByRole('button', { name: 'Log in' }).waitFor();
    const card = await login.evaluate<{ card: string; text: string }>(`(() => {
      const form = document.querySelector('form');
      const card = form.closest('[class*="card"]') ?? form;
      return { card: getComputedStyle(card).backgroundColor, text: getComputedStyle(form).color };
    })()`);
    await login.screenshot({ path: join(SCREENSHOTS, 'login-dark.png') });
    await visitor.close();
    expect(luminance(card.card)).toBeLessThan(0.05);
    expect(contrast(card.text, card.card)).toBeGreaterThanOrEqual(7);
    await page.emulateMedia({ colorScheme: 'light' });
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
