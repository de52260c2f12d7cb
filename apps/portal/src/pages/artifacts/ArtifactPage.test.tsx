import { describe, expect, it } from 'vitest';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { type Artifact } from '../../api/types.js';
import { type FetchDouble, createFetchDouble } from '../../test/fetch-double.js';
import { DEVELOPER, PROJECT, renderWithApp } from '../../test/render.js';
import { ArtifactPage } from './ArtifactPage.js';
import { VULNERABILITY_REPORT, severityCounts, signatureState, sortVulnerabilities } from './vulnerabilities.js';

const DIGEST = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const ARTIFACT_PATH = `/api/v2.0/projects/shop/repositories/team%252Fapi/artifacts/${encodeURIComponent(DIGEST)}`;

const ARTIFACT: Artifact = {
  id: 11,
  type: 'IMAGE',
  media_type: 'application/vnd.oci.image.config.v1+json',
  manifest_media_type: 'application/vnd.oci.image.manifest.v1+json',
  project_id: 3,
  repository_id: 5,
  repository_name: 'shop/team/api',
  digest: DIGEST,
  size: 1024,
  push_time: '2026-03-01T10:00:00Z',
  pull_time: '0001-01-01T00:00:00Z',
  tags: [],
};

function summary(scan_status: string, counts: Record<string, number> = {}) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return {
    report_id: `r-${scan_status}`,
    scan_status,
    severity: 'Critical',
    end_time: '2026-03-02T10:00:00Z',
    scanner: { name: 'Trivy', vendor: 'Aqua Security', version: 'v0.58.1' },
    summary: { total, fixable: 1, summary: counts },
  };
}

const VULNERABILITIES = [
  {
    id: 'CVE-2024-0002',
    package: 'zlib',
    version: '1.2.13',
    fix_version: '',
    severity: 'Medium',
    description: 'A medium one',
    links: [],
    preferred_cvss: { score_v3: 5.5 },
  },
  {
    id: 'CVE-2024-0001',
    package: 'openssl',
    version: '3.0.1',
    fix_version: '3.0.2',
    severity: 'Critical',
    description: 'A critical one',
    links: ['https://avd.aquasec.com/nvd/cve-2024-0001', 'https://example.com/other'],
    preferred_cvss: { score_v3: 9.8 },
  },
];

function artifactServer(overview: ReturnType<typeof summary> | null, report: unknown = {}): FetchDouble {
  return createFetchDouble()
    .on('GET', '/api/v2.0/systeminfo', { body: { current_time: '', registry_url: 'reg.example.com' } })
    .on('GET', ARTIFACT_PATH, {
      body: overview ? { ...ARTIFACT, scan_overview: { [VULNERABILITY_REPORT]: overview } } : ARTIFACT,
    })
    .on('GET', `${ARTIFACT_PATH}/additions/vulnerabilities`, { body: report })
    .on('GET', `${ARTIFACT_PATH}/accessories`, { body: [], headers: { 'X-Total-Count': '0' } });
}

function renderArtifact(server: FetchDouble, project = PROJECT, user = DEVELOPER) {
  return renderWithApp(<ArtifactPage />, {
    user,
    at: `/projects/3/repositories/team%2Fapi/artifacts/${DIGEST}`,
    path: '/projects/:projectId/repositories/:repo/artifacts/:digest',
    project,
    server,
  });
}

describe('vulnerability helpers', () => {
  it('orders severities worst first, leaving out those with none', () => {
    expect(severityCounts(summary('Success', { Low: 3, Critical: 1, High: 0, Medium: 2 }))).toEqual([
      { severity: 'Critical', count: 1 },
      { severity: 'Medium', count: 2 },
      { severity: 'Low', count: 3 },
    ]);
    expect(sortVulnerabilities(VULNERABILITIES).map((v) => v.id)).toEqual(['CVE-2024-0001', 'CVE-2024-0002']);
    expect(signatureState(true).label).toBe('Verified');
    expect(signatureState(false).label).toBe('Not verified');
    expect(signatureState(null).label).toBe('Not checked');
  });
});

describe('ArtifactPage: vulnerabilities and signatures', () => {
  it('asks for the scan overview and shows the severity bar and the vulnerabilities, worst first', async () => {
    const server = artifactServer(summary('Success', { Critical: 1, Medium: 1 }), {
      [VULNERABILITY_REPORT]: {
        generated_at: '2026-03-02T10:00:00Z',
        scanner: { name: 'Trivy', vendor: 'Aqua Security', version: 'v0.58.1' },
        severity: 'Critical',
        vulnerabilities: VULNERABILITIES,
      },
    });
    renderArtifact(server);
    const table = await screen.findByRole('table', { name: 'Vulnerabilities' });
    expect(server.requests.find((r) => r.path === ARTIFACT_PATH)?.query.get('with_scan_overview')).toBe('true');
    const rows = within(table).getAllByRole('row').slice(1);
    expect(
      rows.map((row) =>
        within(row)
          .getAllByRole('cell')
          .map((c) => c.textContent),
      ),
    ).toEqual([
      ['CVE-2024-0001', 'openssl', '3.0.1', '3.0.2', 'Critical', '9.8', 'A critical one'],
      ['CVE-2024-0002', 'zlib', '1.2.13', '—', 'Medium', '5.5', 'A medium one'],
    ]);
    expect(within(rows[0]!).getByRole('link', { name: 'CVE-2024-0001' })).toHaveAttribute(
      'href',
      'https://avd.aquasec.com/nvd/cve-2024-0001',
    );
    expect(within(rows[1]!).queryByRole('link')).not.toBeInTheDocument();
    const legend = screen.getByRole('list', { name: 'Vulnerability counts' });
    expect(
      within(legend)
        .getAllByRole('listitem')
        .map((li) => li.textContent),
    ).toEqual(['Critical 1', 'Medium 1', 'Total 2, 1 fixable']);
    expect(screen.getByText('Success')).toBeInTheDocument();
    expect(screen.getByText('This artifact is not signed.')).toBeInTheDocument();
    expect(server.unhandled).toHaveLength(0);
  });

  it('scans an artifact never scanned, and keeps "Scan" disabled while the scan runs', async () => {
    let overview: ReturnType<typeof summary> | null = null;
    const server = artifactServer(null)
      .on('GET', ARTIFACT_PATH, () => ({
        body: overview ? { ...ARTIFACT, scan_overview: { [VULNERABILITY_REPORT]: overview } } : ARTIFACT,
      }))
      .on('POST', `${ARTIFACT_PATH}/scan`, () => {
        overview = summary('Running');
        return { status: 202 };
      });
    renderArtifact(server);
    expect(await screen.findByText('This artifact has not been scanned.')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Scan' }));
    const running = await screen.findByRole('button', { name: 'Scanning…' });
    expect(running).toBeDisabled();
    expect(screen.getByText('Running')).toBeInTheDocument();
    expect(server.requests.filter((r) => r.method === 'POST').map((r) => r.path)).toEqual([`${ARTIFACT_PATH}/scan`]);
  });

  it('says why a scan was refused, and shows no "Scan" to a guest', async () => {
    const server = artifactServer(null).on('POST', `${ARTIFACT_PATH}/scan`, {
      status: 412,
      body: { errors: [{ code: 'PRECONDITION', message: 'the project has no enabled scanner' }] },
    });
    const { unmount } = renderArtifact(server);
    await userEvent.click(await screen.findByRole('button', { name: 'Scan' }));
    expect(
      await screen.findByText('Could not scan the artifact: the project has no enabled scanner.'),
    ).toBeInTheDocument();
    unmount();

    renderArtifact(artifactServer(null), { ...PROJECT, current_user_role_id: 3 });
    await screen.findByText('This artifact has not been scanned.');
    expect(screen.queryByRole('button', { name: 'Scan' })).not.toBeInTheDocument();
  });

  it('lists the signatures with their verification state', async () => {
    const accessory = (digest: string, type: string, verified: boolean | null) => ({
      id: 1,
      artifact_id: 2,
      subject_artifact_id: 11,
      subject_artifact_digest: DIGEST,
      subject_artifact_repo: 'shop/team/api',
      size: 10,
      digest,
      type,
      icon: '',
      creation_time: '2026-03-01T10:00:00Z',
      verified,
    });
    const server = artifactServer(null).on('GET', `${ARTIFACT_PATH}/accessories`, {
      body: [
        accessory('sha256:aaaaaaaaaaaaaaaaaaaa', 'signature.cosign', true),
        accessory('sha256:bbbbbbbbbbbbbbbbbbbb', 'signature.notation', false),
        accessory('sha256:cccccccccccccccccccc', 'build.attestation', null),
      ],
      headers: { 'X-Total-Count': '3' },
    });
    renderArtifact(server);
    const table = await screen.findByRole('table', { name: 'Signatures' });
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveTextContent('Cosign signature');
    expect(rows[0]).toHaveTextContent('Verified');
    expect(rows[1]).toHaveTextContent('Notation signature');
    expect(rows[1]).toHaveTextContent('Not verified');
  });
});
