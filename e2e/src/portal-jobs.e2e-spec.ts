import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Locator, type Page } from 'playwright-core';
import { type InstalledWharf, installWharf } from './install-kit.js';
import { launchChromium } from './support/browser.js';
import { e2eTarget } from './support/target.js';

jest.setTimeout(600_000);

const SCREENSHOTS = fileURLToPath(new URL('../screenshots/portal-jobs/', import.meta.url));
const DEVELOPER = { username: 'dana', password: 'Dana-Passw0rd' };

/**
 * Administration → Job Service Dashboard in a real browser, against Wharf installed by install.sh (core and
 * jobservice): the running jobservice's pool and workers, a garbage collection held by pausing its job type and
 * counted as pending, then run to Success once resumed, all schedules paused and resumed, and a user who is no
 * administrator kept out. Runs as root (install.sh provisions PostgreSQL and Redis); the checkout must be built.
 */
const describeJobs = e2eTarget() === 'wharf' ? describe : describe.skip;

describeJobs('the portal: job service dashboard, in Chromium', () => {
  let wharf: InstalledWharf;
  let browser: Browser;
  let page: Page;
  let creds: string;
  let step = 0;

  async function shot(name: string): Promise<void> {
    step += 1;
    await page.screenshot({ path: join(SCREENSHOTS, `${String(step).padStart(2, '0')}-${name}.png`), fullPage: true });
  }

  async function api(method: string, path: string, body?: unknown, auth = creds): Promise<Response> {
    return fetch(`${wharf.url}/api/v2.0${path}`, {
      method,
      headers: {
        authorization: `Basic ${Buffer.from(auth).toString('base64')}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  async function logIn(into: Page, user: { username: string; password: string }): Promise<void> {
    await into.goto(`${wharf.url}/`);
    await into.getByLabel('Username').fill(user.username);
    await into.getByLabel('Password').fill(user.password);
    await into.getByRole('button', { name: 'Log in' }).click();
    await into.waitForURL(/\/projects/);
  }

  /** The row of a job type in the pending jobs table. */
  function queueRow(jobType: string): Locator {
    return page.getByRole('table', { name: 'Pending jobs per job type' }).getByRole('row', { name: jobType });
  }

  /** Chooses one job type, presses the action and confirms it. */
  async function actOn(jobType: string, action: 'Pause' | 'Resume' | 'Stop'): Promise<void> {
    await page.getByLabel(`Choose ${jobType}`, { exact: true }).check();
    await page.getByRole('button', { name: action, exact: true }).click();
    const dialog = page.getByRole('dialog', { name: `${action} jobs` });
    await expect(dialog.innerText()).resolves.toContain(`${action} the jobs of ${jobType}?`);
    await dialog.getByRole('button', { name: action, exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
  }

  beforeAll(async () => {
    await rm(SCREENSHOTS, { recursive: true, force: true });
    await mkdir(SCREENSHOTS, { recursive: true });
    wharf = await installWharf({ skipBuild: true });
    creds = `${wharf.admin.username}:${wharf.admin.password}`;
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await logIn(page, wharf.admin);
  });

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await wharf?.cleanup().catch(() => undefined);
  });

  it("opens Administration → Job Service Dashboard and shows the running jobservice's pool and its workers", async () => {
    await page.getByRole('link', { name: 'Job Service Dashboard' }).click();
    await page.waitForURL(/\/admin\/job-service-dashboard$/);
    await page.getByRole('heading', { name: 'Job Service Dashboard', level: 1 }).waitFor();

    const pools = (await (await api('GET', '/jobservice/pools')).json()) as { worker_pool_id: string; pid: number }[];
    expect(pools).toHaveLength(1);
    const pool = pools[0];
    expect(pool.pid).toBe(await wharf.pid('jobservice'));
    await page.getByRole('heading', { name: `Pool ${pool.worker_pool_id}` }).waitFor();
    const workers = page.getByRole('table', { name: `Workers of ${pool.worker_pool_id}` });
    const rows = workers.getByRole('row');
    const slots = (await (await api('GET', `/jobservice/pools/all/workers`)).json()) as unknown[];
    expect(slots.length).toBeGreaterThan(0);
    await expect(rows.count()).resolves.toBe(slots.length + 1);
    await expect(workers.innerText()).resolves.toMatch(/system:1/);
    await expect(queueRow('GARBAGE_COLLECTION').innerText()).resolves.toMatch(/GARBAGE_COLLECTION\s+0\s+—\s+Running/);
    await shot('dashboard');
  });

  it('holds a garbage collection while its job type is paused, counts it as pending, and runs it once resumed', async () => {
    await actOn('GARBAGE_COLLECTION', 'Pause');
    await queueRow('GARBAGE_COLLECTION').getByText('Paused').waitFor();
    const paused = (await (await api('GET', '/jobservice/queues')).json()) as { job_type: string; paused: boolean }[];
    expect(paused.find((q) => q.job_type === 'GARBAGE_COLLECTION')?.paused).toBe(true);

    await page.getByRole('link', { name: 'Clean Up' }).click();
    await page.waitForURL(/\/admin\/cleanup\/gc$/);
    await page.getByRole('button', { name: 'Dry Run' }).click();
    const run = page.getByRole('table', { name: 'Garbage collection history' }).getByRole('row').nth(1);
    await run.getByText(/Pending|Scheduled|Running/).waitFor();

    await page.getByRole('link', { name: 'Job Service Dashboard' }).click();
    // Counted as pending while its type is paused; the dashboard polls, so a count that lags shows up in a while.
    await queueRow('GARBAGE_COLLECTION').getByRole('cell', { name: '1', exact: true }).waitFor({ timeout: 20_000 });
    await expect(queueRow('GARBAGE_COLLECTION').innerText()).resolves.toMatch(
      /GARBAGE_COLLECTION\s+1\s+\d+ s\s+Paused/,
    );
    await shot('gc-pending-while-paused');
    // Still held a while later: the pause, not a slow worker, keeps it waiting.
    await page.waitForTimeout(3000);
    const history = (await (await api('GET', '/system/gc')).json()) as { id: number; job_status: string }[];
    expect(history[0]?.job_status).toMatch(/Pending|Scheduled|Running/);

    await actOn('GARBAGE_COLLECTION', 'Resume');
    await queueRow('GARBAGE_COLLECTION').getByText('Running').waitFor();
    await queueRow('GARBAGE_COLLECTION').getByRole('cell', { name: '0', exact: true }).waitFor({ timeout: 20_000 });

    await page.getByRole('link', { name: 'Clean Up' }).click();
    const done = page.getByRole('table', { name: 'Garbage collection history' }).getByRole('row').nth(1);
    await done.getByText('Success').waitFor({ timeout: 60_000 });
    await expect(done.innerText()).resolves.toMatch(new RegExp(`^${history[0].id}\\s+Success\\s+Yes\\s+Manual`));
    await shot('gc-success-after-resume');
  });

  it('pauses all schedules and shows it, then resumes them', async () => {
    const scheduled = await api('PUT', '/system/gc/schedule', { schedule: { type: 'Daily' }, parameters: {} });
    expect(scheduled.status).toBe(200);
    await page.getByRole('link', { name: 'Job Service Dashboard' }).click();
    const schedules = page.getByRole('table', { name: 'Schedules' });
    await expect(schedules.getByRole('row', { name: /GARBAGE_COLLECTION/ }).innerText()).resolves.toMatch(
      /GARBAGE_COLLECTION\s+-1\s+0 0 0 \* \* \*/,
    );

    await page.getByRole('button', { name: 'Pause all' }).click();
    const dialog = page.getByRole('dialog', { name: 'Pause all schedules' });
    await dialog.getByRole('button', { name: 'Pause all' }).click();
    await page.getByText('All paused').waitFor();
    await page.getByRole('button', { name: 'Resume all' }).waitFor();
    await queueRow('SCHEDULED_RUN').getByText('Paused').waitFor();
    expect(await (await api('GET', '/schedules/all/paused')).json()).toEqual({ paused: true });
    await shot('schedules-paused');

    await page.getByRole('button', { name: 'Resume all' }).click();
    await page
      .getByRole('dialog', { name: 'Resume all schedules' })
      .getByRole('button', { name: 'Resume all' })
      .click();
    await page.getByRole('button', { name: 'Pause all' }).waitFor();
    expect(await (await api('GET', '/schedules/all/paused')).json()).toEqual({ paused: false });
  });

  it('shows no dashboard to a user who is not a system administrator, and the API refuses them', async () => {
    const created = await api('POST', '/users', {
      username: DEVELOPER.username,
      email: `${DEVELOPER.username}@example.com`,
      realname: 'Dana',
      password: DEVELOPER.password,
    });
    expect(created.status).toBe(201);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const other = await context.newPage();
    await logIn(other, DEVELOPER);
    const nav = other.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Projects' }).waitFor();
    await expect(nav.getByRole('link', { name: 'Job Service Dashboard' }).count()).resolves.toBe(0);

    await other.goto(`${wharf.url}/admin/job-service-dashboard`);
    await other.getByRole('heading', { name: 'Not allowed' }).waitFor();
    await expect(other.getByRole('table').count()).resolves.toBe(0);
    const refused = await api('GET', '/jobservice/queues', undefined, `${DEVELOPER.username}:${DEVELOPER.password}`);
    expect(refused.status).toBe(403);
    await context.close();
  });
});
