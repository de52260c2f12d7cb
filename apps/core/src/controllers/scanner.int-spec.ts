import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProjectRole } from '@wharf/auth';
import { type ScanRequest, ScannerMime, type VulnerabilityReport } from '@wharf/scanner';
import { type ScannerAdapterDouble, freePort, startScannerAdapterDouble } from '@wharf/testkit';
import { type DataSource } from 'typeorm';
import { TrivyBinaryProbe } from '../scanners/built-in-scanner.js';
import { openCredential } from '../scanners/credential-cipher.js';
import { writeTrivyVersionDouble } from '../scanners/testing/trivy-version-double.js';
import { ScannerService } from '../services/scanner.service.js';
import { type HarborContract, harborContract } from '../testing/harbor-contract.js';
import { projectFixtures } from '../testing/project-fixtures.js';
import { type TestCore, type TestResponse, startTestCore } from '../testing/test-core.js';

interface Registration {
  uuid: string;
  name: string;
  description: string;
  url: string;
  disabled: boolean;
  is_default: boolean;
  auth: string;
  immutable: boolean;
  skip_certVerify: boolean;
  access_credential?: string;
}

interface ErrorBody {
  errors: { code: string; message: string }[];
}

const SECRET = 'adapter-secret-7Hq2';

/** The report a scanner double produces for a request, derived from it. */
function reportFor(request: unknown): VulnerabilityReport {
  const { artifact } = request as ScanRequest;
  return {
    generated_at: new Date().toISOString(),
    scanner: { name: 'Trivy', vendor: 'Aqua Security', version: 'v0.0.0-double' },
    severity: 'Low',
    vulnerabilities: [{ id: 'CVE-2025-1', package: artifact.repository, version: '1', severity: 'Low' }],
  };
}

function expectError(response: TestResponse, status: number, message: string | RegExp): void {
  expect(response.status).toBe(status);
  const body = response.body as ErrorBody;
  expect(body.errors).toHaveLength(1);
  if (typeof message === 'string') expect(body.errors[0]?.message).toContain(message);
  else expect(body.errors[0]?.message).toMatch(message);
}

describe('scanner registrations', () => {
  let core: TestCore;
  let double: ScannerAdapterDouble;
  let binDir: string;
  let trivyPath: string;
  let contract: HarborContract;
  const admin = () => ({ auth: core.admin });

  const list = async (query = '') =>
    (await core.request<Registration[]>('GET', `/api/v2.0/scanners${query}`, admin())).body;
  const create = (body: Record<string, unknown>) => core.request('POST', '/api/v2.0/scanners', { ...admin(), body });
  const createOk = async (body: Record<string, unknown>): Promise<string> => {
    const response = await create(body);
    expect(response.status).toBe(201);
    return response.headers.get('location')!.split('/').pop()!;
  };
  const builtIn = async () => (await list('?q=url%3Dbuiltin:trivy'))[0];

  beforeAll(async () => {
    contract = await harborContract();
    binDir = await mkdtemp(join(tmpdir(), 'wharf-trivy-bin-'));
    // Not there until a test writes it: the built-in scanner starts unavailable.
    trivyPath = join(binDir, 'trivy-version-double');
    double = await startScannerAdapterDouble({
      produce: (request) => Promise.resolve(reportFor(request)),
      auth: { type: 'Bearer', token: SECRET },
    });
    core = await startTestCore({}, { builtInScanner: new TrivyBinaryProbe(trivyPath) });
  });

  afterAll(async () => {
    await core?.close();
    await double?.close();
    await rm(binDir, { recursive: true, force: true });
  });

  it('has the built-in Trivy scanner registered: immutable, the default, unhealthy without the binary', async () => {
    const registrations = await list();
    expect(registrations).toEqual([
      expect.objectContaining({ name: 'Trivy', url: 'builtin:trivy', immutable: true, is_default: true }),
    ]);
    const trivy = registrations[0];
    const health = await core.request<{
      status: string;
      components: { name: string; status: string; error?: string }[];
    }>('GET', '/api/v2.0/health');
    expect(health.body.status).toBe('unhealthy');
    expect(health.body.components.find((c) => c.name === 'trivy')).toEqual({
      name: 'trivy',
      status: 'unhealthy',
      error: `trivy is not installed (${trivyPath} not found)`,
    });
    expectError(
      await core.request('GET', `/api/v2.0/scanners/${trivy.uuid}/metadata`, admin()),
      503,
      'scanner Trivy is unavailable: trivy is not installed',
    );

    // Installed meanwhile: seen at the next ask, with the version it reports.
    await writeTrivyVersionDouble(binDir, '0.58.1');
    const metadata = await core.request<{
      scanner: { version: string };
      capabilities: { produces_mime_types: string[] }[];
    }>('GET', `/api/v2.0/scanners/${trivy.uuid}/metadata`, admin());
    expect(metadata.status).toBe(200);
    expect(metadata.body.scanner).toEqual({ name: 'Trivy', vendor: 'Aqua Security', version: '0.58.1' });
    contract.assertValid('ScannerAdapterMetadata', metadata.body);
    expect(metadata.body.capabilities[0]?.produces_mime_types).toContain(ScannerMime.VulnerabilityReport);
    const healthy = await core.request<{ components: { name: string; status: string }[] }>('GET', '/api/v2.0/health');
    expect(healthy.body.components.find((c) => c.name === 'trivy')?.status).toBe('healthy');
  });

  it('refuses to change or delete the built-in registration', async () => {
    const trivy = await builtIn();
    expectError(
      await core.request('PUT', `/api/v2.0/scanners/${trivy.uuid}`, {
        ...admin(),
        body: { name: 'Trivy', url: 'http://elsewhere:8080' },
      }),
      403,
      'scanner registration Trivy is immutable: it cannot be changed',
    );
    expectError(
      await core.request('DELETE', `/api/v2.0/scanners/${trivy.uuid}`, admin()),
      403,
      'scanner registration Trivy is immutable: it cannot be deleted',
    );
    expect(await builtIn()).toEqual(trivy);
  });

  it.each([
    [{ name: 'bad/name', url: 'http://adapter:8080' }, 'name: letters and digits'],
    [{ name: '', url: 'http://adapter:8080' }, 'name: letters and digits'],
    [{ name: 'ok', url: 'ftp://adapter' }, 'url: a scanner adapter URL is http or https'],
    [{ name: 'ok', url: 'not a url' }, 'url: "not a url" is not a URL'],
    [{ name: 'ok', url: 'builtin:trivy' }, 'url: a scanner adapter URL is http or https'],
    [{ name: 'ok', url: 'http://u:p@adapter' }, 'url: a scanner adapter URL holds no credentials'],
    [{ name: 'ok', url: 'http://adapter', auth: 'Digest', access_credential: 'x' }, 'auth: one of'],
    [
      { name: 'ok', url: 'http://adapter', auth: 'Bearer' },
      'access_credential: auth Bearer needs an access credential',
    ],
    [{ name: 'ok', url: 'http://adapter', auth: 'Basic', access_credential: 'nocolon' }, 'user:password'],
    [{ url: 'http://adapter' }, 'name'],
    [{ name: 'ok', url: 'http://adapter', disabled: 'yes' }, 'disabled'],
  ])('refuses an invalid registration %j with 400 in Harbor envelope', async (body, message) => {
    const response = await create(body);
    expectError(response, 400, message);
    expect((response.body as ErrorBody).errors[0]?.code).toBe('BAD_REQUEST');
  });

  it('creates a registration (201, Location), never answers its credential, and keeps it encrypted', async () => {
    const uuid = await createOk({
      name: 'External Trivy',
      description: 'adapter double',
      url: `${double.url}/`,
      auth: 'Bearer',
      access_credential: SECRET,
    });
    const got = await core.request<Registration>('GET', `/api/v2.0/scanners/${uuid}`, admin());
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      uuid,
      name: 'External Trivy',
      description: 'adapter double',
      url: double.url,
      auth: 'Bearer',
      disabled: false,
      is_default: false,
      immutable: false,
      skip_certVerify: false,
    });
    expect(got.body).not.toHaveProperty('access_credential');
    contract.assertValid('ScannerRegistration', got.body);
    expect(got.text).not.toContain(SECRET);
    const listed = await core.request<Registration[]>('GET', '/api/v2.0/scanners', admin());
    expect(listed.text).not.toContain(SECRET);
    for (const item of listed.body) contract.assertValid('ScannerRegistration', item);
    expect(listed.headers.get('x-total-count')).toBe('2');

    // At rest: sealed, not the plaintext; it opens with the install's key and the registration's uuid only.
    const dataSource = projectFixtures(core).dataSource;
    const [row] = await dataSource.query<{ access_credential: Buffer }[]>(
      'SELECT access_credential FROM scanner_registration WHERE uuid = $1',
      [uuid],
    );
    expect(row.access_credential.toString('latin1')).not.toContain(SECRET);
    expect(row.access_credential.length).toBeGreaterThan(SECRET.length + 28);
    const key = Buffer.from((await readFile(join(core.dataVolume, 'secret', 'encryption.key'), 'utf8')).trim(), 'hex');
    expect(openCredential(key.subarray(0, 32), row.access_credential, uuid)).toBe(SECRET);
    expect(() => openCredential(key.subarray(0, 32), row.access_credential, 'another-uuid')).toThrow(
      'cannot be decrypted',
    );

    // The stored credential reaches the adapter: its metadata through the registration.
    const metadata = await core.request<{ scanner: { name: string } }>(
      'GET',
      `/api/v2.0/scanners/${uuid}/metadata`,
      admin(),
    );
    expect(metadata.status).toBe(200);
    expect(metadata.body.scanner.name).toBe('Trivy');
    expect(double.requests.at(-1)?.headers.authorization).toBe(`Bearer ${SECRET}`);

    expectError(await create({ name: 'External Trivy', url: 'http://other:1' }), 409, 'exists already');
    expectError(await core.request('GET', '/api/v2.0/scanners/no-such-uuid', admin()), 404, 'not found');
  });

  it('keeps the stored credential on an update without one, replaces it when given, and drops it without auth', async () => {
    const uuid = await createOk({
      name: 'Rotating',
      url: `${double.url}/rotating`,
      auth: 'Bearer',
      access_credential: SECRET,
    });
    const put = (body: Record<string, unknown>) =>
      core.request('PUT', `/api/v2.0/scanners/${uuid}`, { ...admin(), body });
    expect(
      (await put({ name: 'Rotating', description: 'renamed', url: `${double.url}/rotating`, auth: 'Bearer' })).status,
    ).toBe(200);
    expect((await core.request('GET', `/api/v2.0/scanners/${uuid}/metadata`, admin())).status).toBe(200);
    expect(
      (await put({ name: 'Rotating', url: `${double.url}/rotating`, auth: 'Bearer', access_credential: 'wrong-now' }))
        .status,
    ).toBe(200);
    expectError(
      await core.request('GET', `/api/v2.0/scanners/${uuid}/metadata`, admin()),
      503,
      'the scanner adapter answered 401 to metadata: unauthorized',
    );
    expect((await put({ name: 'Rotating', url: `${double.url}/rotating`, auth: '' })).status).toBe(200);
    const [row] = await projectFixtures(core).dataSource.query<{ access_credential: Buffer | null; auth: string }[]>(
      'SELECT access_credential, auth FROM scanner_registration WHERE uuid = $1',
      [uuid],
    );
    expect(row).toEqual({ access_credential: null, auth: '' });
    expectError(
      await put({ name: 'Rotating', url: `${double.url}/rotating`, auth: 'Bearer' }),
      400,
      'needs an access credential',
    );
    expectError(
      await put({ name: 'External Trivy', url: `${double.url}/rotating` }),
      409,
      'named "External Trivy" exists already',
    );
    expectError(await put({ name: 'Rotating', url: `${double.url}/` }), 409, `of the URL ${double.url} exists already`);
    expectError(
      await core.request('PUT', '/api/v2.0/scanners/nope', { ...admin(), body: { name: 'x', url: double.url } }),
      404,
      'not found',
    );
    const deleted = await core.request<Registration>('DELETE', `/api/v2.0/scanners/${uuid}`, admin());
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ uuid, name: 'Rotating' });
    expect(deleted.text).not.toContain('wrong-now');
    expect((await core.request('GET', `/api/v2.0/scanners/${uuid}`, admin())).status).toBe(404);
  });

  it('keeps exactly one default; the default can be neither deleted nor disabled', async () => {
    const uuid = await createOk({
      name: 'Next Default',
      url: `${double.url}/next`,
      auth: 'Bearer',
      access_credential: SECRET,
    });
    const patch = (id: string, body: unknown) =>
      core.request('PATCH', `/api/v2.0/scanners/${id}`, { ...admin(), body });
    expect((await patch(uuid, { is_default: true })).status).toBe(200);
    let defaults = (await list('?page_size=100')).filter((r) => r.is_default);
    expect(defaults.map((r) => r.uuid)).toEqual([uuid]);
    expectError(
      await core.request('DELETE', `/api/v2.0/scanners/${uuid}`, admin()),
      403,
      'is the system default: make another one the default before deleting it',
    );
    expectError(
      await core.request('PUT', `/api/v2.0/scanners/${uuid}`, {
        ...admin(),
        body: { name: 'Next Default', url: `${double.url}/next`, disabled: true },
      }),
      400,
      'make another one the default before disabling it',
    );
    // false changes nothing, as in Harbor.
    const trivy = await builtIn();
    expect((await patch(uuid, { is_default: false })).status).toBe(200);
    expect((await patch(trivy.uuid, { is_default: false })).status).toBe(200);
    expect((await core.request<Registration>('GET', `/api/v2.0/scanners/${uuid}`, admin())).body.is_default).toBe(true);

    expect((await patch(trivy.uuid, { is_default: true })).status).toBe(200);
    defaults = (await list('?page_size=100')).filter((r) => r.is_default);
    expect(defaults.map((r) => r.name)).toEqual(['Trivy']);

    const disabled = await createOk({ name: 'Disabled One', url: `${double.url}/disabled`, disabled: true });
    expectError(await patch(disabled, { is_default: true }), 400, 'is disabled: it cannot be the system default');
    expectError(await patch('nope', { is_default: true }), 404, 'not found');
    expectError(await patch(uuid, { is_default: 'yes' }), 400, 'is_default');
    expect((await core.request('DELETE', `/api/v2.0/scanners/${uuid}`, admin())).status).toBe(200);
    expect((await core.request('DELETE', `/api/v2.0/scanners/${disabled}`, admin())).status).toBe(200);
  });

  it('lists with q by name, description or url, and pages', async () => {
    await createOk({ name: 'Grype A', description: 'anchore grype', url: 'http://grype-a:8080' });
    await createOk({ name: 'Grype B', description: 'anchore grype', url: 'http://grype-b:8080' });
    expect((await list('?q=name%3D~Grype')).map((r) => r.name).sort()).toEqual(['Grype A', 'Grype B']);
    expect((await list('?q=url%3Dhttp://grype-b:8080')).map((r) => r.name)).toEqual(['Grype B']);
    expect((await list('?q=description%3D~anchore&sort=-name')).map((r) => r.name)).toEqual(['Grype B', 'Grype A']);
    const page = await core.request<Registration[]>('GET', '/api/v2.0/scanners?page=2&page_size=1&sort=name', admin());
    expect(page.body).toHaveLength(1);
    expect(page.headers.get('link')).toContain('rel="prev"');
    expectError(await core.request('GET', '/api/v2.0/scanners?q=secret%3Dx', admin()), 400, 'secret');
    expectError(await core.request('GET', '/api/v2.0/scanners?sort=auth', admin()), 400, 'sortable keys');
  });

  it('pings settings: 200 from the adapter double, 400 with the reason otherwise', async () => {
    const ping = (body: Record<string, unknown>) =>
      core.request('POST', '/api/v2.0/scanners/ping', { ...admin(), body });
    expect((await ping({ name: 'Probe', url: double.url, auth: 'Bearer', access_credential: SECRET })).status).toBe(
      200,
    );
    expectError(
      await ping({ name: 'Probe', url: double.url, auth: 'Bearer', access_credential: 'wrong' }),
      400,
      `ping ${double.url}: the scanner adapter answered 401 to metadata: unauthorized`,
    );
    const dead = await freePort();
    expectError(
      await ping({ name: 'Probe', url: `http://127.0.0.1:${dead}` }),
      400,
      `the scanner adapter at http://127.0.0.1:${dead} cannot be reached`,
    );
    expectError(await ping({ name: 'Probe', url: 'gopher://x' }), 400, 'http or https');
    expectError(await ping({ url: double.url }), 400, 'name');
    const sbomOnly = await startScannerAdapterDouble({
      produce: () => Promise.resolve({}),
      metadata: {
        scanner: { name: 'Syft', vendor: 'Anchore', version: '1' },
        capabilities: [{ type: 'sbom', consumes_mime_types: ['x'], produces_mime_types: [ScannerMime.SbomReport] }],
      },
    });
    try {
      expectError(await ping({ name: 'Probe', url: sbomOnly.url }), 400, 'produces no Harbor vulnerability report');
    } finally {
      await sbomOnly.close();
    }
  });

  describe("a project's scanner", () => {
    let projectId: number;
    let member: { username: string; password: string };
    let external: string;

    beforeAll(async () => {
      const created = await core.request('POST', '/api/v2.0/projects', {
        ...admin(),
        body: { project_name: 'scanned', metadata: { public: 'false' } },
      });
      projectId = Number(created.headers.get('location')!.split('/').pop());
      const fixtures = projectFixtures(core);
      member = await fixtures.user('scanner-guest');
      await fixtures.member(projectId, (member as { userId: number } & typeof member).userId, ProjectRole.Guest);
      external = await createOk({
        name: 'Project Adapter',
        url: `${double.url}/project`,
        auth: 'Bearer',
        access_credential: SECRET,
      });
    });

    it('is the default until set, then the one set; candidates are the enabled registrations', async () => {
      const get = () =>
        core.request<Registration & Record<string, unknown>>('GET', `/api/v2.0/projects/${projectId}/scanner`, {
          auth: member,
        });
      const initial = await get();
      expect(initial.body).toMatchObject({
        name: 'Trivy',
        is_default: true,
        health: 'healthy',
        adapter: 'Trivy',
        vendor: 'Aqua Security',
        version: '0.58.1',
        capabilities: { support_vulnerability: true, support_sbom: true },
      });
      contract.assertValid('ScannerRegistration', initial.body);
      const candidates = await core.request<Registration[]>(
        'GET',
        `/api/v2.0/projects/scanned/scanner/candidates?page_size=100`,
        admin(),
      );
      expect(candidates.body.map((r) => r.name)).toContain('Project Adapter');
      const disabled = await createOk({ name: 'Off', url: `${double.url}/off`, disabled: true });
      const after = await core.request<Registration[]>(
        'GET',
        `/api/v2.0/projects/scanned/scanner/candidates?page_size=100`,
        admin(),
      );
      expect(after.body.map((r) => r.name)).not.toContain('Off');
      expect(after.text).not.toContain(SECRET);

      const put = (uuid: string) =>
        core.request('PUT', `/api/v2.0/projects/scanned/scanner`, { ...admin(), body: { uuid } });
      expect((await put(external)).status).toBe(200);
      const bound = await get();
      expect(bound.body).toMatchObject({
        uuid: external,
        name: 'Project Adapter',
        health: 'healthy',
        version: 'v0.0.0-double',
        capabilities: { support_vulnerability: true, support_sbom: false },
      });
      expect(bound.text).not.toContain(SECRET);
      const dead = await createOk({ name: 'Dead', url: `http://127.0.0.1:${await freePort()}` });
      expect((await put(dead)).status).toBe(200);
      const unhealthy = await get();
      expect(unhealthy.body).toMatchObject({ uuid: dead, health: 'unhealthy' });
      expect(unhealthy.body).not.toHaveProperty('version');
      expect((await put(external)).status).toBe(200);
      expectError(await put(disabled), 400, 'does not exist or is disabled');
      expectError(await put('no-such'), 400, 'does not exist or is disabled');
      expectError(
        await core.request('PUT', `/api/v2.0/projects/scanned/scanner`, { ...admin(), body: {} }),
        400,
        'uuid',
      );
      // A guest reads it but cannot set it.
      expect(
        (await core.request('PUT', `/api/v2.0/projects/scanned/scanner`, { auth: member, body: { uuid: external } }))
          .status,
      ).toBe(403);
    });

    it("gives the scan job the project's scanner, ready to use with the decrypted credential", async () => {
      const scanners = core.server.app.get(ScannerService);
      const resolved = await scanners.scannerForProject(projectId);
      if (resolved.kind !== 'adapter') throw new Error('expected the external adapter');
      expect(resolved.registration).not.toHaveProperty('sealedCredential');
      try {
        const request: ScanRequest = {
          registry: { url: core.url },
          artifact: { repository: 'scanned/app', digest: `sha256:${'b'.repeat(64)}`, mime_type: 'x' },
        };
        const { id } = await resolved.client.submitScan(request);
        const report = await resolved.client.waitForReport(id, ScannerMime.VulnerabilityReport, { timeoutMs: 5000 });
        expect(report.vulnerabilities[0]?.package).toBe('scanned/app');
      } finally {
        await resolved.client.close();
      }

      // Deleting the registration puts the project back on the default, the built-in scanner.
      expect((await core.request('DELETE', `/api/v2.0/scanners/${external}`, admin())).status).toBe(200);
      const fallback = await scanners.scannerForProject(projectId);
      expect(fallback.kind).toBe('built-in');
      expect(fallback.registration.name).toBe('Trivy');
      const shown = await core.request<Registration>('GET', `/api/v2.0/projects/scanned/scanner`, admin());
      expect(shown.body.name).toBe('Trivy');
    });
  });

  it('holds one default at most in the database itself', async () => {
    const dataSource: DataSource = projectFixtures(core).dataSource;
    const uuid = await createOk({ name: 'Second Default', url: 'http://second:8080' });
    await expect(
      dataSource.query(`UPDATE scanner_registration SET is_default = true WHERE uuid = $1`, [uuid]),
    ).rejects.toThrow(/scanner_registration_default/);
  });
});
