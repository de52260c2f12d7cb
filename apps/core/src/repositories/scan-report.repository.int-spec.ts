import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createDataSource, runMigrations } from '@wharf/db';
import { createTestDatabase, type TestDatabase } from '@wharf/testkit';
import { type DataSource } from 'typeorm';
import { FIXTURE_REGISTRATION, ScanReportFactory, finding } from '../testing/scan-report.factory.js';
import { CveAllowlistRepository, isAllowlistExpired } from './cve-allowlist.repository.js';
import { ScanReportRepository } from './scan-report.repository.js';

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

describe('ScanReportRepository against PostgreSQL', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let reports: ScanReportRepository;
  let factory: ScanReportFactory;

  const count = async (table: string) =>
    (await ds.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM ${table}`))[0].n;

  beforeAll(async () => {
    db = await createTestDatabase('wharf_scan_report_spec');
    ds = createDataSource({ ...db, database: db.database });
    await ds.initialize();
    await runMigrations(ds);
    // The migration can be undone and applied again, with those that came after it.
    const table = async () =>
      (await ds.query<{ t: string | null }[]>(`SELECT to_regclass('scan_report')::text AS t`))[0].t;
    let undone = 0;
    while ((await table()) !== null && undone < 10) {
      await ds.undoLastMigration({ transaction: 'each' });
      undone += 1;
    }
    expect(await table()).toBeNull();
    const redone = await runMigrations(ds);
    expect(redone[0]).toBe('ScanReports1766200000000');
    expect(redone).toHaveLength(undone);
    reports = new ScanReportRepository(ds);
    factory = new ScanReportFactory(reports);
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('stores a finding shared by many artifacts once, and links each report to it', async () => {
    const shared = [finding('CVE-2024-0001', 'Critical', 'openssl', '3.0.1', '3.0.2'), finding('CVE-2024-0002', 'Low')];
    const before = await count('vulnerability_record');
    for (let n = 1; n <= 20; n++) await factory.scanned(digest(n), [...shared, finding(`CVE-2024-1${n}`, 'High')]);
    expect((await count('vulnerability_record')) - before).toBe(2 + 20);
    const links = await ds.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM scan_report_vulnerability l JOIN vulnerability_record v ON v.id = l.record_id
        WHERE v.cve_id = 'CVE-2024-0001'`,
    );
    expect(links[0].n).toBe(20);
    // Another scanner's view of the same CVE is a record of its own.
    await factory.scanned(digest(1), shared, '0a1b2c3d-0000-4000-8000-000000000000');
    expect((await count('vulnerability_record')) - before).toBe(2 + 20 + 2);
  });

  it('summarises a report: total, fixable, per severity and overall severity, each distinct finding once', async () => {
    const uuid = await factory.scanned(digest(100), [
      finding('CVE-1', 'Critical', 'a', '1', '2'),
      // The same finding found again in another layer counts once, at its worst severity.
      finding('CVE-1', 'High', 'a', '1', '2'),
      finding('CVE-2', 'Medium', 'b', '1'),
      finding('CVE-3', 'Medium', 'c', '1', '1.5'),
      finding('CVE-4', 'Unknown', 'd', '1'),
    ]);
    const report = (await reports.latestOfDigests([digest(100)])).get(digest(100))!;
    expect(report).toMatchObject({
      uuid,
      status: 'Success',
      severity: 'Critical',
      scanner: { name: 'Trivy', vendor: 'Aqua Security', version: 'v0.50.0' },
      counts: { total: 4, fixable: 2, bySeverity: { Critical: 1, High: 0, Medium: 2, Low: 0, Unknown: 1, None: 0 } },
    });
    expect(report.endTime).toBeInstanceOf(Date);
    const items = await reports.findings(report.id);
    expect(items.map((item) => item.id)).toEqual(['CVE-1', 'CVE-2', 'CVE-3', 'CVE-4']);
    expect(items[0]).toMatchObject({
      package: 'a',
      version: '1',
      fix_version: '2',
      severity: 'Critical',
      links: ['https://avd.aquasec.com/nvd/cve-1'],
      preferred_cvss: { score_v3: 9.8, vector_v3: 'CVSS:3.1/AV:N' },
      cwe_ids: ['CWE-79'],
      vendor_attributes: { CVSS: { nvd: { V3Score: 9.8 } } },
    });
    expect(await reports.log(uuid)).toBe('scanned\n');
    const clean = await factory.scanned(digest(101), []);
    expect(await reports.findByUuid(clean)).toMatchObject({ severity: 'None', counts: { total: 0 } });
  });

  it('replaces the previous report of a digest on a rescan, and refuses a late answer for the replaced one', async () => {
    const first = await factory.scanned(digest(200), [finding('CVE-9', 'Critical', 'x', '1')]);
    const second = await reports.startReport({ digest: digest(200) }, FIXTURE_REGISTRATION);
    expect(second).not.toBe(first);
    const pending = (await reports.latestOfDigests([digest(200)])).get(digest(200))!;
    expect(pending).toMatchObject({ uuid: second, status: 'Pending', severity: null, counts: { total: 0 } });
    expect(await reports.findings(pending.id)).toEqual([]);
    expect(await reports.findByUuid(first)).toBeUndefined();
    const report = {
      generated_at: '2026-01-01T00:00:00Z',
      scanner: { name: 'Trivy', vendor: 'Aqua Security', version: 'v0.51.0' },
      severity: 'Low' as const,
      vulnerabilities: [finding('CVE-10', 'Low', 'x', '2')],
    };
    expect(await reports.finishReport(first, report)).toBe(false);
    expect(await reports.finishReport(second, report)).toBe(true);
    // Ended: a second answer changes nothing.
    expect(await reports.finishReport(second, { ...report, vulnerabilities: [] })).toBe(false);
    expect(await reports.failReport(second, 'late')).toBe(false);
    const done = (await reports.latestOfDigests([digest(200)])).get(digest(200))!;
    expect(done).toMatchObject({ uuid: second, severity: 'Low', scanner: { version: 'v0.51.0' } });
    expect((await reports.findings(done.id)).map((item) => item.id)).toEqual(['CVE-10']);
    expect(await count('scan_report WHERE digest = ' + `'${digest(200)}'`)).toBe(1);
  });

  it('ends a scan with an error or a stop, keeping the log', async () => {
    const failed = await reports.startReport({ digest: digest(300) }, FIXTURE_REGISTRATION, { status: 'Running' });
    expect(await reports.markRunning(failed)).toBe(false);
    expect(await reports.failReport(failed, 'trivy: not found', 'pulling\n')).toBe(true);
    expect(await reports.findByUuid(failed)).toMatchObject({ status: 'Error' });
    expect(await reports.log(failed)).toBe('pulling\ntrivy: not found');
    const stopped = await reports.startReport({ digest: digest(301) }, FIXTURE_REGISTRATION);
    expect(await reports.stopReport(stopped)).toBe(true);
    expect(await reports.findByUuid(stopped)).toMatchObject({ status: 'Stopped' });
    expect(await reports.log('not-a-uuid')).toBeUndefined();
  });

  it('keeps one CVE allowlist per project and one for the system', async () => {
    const allowlists = new CveAllowlistRepository(ds);
    expect(await allowlists.get(0)).toMatchObject({ id: 0, items: [], expiresAt: null });
    await allowlists.put(0, { expiresAt: null, items: ['CVE-1', 'CVE-1', 'CVE-2'] });
    await allowlists.put(0, { expiresAt: 4102444800, items: ['CVE-3'] });
    const system = await allowlists.get(0);
    expect(system).toMatchObject({ projectId: 0, expiresAt: 4102444800, items: ['CVE-3'] });
    expect(isAllowlistExpired(system)).toBe(false);
    expect(isAllowlistExpired({ expiresAt: Math.floor(Date.now() / 1000) - 1 })).toBe(true);
    expect(await count('cve_allowlist')).toBe(1);
  });
});
