import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type TestImageLayout, buildImageLayout } from '@wharf/testkit';
import { type Browser, type Locator, type Page } from 'playwright-core';
import { type InstalledWharf, installWharf } from './install-kit.js';
import { launchChromium } from './support/browser.js';
import { CommandError, Skopeo } from './support/clients.js';
import { e2eTarget } from './support/target.js';

jest.setTimeout(600_000);

const SCREENSHOTS = fileURLToPath(new URL('../screenshots/portal-policy/', import.meta.url));
const PROJECT = 'policies';
const TARGET = 'copies';
const REPOSITORY = 'app';

/**
 * A project's policies and artifact copy in a real browser, against Wharf installed by install.sh (core and
 * jobservice, so retention runs do run): an immutability rule made in the portal refuses skopeo's push over the tag,
 * a retention rule's dry run shows what it keeps per repository, and "Copy to…" puts an artifact in another project.
 * Runs as root (install.sh provisions PostgreSQL and Redis); the checkout must be built.
 */
const describePolicy = e2eTarget() === 'wharf' ? describe : describe.skip;

describePolicy('the portal: policies and artifact copy, in Chromium', () => {
  let workDir: string;
  let wharf: InstalledWharf;
  let browser: Browser;
  let page: Page;
  let skopeo: Skopeo;
  let first: TestImageLayout;
  let second: TestImageLayout;
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
    const response = await fetch(`${wharf.url}/api/v2.0${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const isJson = (response.headers.get('content-type') ?? '').includes('json') && text.length > 0;
    return { status: response.status, body: (isJson ? JSON.parse(text) : text) as T };
  }

  async function push(image: TestImageLayout, tag: string, repository = REPOSITORY): Promise<void> {
    await skopeo.copy(`oci:${image.path}:${image.ref}`, `docker://${wharf.host}/${PROJECT}/${repository}:${tag}`, [
      '--preserve-digests',
      '--dest-creds',
      creds,
    ]);
  }

  beforeAll(async () => {
    await rm(SCREENSHOTS, { recursive: true, force: true });
    await mkdir(SCREENSHOTS, { recursive: true });
    workDir = await mkdtemp(join(tmpdir(), 'wharf-e2e-portal-policy-'));
    [first, second] = await Promise.all([
      buildImageLayout(join(workDir, 'first'), { seed: 'e2e-policy-first', layerSizes: [2048] }),
      buildImageLayout(join(workDir, 'second'), { seed: 'e2e-policy-second', layerSizes: [1024] }),
    ]);
    skopeo = await Skopeo.create(await mkdtemp(join(workDir, 'skopeo-')));
    wharf = await installWharf({ skipBuild: true });
    creds = `${wharf.admin.username}:${wharf.admin.password}`;
    for (const name of [PROJECT, TARGET]) {
      expect((await api('POST', '/projects', { project_name: name, metadata: { public: 'false' } })).status).toBe(201);
    }
    // Two artifacts, the second pushed last: a rule keeping the most recent one keeps it alone.
    await push(first, '1.0');
    await push(second, '2.0');
    const [project] = (
      await api<{ project_id: number; name: string }[]>('GET', `/projects?name=${PROJECT}`)
    ).body.filter((p) => p.name === PROJECT);
    projectPath = `/projects/${project.project_id}`;

    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    await page.goto(`${wharf.url}/`);
    await page.getByLabel('Username').fill(wharf.admin.username);
    await page.getByLabel('Password').fill(wharf.admin.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(/\/projects/);
  });

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await wharf?.cleanup().catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  });

  it('adds a retention rule, dry-runs it and shows what each repository keeps', async () => {
    await page.goto(`${wharf.url}${projectPath}/summary`);
    await page.getByRole('navigation', { name: 'Project sections' }).getByRole('link', { name: 'Policy' }).click();
    await page.getByRole('button', { name: 'Add rule' }).click();
    const add = dialog('Add retention rule');
    await add.getByLabel('Count').fill('1');
    await add.getByRole('button', { name: 'Add' }).click();
    await add.waitFor({ state: 'detached' });
    await page
      .getByText(
        'For the repositories matching **, retain the 1 most recently pushed artifacts with tags matching ** including untagged artifacts',
      )
      .waitFor();

    await page.getByRole('button', { name: 'Dry run' }).click();
    const runs = page.getByRole('table', { name: 'Runs of the retention policy' });
    const run = runs.getByRole('row').filter({ hasText: 'Success' }).first();
    await run.waitFor({ timeout: 60_000 });
    await expect(run.innerText()).resolves.toMatch(/Yes\s+Manual/);
    await run.getByRole('button', { name: /^Show the repositories of run/ }).click();
    const tasks = page.getByRole('table', { name: /^Repositories of run/ });
    const task = tasks.getByRole('row').filter({ hasText: REPOSITORY });
    await task.getByText('1 / 2').waitFor();
    await shot('retention-dry-run');
    await task.getByRole('button', { name: `Log of ${REPOSITORY}` }).click();
    const log = dialog(`Log of ${REPOSITORY}`);
    await log.locator('pre').waitFor();
    const text = await log.locator('pre').innerText();
    expect(text).toContain(first.manifest.digest);
    expect(text).toContain(second.manifest.digest);
    await shot('retention-log');
    await log.getByRole('button', { name: 'Close' }).click();

    // A dry run deletes nothing.
    const listed = await api<unknown[]>('GET', `/projects/${PROJECT}/repositories/${REPOSITORY}/artifacts`);
    expect(listed.body).toHaveLength(2);
  });

  it('adds an immutability rule in the portal, and skopeo can no longer push over the tag', async () => {
    await page.goto(`${wharf.url}${projectPath}/policy`);
    await page.getByRole('heading', { name: 'Tag immutability' }).waitFor();
    await page.getByRole('button', { name: 'Add immutability rule' }).click();
    const add = dialog('Add immutability rule');
    await add.getByLabel('Tag pattern').fill('1.*');
    await add.getByRole('button', { name: 'Add' }).click();
    await add.waitFor({ state: 'detached' });
    const rules = page.getByRole('table', { name: 'Tag immutability' });
    await rules.getByText('For the repositories matching **, tags matching 1.* are immutable').waitFor();
    await shot('immutability-rule');

    const refused = await push(second, '1.0').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(CommandError);
    expect((refused as CommandError).stderr).toContain("'app:1.0' configured as immutable");
    // 2.0 is not selected: it still moves.
    await push(first, '2.0');
    await push(second, '2.0');

    // Retention keeps what is immutable: a dry run now retains the artifact tagged 1.0 as well.
    await page.getByRole('button', { name: 'Dry run' }).click();
    const runs = page.getByRole('table', { name: 'Runs of the retention policy' });
    const run = runs.getByRole('row').nth(1);
    await run.getByRole('button', { name: 'Show the repositories of run 2' }).waitFor();
    await run.getByText('Success').waitFor({ timeout: 60_000 });
    await run.getByRole('button', { name: 'Show the repositories of run 2' }).click();
    await page
      .getByRole('table', { name: 'Repositories of run 2' })
      .getByRole('row')
      .filter({ hasText: REPOSITORY })
      .getByText('2 / 2')
      .waitFor();
  });

  it('copies an artifact to another project from the artifact list, and it is listed there', async () => {
    await page.goto(`${wharf.url}${projectPath}/repositories/${REPOSITORY}`);
    const short = first.manifest.digest.slice(0, 19);
    await page.getByRole('button', { name: `Copy artifact ${short} to…` }).click();
    const copy = dialog('Copy artifact');
    await copy.getByLabel('Copy by').selectOption({ label: 'Tag 1.0' });
    await copy.getByLabel('Target project').fill(TARGET);
    await shot('copy-dialog');
    await copy.getByRole('button', { name: 'Copy' }).click();
    const done = dialog('Artifact copied');
    await done.getByRole('link', { name: `${TARGET}/${REPOSITORY}` }).click();
    await page.waitForURL(new RegExp(`/repositories/${REPOSITORY}$`));
    await page.getByRole('heading', { name: `${TARGET}/${REPOSITORY}` }).waitFor();
    const row = page.getByRole('row').filter({ hasText: first.manifest.digest.slice(7, 19) });
    await row
      .getByRole('list', { name: /^Tags of/ })
      .getByText('1.0')
      .waitFor();
    await shot('copied');
  });

  it('says in the copy dialog why an immutable tag refuses a copy over it', async () => {
    // other:1.0 names the second artifact; copying the first, tagged 1.0, there would move an immutable tag.
    await push(second, '1.0', 'other');
    await page.goto(`${wharf.url}${projectPath}/repositories/${REPOSITORY}`);
    await page.getByRole('button', { name: `Copy artifact ${first.manifest.digest.slice(0, 19)} to…` }).click();
    const copy = dialog('Copy artifact');
    await copy.getByLabel('Target project').fill(PROJECT);
    await copy.getByLabel('Target repository').fill('other');
    await copy.getByRole('button', { name: 'Copy' }).click();
    const alert = copy.getByRole('alert');
    await alert.waitFor();
    await shot('copy-refused');
    expect(await alert.innerText()).toBe(
      "Could not copy the artifact: Failed to process request due to 'other:1.0' configured as immutable.",
    );
    const kept = await api<{ digest: string }[]>('GET', `/projects/${PROJECT}/repositories/other/artifacts`);
    expect(kept.body.map((a) => a.digest)).toEqual([second.manifest.digest]);
  });
});
