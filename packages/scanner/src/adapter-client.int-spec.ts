import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ScannerAdapterDouble,
  createTestCa,
  freePort,
  issueTestCertificate,
  startScannerAdapterDouble,
} from '@wharf/testkit';
import { ScannerAdapterClient, ScannerAdapterError, authorizationHeaders } from './adapter-client.js';
import { type ScanRequest, ScannerMime, type VulnerabilityReport } from './types.js';

const scanRequest: ScanRequest = {
  registry: { url: 'http://wharf.test:8080', authorization: 'Bearer pull-token' },
  artifact: {
    repository: 'library/debian',
    digest: `sha256:${'a'.repeat(64)}`,
    tag: 'bookworm',
    mime_type: 'application/vnd.oci.image.manifest.v1+json',
  },
};

/** The report a scanner would produce for the request: derived from it, so a mixed-up scan shows. */
function reportFor(request: unknown): VulnerabilityReport {
  const { artifact } = request as ScanRequest;
  return {
    generated_at: new Date().toISOString(),
    artifact: { repository: artifact.repository, digest: artifact.digest, mime_type: artifact.mime_type },
    scanner: { name: 'Trivy', vendor: 'Aqua Security', version: 'v0.0.0-double' },
    severity: 'High',
    vulnerabilities: [
      {
        id: 'CVE-2024-0001',
        package: `pkg-of-${artifact.repository}`,
        version: '1.0',
        fix_version: '1.1',
        severity: 'High',
        links: ['https://avd.aquasec.com/nvd/cve-2024-0001'],
      },
    ],
  };
}

async function errorOf(promise: Promise<unknown>): Promise<ScannerAdapterError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ScannerAdapterError) return error;
    throw error;
  }
  throw new Error('expected a ScannerAdapterError');
}

describe('ScannerAdapterClient against the Scanner Adapter API test double', () => {
  let double: ScannerAdapterDouble;
  beforeAll(async () => {
    double = await startScannerAdapterDouble({
      produce: (request) => Promise.resolve(reportFor(request)),
      auth: { type: 'Bearer', token: 'adapter-token' },
      notReadyPolls: 2,
    });
  });
  afterAll(() => double.close());

  const client = () => new ScannerAdapterClient({ url: double.url, auth: 'Bearer', accessCredential: 'adapter-token' });

  it('reads the metadata with the API media type, validated', async () => {
    const metadata = await client().metadata();
    expect(metadata.scanner).toEqual({ name: 'Trivy', vendor: 'Aqua Security', version: 'v0.0.0-double' });
    expect(metadata.capabilities[0]?.produces_mime_types).toContain(ScannerMime.VulnerabilityReport);
    const last = double.requests.at(-1)!;
    expect(last.headers.accept).toBe(ScannerMime.Metadata);
    expect(last.headers.authorization).toBe('Bearer adapter-token');
  });

  it('submits a scan (202 with an id), sees it not ready, then reads the report it produced', async () => {
    const { id } = await client().submitScan(scanRequest);
    expect(double.scans.get(id)).toEqual(scanRequest);
    const submitted = double.requests.at(-1)!;
    expect(submitted.headers['content-type']).toBe(ScannerMime.ScanRequest);
    const first = await client().getReport(id, ScannerMime.VulnerabilityReport);
    expect(first).toEqual({ ready: false, refreshAfterSeconds: 0 });
    const report = await client().waitForReport(id, ScannerMime.VulnerabilityReport, { timeoutMs: 5000 });
    expect(report.vulnerabilities[0]?.package).toBe('pkg-of-library/debian');
    expect(report.artifact?.digest).toBe(scanRequest.artifact.digest);
  });

  it('surfaces a 404 for an unknown scan with the adapter message', async () => {
    const error = await errorOf(client().getReport('no-such-scan', ScannerMime.VulnerabilityReport));
    expect(error.kind).toBe('status');
    expect(error.status).toBe(404);
    expect(error.message).toContain('no scan no-such-scan');
  });

  it('is refused without the credential or with another one, and says so with the status', async () => {
    const none = await errorOf(new ScannerAdapterClient({ url: double.url }).metadata());
    expect(none.status).toBe(401);
    expect(none.message).toBe('the scanner adapter answered 401 to metadata: unauthorized');
    const wrong = new ScannerAdapterClient({ url: double.url, auth: 'Bearer', accessCredential: 'other' });
    expect((await errorOf(wrong.metadata())).status).toBe(401);
  });

  it('gives up waiting at the timeout', async () => {
    const slow = await startScannerAdapterDouble({
      produce: () => new Promise(() => undefined),
      refreshAfterSeconds: 0,
    });
    try {
      const slowClient = new ScannerAdapterClient({ url: slow.url });
      const { id } = await slowClient.submitScan(scanRequest);
      const error = await errorOf(slowClient.waitForReport(id, ScannerMime.VulnerabilityReport, { timeoutMs: 400 }));
      expect(error.kind).toBe('timeout');
      // It polled meanwhile, not once.
      expect(slow.requests.filter((r) => r.path.endsWith('/report')).length).toBeGreaterThan(1);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      const aborted = await errorOf(
        slowClient.waitForReport(id, ScannerMime.VulnerabilityReport, { signal: controller.signal, timeoutMs: 5000 }),
      );
      expect(aborted.kind).toBe('aborted');
    } finally {
      await slow.close();
    }
  });

  it('fails a scan whose producer failed with the adapter message and status 500', async () => {
    const failing = await startScannerAdapterDouble({
      produce: () => Promise.reject(new Error('image pull failed')),
      notReadyPolls: 0,
    });
    try {
      const failingClient = new ScannerAdapterClient({ url: failing.url });
      const { id } = await failingClient.submitScan(scanRequest);
      const error = await errorOf(
        failingClient.waitForReport(id, ScannerMime.VulnerabilityReport, { timeoutMs: 2000 }),
      );
      expect(error.status).toBe(500);
      expect(error.message).toContain('image pull failed');
    } finally {
      await failing.close();
    }
  });
});

describe('ScannerAdapterClient authentication', () => {
  it.each([
    ['Basic', 'scanner:s3cret', { type: 'Basic', username: 'scanner', password: 's3cret' }],
    ['APIKey', 'key-1', { type: 'APIKey', key: 'key-1' }],
    ['X-ScannerAdapter-API-Key', 'key-2', { type: 'APIKey', key: 'key-2' }],
  ] as const)('authenticates with %s', async (auth, credential, expected) => {
    const double = await startScannerAdapterDouble({ produce: () => Promise.resolve({}), auth: expected });
    try {
      const metadata = await new ScannerAdapterClient({
        url: double.url,
        auth,
        accessCredential: credential,
      }).metadata();
      expect(metadata.scanner.name).toBe('Trivy');
    } finally {
      await double.close();
    }
  });

  it('refuses auth settings that cannot be sent', () => {
    expect(() => authorizationHeaders('Basic', 'no-colon')).toThrow('user:password');
    expect(() => authorizationHeaders('Bearer', '')).toThrow('needs an access credential');
    expect(() => authorizationHeaders('Digest', 'x')).toThrow('unknown auth');
    expect(authorizationHeaders('', undefined)).toEqual({});
    expect(() => new ScannerAdapterClient({ url: 'ftp://scanner' })).toThrow('http or https');
    expect(() => new ScannerAdapterClient({ url: 'http://u:p@scanner' })).toThrow('no credentials');
  });
});

describe('ScannerAdapterClient failures', () => {
  it('reports a dead port as unreachable', async () => {
    const port = await freePort();
    const error = await errorOf(new ScannerAdapterClient({ url: `http://127.0.0.1:${port}` }).metadata());
    expect(error.kind).toBe('unreachable');
    expect(error.message).toContain(`127.0.0.1:${port} cannot be reached`);
  });

  it('times out an adapter that does not answer', async () => {
    const double = await startScannerAdapterDouble({ produce: () => Promise.resolve({}), delayMs: 2000 });
    try {
      const error = await errorOf(new ScannerAdapterClient({ url: double.url, timeoutMs: 300 }).metadata());
      expect(error.kind).toBe('timeout');
    } finally {
      await double.close();
    }
  });

  it('refuses metadata and reports that are not what the API defines', async () => {
    const double = await startScannerAdapterDouble({
      produce: () => Promise.resolve({ generated_at: 'now', severity: 'Catastrophic', vulnerabilities: [] }),
      metadata: { scanner: { name: 'x' }, capabilities: [] },
      notReadyPolls: 0,
    });
    try {
      const client = new ScannerAdapterClient({ url: double.url });
      const metadata = await errorOf(client.metadata());
      expect(metadata.kind).toBe('invalid');
      expect(metadata.message).toContain('scanner.vendor');
      const { id } = await client.submitScan(scanRequest);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const report = await errorOf(client.getReport(id, ScannerMime.VulnerabilityReport));
      expect(report.kind).toBe('invalid');
      expect(report.message).toContain('severity');
    } finally {
      await double.close();
    }
  });

  it('reads an answer that is no JSON as invalid', async () => {
    const server = createServer((_request, response) => response.end('<html>proxy error</html>'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const error = await errorOf(new ScannerAdapterClient({ url: `http://127.0.0.1:${port}/` }).metadata());
      expect(error.message).toContain('not JSON');
    } finally {
      server.close();
    }
  });
});

describe('ScannerAdapterClient over HTTPS', () => {
  let dir: string;
  let double: ScannerAdapterDouble;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-adapter-tls-'));
    const ca = await createTestCa(dir, 'Untrusted scanner CA');
    const certificate = await issueTestCertificate(ca, dir);
    double = await startScannerAdapterDouble({
      produce: () => Promise.resolve({}),
      tls: { key: await readFile(certificate.keyPath), cert: await readFile(certificate.chainPath) },
    });
  });
  afterAll(async () => {
    await double.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a certificate it cannot verify, unless skip_certVerify is set for that registration', async () => {
    const checked = await errorOf(new ScannerAdapterClient({ url: double.url }).metadata());
    expect(checked.kind).toBe('unreachable');
    const unchecked = new ScannerAdapterClient({ url: double.url, skipCertVerify: true });
    try {
      expect((await unchecked.metadata()).scanner.name).toBe('Trivy');
    } finally {
      await unchecked.close();
    }
    // Skipping for one registration changes nothing for the others.
    expect((await errorOf(new ScannerAdapterClient({ url: double.url }).metadata())).kind).toBe('unreachable');
  });
});
