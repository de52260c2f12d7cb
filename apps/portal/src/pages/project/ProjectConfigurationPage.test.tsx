import { describe, expect, it } from 'vitest';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { type Project } from '../../api/types.js';
import { type FetchDouble, createFetchDouble } from '../../test/fetch-double.js';
import { DEVELOPER, PROJECT, renderWithApp } from '../../test/render.js';
import { ProjectConfigurationPage } from './ProjectConfigurationPage.js';
import { parseCveIds, securityFieldsOf, securityUpdate } from './security.js';
import { trustedKeyProblems } from './TrustedKeysSection.js';

const API = '/api/v2.0';
const PEM = '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----';

function configServer(keys: { id: number; type: string; name: string }[] = []): FetchDouble {
  return createFetchDouble()
    .on('GET', `${API}/projects/3/summary`, { body: { repo_count: 0 } })
    .on('GET', `${API}/system/CVEAllowlist`, {
      body: { id: 1, project_id: 0, items: [{ cve_id: 'CVE-2021-44228' }], creation_time: '', update_time: '' },
    })
    .on('GET', `${API}/projects/3/trusted-keys`, () => ({
      body: keys.map((k) => ({
        ...k,
        pem: PEM,
        fingerprint: `SHA256:${k.name}`,
        creation_time: '2026-03-01T00:00:00Z',
      })),
    }))
    .on('PUT', `${API}/projects/3`, { status: 200 });
}

function renderConfig(server: FetchDouble, project: Project = PROJECT, user = DEVELOPER) {
  return renderWithApp(<ProjectConfigurationPage />, {
    at: '/projects/3/configuration',
    project,
    server,
    user,
  });
}

describe('project security settings', () => {
  it('reads the metadata, the system allowlist being the default', () => {
    expect(securityFieldsOf(PROJECT)).toEqual({
      autoScan: false,
      preventVul: false,
      severity: 'low',
      cosign: false,
      notation: false,
      reuseSystemAllowlist: true,
      cves: [],
      expiresOn: '',
    });
    const fields = securityFieldsOf({
      ...PROJECT,
      metadata: {
        public: 'false',
        auto_scan: 'true',
        prevent_vul: 'true',
        severity: 'high',
        reuse_sys_cve_allowlist: 'false',
      },
      cve_allowlist: {
        id: 1,
        project_id: 3,
        items: [{ cve_id: 'CVE-2024-1' }],
        expires_at: 1_798_675_200,
        creation_time: '',
        update_time: '',
      },
    });
    expect(fields).toMatchObject({ autoScan: true, preventVul: true, severity: 'high', cves: ['CVE-2024-1'] });
    expect(fields.expiresOn).toBe('2026-12-31');
    expect(securityUpdate(fields).cve_allowlist).toEqual({
      items: [{ cve_id: 'CVE-2024-1' }],
      expires_at: 1_798_675_200,
    });
  });

  it('parses CVE ids, upper-cased, without those listed, and names what is not an id', () => {
    expect(parseCveIds('cve-2024-3094, CVE-2023-4863\nCVE-2024-1 cve-2024-3094', ['CVE-2024-1'])).toEqual({
      ids: ['CVE-2024-3094', 'CVE-2023-4863'],
      invalid: [],
    });
    expect(parseCveIds('CVE-1 <b>', []).invalid).toEqual(['<b>']);
    expect(trustedKeyProblems('', 'nope')).toEqual({
      name: 'Enter a name.',
      pem: 'Paste a PEM block: a public key or a certificate, from -----BEGIN to -----END.',
    });
    expect(trustedKeyProblems('ci', PEM)).toEqual({});
  });
});

describe('ProjectConfigurationPage: security settings and trusted keys', () => {
  it('saves scan on push, the vulnerability gate, content trust and the project allowlist in one PUT', async () => {
    const server = configServer();
    renderConfig(server);
    expect(await screen.findByText(/System allowlist: CVE-2021-44228/)).toBeInTheDocument();
    const save = screen.getByRole('button', { name: 'Save security settings' });
    expect(save).toBeDisabled();

    await userEvent.click(screen.getByLabelText('Automatically scan images on push'));
    const severity = screen.getByLabelText('Prevent images with vulnerabilities of severity and above');
    expect(severity).toBeDisabled();
    await userEvent.click(screen.getByLabelText('Prevent vulnerable images from running'));
    await userEvent.selectOptions(severity, 'critical');
    await userEvent.click(screen.getByLabelText('Cosign: allow only verified images to be deployed'));
    await userEvent.click(screen.getByLabelText('Use the project allowlist'));
    expect(screen.getByText('The project allowlist is empty.')).toBeInTheDocument();

    await userEvent.type(screen.getByLabelText('CVE ids to add'), 'cve-2024-3094, <script>{Enter}');
    expect(screen.getByText('Not a CVE id: <script>.')).toBeInTheDocument();
    await userEvent.clear(screen.getByLabelText('CVE ids to add'));
    await userEvent.type(screen.getByLabelText('CVE ids to add'), 'cve-2024-3094, CVE-2023-4863');
    await userEvent.click(screen.getByRole('button', { name: 'Add' }));
    const list = screen.getByRole('list', { name: 'Project allowlist' });
    expect(
      within(list)
        .getAllByRole('listitem')
        .map((li) => li.textContent),
    ).toEqual(['CVE-2024-3094×', 'CVE-2023-4863×']);
    await userEvent.click(screen.getByRole('button', { name: 'Remove CVE-2023-4863' }));
    await userEvent.click(screen.getByLabelText('Never expires'));
    const expires = screen.getByLabelText('Expires on');
    fireEvent.change(expires, { target: { value: '2027-01-31' } });

    await userEvent.click(save);
    await screen.findByText('The security settings of shop are saved.');
    expect(server.requests.find((r) => r.method === 'PUT')?.body).toEqual({
      metadata: {
        auto_scan: 'true',
        prevent_vul: 'true',
        severity: 'critical',
        enable_content_trust_cosign: 'true',
        enable_content_trust: 'false',
        reuse_sys_cve_allowlist: 'false',
      },
      cve_allowlist: { items: [{ cve_id: 'CVE-2024-3094' }], expires_at: Date.parse('2027-01-31T00:00:00Z') / 1000 },
    });
  });

  it('lists trusted keys, adds one after checking the PEM, and deletes one', async () => {
    const keys = [{ id: 4, type: 'cosign', name: 'release' }];
    const server = configServer(keys)
      .on('POST', `${API}/projects/3/trusted-keys`, (request) => {
        const body = request.body as { type: string; name: string };
        keys.push({ id: 5, type: body.type, name: body.name });
        return { status: 201 };
      })
      .on('DELETE', `${API}/projects/3/trusted-keys/4`, () => {
        keys.splice(0, 1);
        return { status: 200 };
      });
    renderConfig(server);
    const table = await screen.findByRole('table', { name: 'Trusted keys' });
    expect(within(table).getByRole('row', { name: /release/ })).toHaveTextContent('SHA256:release');

    await userEvent.click(screen.getByRole('button', { name: 'Add trusted key' }));
    const dialog = screen.getByRole('dialog', { name: 'Add trusted key' });
    await userEvent.selectOptions(within(dialog).getByLabelText('Type'), 'notation');
    await userEvent.type(within(dialog).getByLabelText('Name'), 'ci');
    await userEvent.type(within(dialog).getByLabelText('PEM'), 'not a key');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add' }));
    expect(within(dialog).getByText(/Paste a PEM block/)).toBeInTheDocument();
    expect(server.requests.some((r) => r.method === 'POST')).toBe(false);
    await userEvent.clear(within(dialog).getByLabelText('PEM'));
    await userEvent.click(within(dialog).getByLabelText('PEM'));
    await userEvent.paste(PEM);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add' }));
    await within(table).findByRole('row', { name: /ci/ });
    expect(server.requests.find((r) => r.method === 'POST')?.body).toEqual({ type: 'notation', name: 'ci', pem: PEM });

    await userEvent.click(within(table).getByRole('button', { name: 'Delete trusted key release' }));
    await userEvent.click(
      within(screen.getByRole('dialog', { name: 'Delete trusted key' })).getByRole('button', { name: 'Delete' }),
    );
    await waitFor(() => expect(within(table).queryByRole('row', { name: /release/ })).not.toBeInTheDocument());
  });

  it('shows the settings read-only to a member who is not a project administrator', async () => {
    const server = configServer([{ id: 4, type: 'cosign', name: 'release' }]);
    renderConfig(server, { ...PROJECT, current_user_role_id: 2, metadata: { public: 'false', auto_scan: 'true' } });
    await screen.findByRole('table', { name: 'Trusted keys' });
    expect(screen.getByLabelText('Automatically scan images on push')).toBeChecked();
    expect(screen.getByLabelText('Automatically scan images on push')).toBeDisabled();
    expect(screen.queryByRole('button', { name: 'Save security settings' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Add trusted key' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /Delete trusted key/ })).not.toBeInTheDocument();
  });
});
