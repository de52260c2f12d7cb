import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Locator, type Page } from 'playwright-core';
import { type InstalledWharf, installWharf } from './install-kit.js';
import { launchChromium } from './support/browser.js';
import { e2eTarget } from './support/target.js';

jest.setTimeout(600_000);

const SCREENSHOTS = fileURLToPath(new URL('../screenshots/portal-cleanup/', import.meta.url));

/**
 * Administration → Clean Up in a real browser, against Wharf installed by install.sh (core and jobservice, so the
 * system jobs do run): a dry run of garbage collection and one of the audit log purge, each seen to succeed with its
 * log, and a schedule set and cleared. Runs as root (install.sh provisions PostgreSQL and Redis); the checkout must
 * be built.
 */
const describeCleanUp = e2eTarget() === 'wharf' ? describe : describe.skip;

describeCleanUp('the portal: clean up, in Chromium', () => {
  let wharf: InstalledWharf;
  let browser: Browser;
  let page: Page;
  let creds: string;
  let step = 0;

  async function shot(name: string): Promise<void> {
    step += 1;
    await page.screenshot({ path: join(SCREENSHOTS, `${String(step).padStart(2, '0')}-${name}.png`), fullPage: true });
  }

  async function api<T>(path: string): Promise<T> {
    const response = await fetch(`${wharf.url}/api/v2.0${path}`, {
      headers: { authorization: `Basic ${Buffer.from(creds).toString('base64')}` },
    });
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  }

  /** Dry-runs the job from its tab, waits for the run to succeed in the history, and answers its log's text. */
  async function dryRun(history: string): Promise<{ row: Locator; log: string }> {
    await page.getByRole('button', { name: 'Dry Run' }).click();
    const row = page.getByRole('table', { name: history }).getByRole('row').nth(1);
    await row.getByText('Success').waitFor({ timeout: 60_000 });
    await expect(row.innerText()).resolves.toMatch(/Success\s+Yes\s+Manual/);
    await row.getByRole('button', { name: /^Log of run/ }).click();
    const dialog = page.getByRole('dialog', { name: /^Log of run/ });
    const pre = dialog.locator('pre');
    await pre.waitFor();
    return { row, log: await pre.innerText() };
  }

  beforeAll(async () => {
    await rm(SCREENSHOTS, { recursive: true, force: true });
    await mkdir(SCREENSHOTS, { recursive: true });
    wharf = await installWharf({ skipBuild: true });
    creds = `${wharf.admin.username}:${wharf.admin.password}`;
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
  });

  it('dry-runs garbage collection from Administration → Clean Up and shows its log and the space it would free', async () => {
    await page.getByRole('link', { name: 'Clean Up' }).click();
    await page.waitForURL(/\/admin\/cleanup\/gc$/);
    await page.getByLabel('Workers').fill('3');
    const { log } = await dryRun('Garbage collection history');
    expect(log).toContain('dry run finished, nothing was deleted');
    const dialog = page.getByRole('dialog', { name: /^Log of run/ });
    await expect(dialog.getByText('Would free:').locator('..').innerText()).resolves.toMatch(/^Would free: \d/);
    await shot('gc-dry-run-log');
    await dialog.getByRole('button', { name: 'Close' }).click();

    const runs = await api<{ job_parameters: string }[]>('/system/gc');
    expect(JSON.parse(runs[0].job_parameters)).toEqual({
      delete_untagged: false,
      workers: 3,
      time_window: 2,
      dry_run: true,
    });
  });

  it('sets a daily garbage collection schedule, shows its next run, and clears it', async () => {
    await page.getByLabel('Schedule', { exact: true }).selectOption({ label: 'Daily' });
    await page.getByRole('button', { name: 'Save schedule' }).click();
    await page.getByText(/^Next run:.*\d\d:\d\d UTC\)$/).waitFor();
    await shot('gc-scheduled');
    const set = await api<{ schedule: { type: string; cron: string }; parameters: object }>('/system/gc/schedule');
    expect(set.schedule).toMatchObject({ type: 'Daily', cron: '0 0 0 * * *' });
    expect(set.parameters).toEqual({ delete_untagged: false, workers: 3, time_window: 2, dry_run: false });

    await page.getByLabel('Schedule', { exact: true }).selectOption({ label: 'None' });
    await page.getByRole('button', { name: 'Save schedule' }).click();
    await page.getByText('The garbage collection is no longer scheduled.').waitFor();
    await expect(page.getByText(/^Next run:/).count()).resolves.toBe(0);
    expect((await api<{ schedule: { type: string } }>('/system/gc/schedule')).schedule.type).toBe('None');
  });

  it('dry-runs the audit log purge of the event types chosen and shows its log', async () => {
    await page.getByRole('link', { name: 'Audit Log Rotation' }).click();
    await page.waitForURL(/\/admin\/cleanup\/purge-audit$/);
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByLabel('update_user').check();
    await page.getByLabel('Keep records for').fill('12');
    await page.getByLabel('Unit').selectOption('hours');
    const { log } = await dryRun('Audit log rotation history');
    expect(log).toContain('older than 12 hour(s)');
    expect(log).toContain('of event types update_user (dry run)');
    expect(log).toMatch(/\d+ audit record\(s\) would be purged/);
    await shot('purge-dry-run-log');
    await page
      .getByRole('dialog', { name: /^Log of run/ })
      .getByRole('button', { name: 'Close' })
      .click();
  });
});
