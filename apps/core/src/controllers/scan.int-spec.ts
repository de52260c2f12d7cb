import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { redisConnection } from '@wharf/config';
import { ExecutionRepository } from '@wharf/db';
import { JobHandlerRegistry, JobName, JobRunner } from '@wharf/jobs';
import {
  type ScanRequest,
  ScannerMime,
  TrivyScanner,
  type VulnerabilityReport,
  toVulnerabilityReport,
} from '@wharf/scanner';
import {
  type ScanImageLayout,
  type ScannerAdapterDouble,
  buildDebianScanImage,
  pushLayout,
  startScannerAdapterDouble,
  trivyDoubleBinary,
  trivyDoubleDbFixture,
} from '@wharf/testkit';
import { DataSource } from 'typeorm';
import { ScanReportRepository } from '../repositories/scan-report.repository.js';
import { ScanService } from '../services/scan.service.js';
import { ScannerService } from '../services/scanner.service.js';
import { artifactFixtures } from '../testing/artifact-fixtures.js';
import { type TestCore, type TestResponse, startTestCore } from '../testing/test-core.js';

// A real core, PostgreSQL, Redis, a worker running the scan jobs as jobservice does, and the Trivy TEST DOUBLE as the
// configured trivy binary: it pulls the image from core's /v2 and matches its dpkg status against its fixture data.
jest.setTimeout(180_000);

const MIME = ScannerMime.VulnerabilityReport;

interface Overview {
  report_id: string;
  scan_status: string;
  severity?: string;
  summary?: { total: number; fixable: number; summary: Record<string, number> };
  scanner?: { name: string };
}

interface ErrorBody {
  errors: { code: string; message: string }[];
}

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await sleep(100);
  }
}

/** Severity counts of a report, as scan_overview's summary names them (only severities found). */
function severityCounts(report: VulnerabilityReport): Record<string, number> {
  const seen = new Map<string, string>();
  for (const item of report.vulnerabilities) {
    const key = JSON.stringify([item.id, item.package, item.version]);
    const kept = seen.get(key);
    const order = ['None', 'Unknown', 'Low', 'Medium', 'High', 'Critical'];
    if (!kept || order.indexOf(item.severity) > order.indexOf(kept)) seen.set(key, item.severity);
  }
  const counts: Record<string, number> = {};
  for (const severity of seen.values()) counts[severity] = (counts[severity] ?? 0) + 1;
  return counts;
}

describe('scans of artifacts (the Trivy test double as the built-in scanner)', () => {
  let workDir: string;
  let core: TestCore;
  let worker: JobRunner;
  let image: ScanImageLayout;
  let wrapper: string;
  let delayFile: string;
  /** What the Trivy test double reports for the Debian image, run directly. */
  let expected: VulnerabilityReport;
  let digest: string;
  let adapter: ScannerAdapterDouble | undefined;
  const basic = () => `${core.admin.username}:${core.admin.password}`;

  function api<T = unknown>(method: string, path: string, body?: unknown): Promise<TestResponse<T>> {
    return core.request<T>(method, `/api/v2.0${path}`, { auth: core.admin, body });
  }

  async function createProject(name: string, metadata: Record<string, string> = {}): Promise<number> {
    const created = await api('POST', '/projects', { project_name: name, metadata: { public: 'false', ...metadata } });
    expect(created.status).toBe(201);
    return Number(created.headers.get('location')!.split('/').pop());
  }

  async function push(repository: string, tag: string): Promise<string> {
    return pushLayout(image, `${new URL(core.url).host}/${repository}:${tag}`, basic());
  }

  async function overview(repository: string, reference: string): Promise<Overview | undefined> {
    const [project, ...rest] = repository.split('/');
    const response = await api<{ scan_overview?: Record<string, Overview> }>(
      'GET',
      `/projects/${project}/repositories/${encodeURIComponent(rest.join('/'))}/artifacts/${reference}?with_scan_overview=true`,
    );
    expect(response.status).toBe(200);
    return response.body.scan_overview?.[MIME];
  }

  function artifactPath(repository: string, reference: string): string {
    const [project, ...rest] = repository.split('/');
    return `/projects/${project}/repositories/${encodeURIComponent(rest.join('/'))}/artifacts/${reference}`;
  }

  const finished = (o: Overview | undefined) => o !== undefined && !['Pending', 'Running'].includes(o.scan_status);

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'wharf-scan-'));
    // The configured binary: the Trivy test double with its vulnerability data, slowed down while `delay` holds one.
    wrapper = join(workDir, 'trivy');
    delayFile = join(workDir, 'delay');
    await writeFile(
      wrapper,
      `#!/bin/sh\nTRIVY_DOUBLE_DB_SOURCE="${trivyDoubleDbFixture()}"\nexport TRIVY_DOUBLE_DB_SOURCE\n` +
        `if [ -s "${delayFile}" ]; then TRIVY_DOUBLE_DELAY=$(cat "${delayFile}"); export TRIVY_DOUBLE_DELAY; fi\n` +
        `exec "${trivyDoubleBinary()}" "$@"\n`,
    );
    await chmod(wrapper, 0o755);
    core = await startTestCore({ trivy: { binary: wrapper, cache_dir: join(workDir, 'cache'), timeout: '2m' } });
    worker = new JobRunner({
      connection: redisConnection(core.config, core.config.redis.jobserviceDb),
      prefix: core.jobPrefix,
      tasks: new ExecutionRepository(core.server.app.get(DataSource)),
      stopPollMs: 200,
    });
    await worker.start(JobHandlerRegistry.bind([core.server.app.get(ScanService)], { jobs: [JobName.ScanArtifact] }));
    image = await buildDebianScanImage(join(workDir, 'debian'), '12');
    await createProject('scans');
    digest = await push('scans/debian', '12');
    const direct = new TrivyScanner({ binary: wrapper, cacheDir: join(workDir, 'direct-cache') });
    expected = toVulnerabilityReport(
      await direct.scanImage({
        registryHost: new URL(core.url).host,
        insecure: true,
        repository: 'scans/debian',
        digest,
        auth: { username: core.admin.username, password: core.admin.password },
      }),
      await direct.scannerInfo(),
    );
    // The fixture data holds findings for Debian 12's packages: a scan without any would prove nothing.
    expect(expected.vulnerabilities.length).toBeGreaterThan(0);
  });

  afterAll(async () => {
    await adapter?.close();
    await worker?.close();
    await core?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('scans an image with the built-in scanner: findings in scan_overview, additions/vulnerabilities and the log', async () => {
    expect(await overview('scans/debian', digest)).toBeUndefined();
    const started = await api('POST', `${artifactPath('scans/debian', '12')}/scan`);
    expect(started.status).toBe(202);
    const done = (await waitFor(() => overview('scans/debian', digest), finished, 'the scan'))!;
    expect(done).toMatchObject({ scan_status: 'Success', severity: expected.severity, scanner: { name: 'Trivy' } });
    expect(done.summary!.summary).toEqual(severityCounts(expected));

    const addition = await api<Record<string, VulnerabilityReport>>(
      'GET',
      `${artifactPath('scans/debian', digest)}/additions/vulnerabilities`,
    );
    expect(addition.status).toBe(200);
    const ids = (report: VulnerabilityReport) => [...new Set(report.vulnerabilities.map((v) => v.id))].sort();
    expect(ids(addition.body[MIME])).toEqual(ids(expected));

    const log = await api<string>('GET', `${artifactPath('scans/debian', digest)}/scan/${done.report_id}/log`);
    expect(log.status).toBe(200);
    expect(log.headers.get('content-type')).toContain('text/plain');
    expect(log.body).toContain(`scanning scans/debian@${digest}`);
    expect(log.body).toContain(`${expected.vulnerabilities.length} vulnerabilities found`);

    // The execution: one per request, vendor IMAGE_SCAN, its task Success with the scan's log.
    const executions = core.server.app.get(ExecutionRepository);
    const page = await executions.listExecutions('IMAGE_SCAN', undefined, {});
    expect(page.items.map((e) => [e.trigger, e.status])).toEqual([['MANUAL', 'Success']]);
    const [task] = (await executions.listTasks(page.items[0].id)).items;
    expect(task).toMatchObject({ status: 'Success', extraAttrs: { report_uuids: [done.report_id] } });
    expect((await executions.taskLog(task.id))?.text).toContain(
      `${expected.vulnerabilities.length} vulnerabilities found`,
    );
  });

  describe('the scan job handler, called directly', () => {
    function job(reportUuid: string, registrationUuid: string, projectId: number) {
      return {
        taskId: 1,
        reportUuid,
        registrationUuid,
        projectId,
        repository: 'scans/debian',
        digest,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
      };
    }

    function context(signal = new AbortController().signal) {
      const lines: string[] = [];
      return {
        lines,
        value: { id: 'direct', attempt: 1, signal, log: (line: string) => Promise.resolve(void lines.push(line)) },
      };
    }

    it('runs the scan into the report it names, and leaves a report replaced meanwhile alone', async () => {
      const reports = core.server.app.get(ScanReportRepository);
      const projectId = (await api<{ project_id: number }>('GET', '/projects/scans')).body.project_id;
      const { registration } = await core.server.app.get(ScannerService).scannerForProject(projectId);
      const uuid = await reports.startReport({ digest }, registration.uuid);
      const run = context();
      await core.server.app.get(ScanService).scanArtifact(job(uuid, registration.uuid, projectId), run.value);
      const report = await reports.findByUuid(uuid);
      expect(report).toMatchObject({ status: 'Success', severity: expected.severity });
      expect(report!.counts.total).toBe(Object.values(severityCounts(expected)).reduce((a, b) => a + b, 0));
      expect(run.lines).toContain(
        `${expected.vulnerabilities.length} vulnerabilities found, severity ${expected.severity}`,
      );

      const old = await reports.startReport({ digest }, registration.uuid);
      const newer = await reports.startReport({ digest }, registration.uuid);
      const replaced = context();
      await core.server.app.get(ScanService).scanArtifact(job(old, registration.uuid, projectId), replaced.value);
      expect(replaced.lines.join('\n')).toContain('was replaced by a newer scan');
      expect((await reports.findByUuid(newer))?.status).toBe('Pending');
      await reports.stopReport(newer);
    });

    it('ends the report Stopped when its signal is aborted while the scanner runs', async () => {
      const reports = core.server.app.get(ScanReportRepository);
      const projectId = (await api<{ project_id: number }>('GET', '/projects/scans')).body.project_id;
      const { registration } = await core.server.app.get(ScannerService).scannerForProject(projectId);
      const uuid = await reports.startReport({ digest }, registration.uuid);
      await writeFile(delayFile, '60s');
      try {
        const controller = new AbortController();
        const run = context(controller.signal);
        setTimeout(() => controller.abort(), 1000);
        const started = Date.now();
        await core.server.app.get(ScanService).scanArtifact(job(uuid, registration.uuid, projectId), run.value);
        expect(Date.now() - started).toBeLessThan(15_000);
        expect((await reports.findByUuid(uuid))?.status).toBe('Stopped');
        expect(await reports.log(uuid)).toContain('the scan was stopped');
      } finally {
        await writeFile(delayFile, '');
      }
    });
  });

  it('scans an index through its child images, and refuses an artifact the scanner cannot read', async () => {
    const fx = artifactFixtures(core);
    await createProject('multi');
    const image = (architecture: string) =>
      fx.image('multi/app', {
        layers: [],
        config: { architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: [] } },
      });
    const amd = await image('amd64');
    const arm = await image('arm64');
    const chart = await fx.image('multi/app', {
      tag: 'chart',
      layers: [],
      config: { name: 'chart' },
      configMediaType: 'application/vnd.cncf.helm.config.v1+json',
    });
    const index = await fx.index(
      'multi/app',
      [
        { image: amd, platform: { architecture: 'amd64', os: 'linux' } },
        { image: arm, platform: { architecture: 'arm64', os: 'linux' } },
        { image: chart, platform: { architecture: 'unknown', os: 'unknown' } },
      ],
      { tag: 'multi' },
    );
    expect((await api('POST', `${artifactPath('multi/app', 'multi')}/scan`)).status).toBe(202);
    const executions = core.server.app.get(ExecutionRepository);
    const indexId = (await api<{ id: number }>('GET', artifactPath('multi/app', index.digest))).body.id;
    const execution = await waitFor(
      async () => (await executions.listExecutions('IMAGE_SCAN', indexId, {})).items[0],
      (e) => e !== undefined && e.status !== 'Running' && e.status !== 'Pending',
      'the scan of the index',
    );
    expect(execution.status).toBe('Success');
    const tasks = (await executions.listTasks(execution.id)).items;
    expect(tasks.map((t) => t.jobData?.digest).sort()).toEqual([amd.digest, arm.digest].sort());
    for (const child of [amd, arm])
      expect(await overview('multi/app', child.digest)).toMatchObject({ scan_status: 'Success' });
    expect(await overview('multi/app', chart.digest)).toBeUndefined();
    expect(await overview('multi/app', index.digest)).toMatchObject({ scan_status: 'Success' });

    const refused = await api<ErrorBody>('POST', `${artifactPath('multi/app', 'chart')}/scan`);
    expect(refused.status).toBe(400);
    expect(refused.body.errors[0].message).toContain('cannot scan');
  });

  it('answers 404 for an unknown artifact or report, 400 for sbom and for stopping when nothing runs', async () => {
    const missing = await api<ErrorBody>('POST', `${artifactPath('scans/debian', 'nope')}/scan`);
    expect(missing.status).toBe(404);
    const sbom = await api<ErrorBody>('POST', `${artifactPath('scans/debian', '12')}/scan`, { scan_type: 'sbom' });
    expect(sbom.status).toBe(400);
    expect(sbom.body.errors[0].message).toContain('not supported yet');
    const bad = await api<ErrorBody>('POST', `${artifactPath('scans/debian', '12')}/scan`, { scan_type: 'other' });
    expect(bad.status).toBe(400);
    const idle = await api<ErrorBody>('POST', `${artifactPath('scans/debian', '12')}/scan/stop`, {
      scan_type: 'vulnerability',
    });
    expect(idle.status).toBe(400);
    const noReport = await api(
      'GET',
      `${artifactPath('scans/debian', '12')}/scan/5f0c6a43-0000-4000-8000-000000000000/log`,
    );
    expect(noReport.status).toBe(404);
  });

  it('stops a running scan: the report Stopped, the task Stopped; a second request while it ran was a 409', async () => {
    await writeFile(delayFile, '60s');
    try {
      await createProject('slow');
      const slowDigest = await push('slow/debian', '12');
      expect((await api('POST', `${artifactPath('slow/debian', '12')}/scan`)).status).toBe(202);
      const running = await waitFor(
        () => overview('slow/debian', slowDigest),
        (o) => o?.scan_status === 'Running',
        'a running scan',
      );
      // The log so far, while the scan runs.
      const log = await waitFor(
        async () =>
          (await api<string>('GET', `${artifactPath('slow/debian', '12')}/scan/${running!.report_id}/log`)).body,
        (text) => text.includes('scanning slow/debian@'),
        'the log of the running scan',
        10_000,
      );
      expect(log).toContain(`scanning slow/debian@${slowDigest}`);
      const again = await api<ErrorBody>('POST', `${artifactPath('slow/debian', '12')}/scan`);
      expect(again.status).toBe(409);
      const stopped = await api('POST', `${artifactPath('slow/debian', '12')}/scan/stop`, {
        scan_type: 'vulnerability',
      });
      expect(stopped.status).toBe(202);
      const done = await waitFor(() => overview('slow/debian', slowDigest), finished, 'the stop', 20_000);
      expect(done?.scan_status).toBe('Stopped');
      const executions = core.server.app.get(ExecutionRepository);
      const page = await executions.listExecutions('IMAGE_SCAN', undefined, {});
      const execution = page.items.find((e) => e.extraAttrs.artifact && JSON.stringify(e.extraAttrs).includes('slow/'));
      expect(execution?.status).toBe('Stopped');
    } finally {
      await writeFile(delayFile, '');
    }
  });

  it('scans on push in a project with auto_scan, once, with trigger EVENT', async () => {
    await createProject('auto', { auto_scan: 'true' });
    const pushed = await push('auto/debian', '12');
    const executions = core.server.app.get(ExecutionRepository);
    // The image's digest was scanned (and its last scan stopped) before: the scan on push is told by its execution.
    const events = await waitFor(
      async () =>
        (await executions.listExecutions('IMAGE_SCAN', undefined, {})).items.filter((e) => e.trigger === 'EVENT'),
      (found) => found.length > 0 && found.every((e) => e.status === 'Success' || e.status === 'Error'),
      'the scan on push',
    );
    expect(events.map((e) => e.status)).toEqual(['Success']);
    const done = await overview('auto/debian', pushed);
    expect(done).toMatchObject({ scan_status: 'Success', severity: expected.severity });
    // A project without auto_scan: a push starts nothing (its artifact shares the digest, and so the report, of the
    // images scanned before, so the executions tell).
    await createProject('manual');
    await push('manual/debian', '12');
    await sleep(2500);
    const after = await executions.listExecutions('IMAGE_SCAN', undefined, {});
    expect(after.items.filter((e) => e.trigger === 'EVENT')).toHaveLength(1);
  });

  it('scans a push once while its scan runs, however often the push event is delivered', async () => {
    const executions = core.server.app.get(ExecutionRepository);
    const eventScans = async () =>
      (await executions.listExecutions('IMAGE_SCAN', undefined, {})).items.filter((e) => e.trigger === 'EVENT');
    const before = (await eventScans()).length;
    await writeFile(delayFile, '60s');
    try {
      await createProject('again', { auto_scan: 'true' });
      const pushed = await push('again/debian', '12');
      await waitFor(
        () => overview('again/debian', pushed),
        (o) => o?.scan_status === 'Running',
        'the scan on push',
      );
      // The same push event delivered again, as at-least-once delivery may.
      const dataSource = core.server.app.get(DataSource);
      await dataSource.query(
        `INSERT INTO event_outbox (type, payload)
         SELECT type, payload FROM event_outbox WHERE type = 'PUSH_ARTIFACT' AND payload->>'repository' = $1`,
        ['again/debian'],
      );
      await waitFor(
        async () =>
          (
            await dataSource.query<{ n: number }[]>(
              `SELECT count(*)::int AS n FROM event_outbox WHERE delivered_at IS NULL`,
            )
          )[0].n,
        (n) => n === 0,
        'the delivery of the copy',
      );
      const scans = await eventScans();
      expect(scans.length - before).toBe(1);
      const running = scans.find((e) => !['Success', 'Error', 'Stopped'].includes(e.status));
      expect(running).toBeDefined();
      expect((await api('POST', `${artifactPath('again/debian', '12')}/scan/stop`)).status).toBe(202);
      await waitFor(() => overview('again/debian', pushed), finished, 'the stop');
    } finally {
      await writeFile(delayFile, '');
    }
  });

  it('scans through an external scanner: the Trivy test double behind the Scanner Adapter API test double', async () => {
    const trivy = new TrivyScanner({ binary: wrapper, cacheDir: join(workDir, 'adapter-cache') });
    adapter = await startScannerAdapterDouble({
      produce: async (request) => {
        const scan = request as ScanRequest;
        const report = await trivy.scanImage({
          registryHost: new URL(scan.registry.url).host,
          insecure: true,
          repository: scan.artifact.repository,
          digest: scan.artifact.digest,
          auth: { token: scan.registry.authorization!.replace(/^Bearer /, '') },
        });
        return toVulnerabilityReport(report, { name: 'Trivy double adapter', vendor: 'Wharf tests', version: '1' });
      },
    });
    const registered = await api('POST', '/scanners', {
      name: 'Trivy double adapter',
      url: adapter.url,
      use_internal_addr: true,
    });
    expect(registered.status).toBe(201);
    const uuid = registered.headers.get('location')!.split('/').pop()!;
    const projectId = await createProject('external');
    expect((await api('PUT', `/projects/${projectId}/scanner`, { uuid })).status).toBe(200);
    const pushed = await push('external/debian', '12');
    expect((await api('POST', `${artifactPath('external/debian', '12')}/scan`)).status).toBe(202);
    const done = await waitFor(() => overview('external/debian', pushed), finished, 'the external scan');
    expect(done).toMatchObject({ scan_status: 'Success', severity: expected.severity });
    expect(done?.summary?.summary).toEqual(severityCounts(expected));
    expect(done?.scanner?.name).toBe('Trivy double adapter');
    expect(adapter.scans.size).toBe(1);
  });
});

describe('scans when the trivy binary is missing', () => {
  let core: TestCore;
  let worker: JobRunner;

  beforeAll(async () => {
    core = await startTestCore({ trivy: { binary: '/nonexistent/wharf-trivy' } });
    worker = new JobRunner({
      connection: redisConnection(core.config, core.config.redis.jobserviceDb),
      prefix: core.jobPrefix,
      tasks: new ExecutionRepository(core.server.app.get(DataSource)),
      stopPollMs: 200,
    });
    await worker.start(JobHandlerRegistry.bind([core.server.app.get(ScanService)], { jobs: [JobName.ScanArtifact] }));
  });

  afterAll(async () => {
    await worker?.close();
    await core?.close();
  });

  it('fails the scan with the reason: report Error, task Error with the log', async () => {
    const auth = { auth: core.admin };
    expect((await core.request('POST', '/api/v2.0/projects', { ...auth, body: { project_name: 'p' } })).status).toBe(
      201,
    );
    const dir = await mkdtemp(join(tmpdir(), 'wharf-scan-missing-'));
    try {
      const layout = await buildDebianScanImage(join(dir, 'debian'), '1');
      const pushed = await pushLayout(
        layout,
        `${new URL(core.url).host}/p/img:1`,
        `${core.admin.username}:${core.admin.password}`,
      );
      const path = '/api/v2.0/projects/p/repositories/img/artifacts/1';
      expect((await core.request('POST', `${path}/scan`, auth)).status).toBe(202);
      const done = await waitFor(
        async () =>
          (
            await core.request<{ scan_overview?: Record<string, Overview> }>(
              'GET',
              `${path}?with_scan_overview=true`,
              auth,
            )
          ).body.scan_overview?.[MIME],
        (o) => o !== undefined && !['Pending', 'Running'].includes(o.scan_status),
        'the failed scan',
      );
      expect(done?.scan_status).toBe('Error');
      const log = await core.request<string>('GET', `${path}/scan/${done!.report_id}/log`, auth);
      expect(log.body).toContain('/nonexistent/wharf-trivy" was not found');
      const executions = core.server.app.get(ExecutionRepository);
      const [execution] = (await executions.listExecutions('IMAGE_SCAN', undefined, {})).items;
      expect(execution.status).toBe('Error');
      const [task] = (await executions.listTasks(execution.id)).items;
      expect(task.status).toBe('Error');
      expect((await executions.taskLog(task.id))?.text).toContain('was not found');
      expect(pushed).toMatch(/^sha256:/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
