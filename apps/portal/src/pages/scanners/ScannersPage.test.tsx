import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { type FetchDouble, createFetchDouble } from '../../test/fetch-double.js';
import { DEVELOPER, renderWithApp } from '../../test/render.js';
import { ScannersPage } from './ScannersPage.js';
import { scannerProblems, scannerRequest, EMPTY_SCANNER } from './scanners.js';

const API = '/api/v2.0';
const AT = '/admin/interrogation-services/scanners';

function registration(uuid: string, name: string, extra: Record<string, unknown> = {}) {
  return {
    uuid,
    name,
    description: '',
    url: `http://${name.toLowerCase()}:8080`,
    disabled: false,
    is_default: false,
    auth: '',
    skip_certVerify: false,
    use_internal_addr: false,
    immutable: false,
    create_time: '2026-12-01T00:00:00Z',
    update_time: '2026-12-01T00:00:00Z',
    ...extra,
  };
}

/** The built-in Trivy (default, healthy), an external Clair (unreachable) and a disabled Anchore. */
function scannerServer(): FetchDouble & { list: ReturnType<typeof registration>[] } {
  const list = [
    registration('u-trivy', 'Trivy', { url: 'builtin:trivy', is_default: true, immutable: true }),
    registration('u-clair', 'Clair', { description: 'The old one' }),
    registration('u-anchore', 'Anchore', { disabled: true }),
  ];
  const server = createFetchDouble()
    .on('GET', `${API}/scanners`, () => ({ body: list, headers: { 'X-Total-Count': String(list.length) } }))
    .on('GET', `${API}/scanners/u-trivy/metadata`, {
      body: { scanner: { name: 'Trivy', vendor: 'Aqua Security', version: 'v0.58.1' }, capabilities: [] },
    })
    .on('GET', `${API}/scanners/u-clair/metadata`, {
      status: 503,
      body: { errors: [{ code: 'SERVICE_UNAVAILABLE', message: 'scanner Clair: connection refused' }] },
    })
    .on('PATCH', /^\/api\/v2\.0\/scanners\/[^/]+$/, (request) => {
      const uuid = request.path.split('/').at(-1);
      for (const s of list) s.is_default = s.uuid === uuid;
      return { status: 200 };
    })
    .on('PUT', /^\/api\/v2\.0\/scanners\/[^/]+$/, (request) => {
      const s = list.find((r) => r.uuid === request.path.split('/').at(-1))!;
      s.disabled = (request.body as { disabled: boolean }).disabled;
      return { status: 200 };
    })
    .on('DELETE', /^\/api\/v2\.0\/scanners\/[^/]+$/, (request) => {
      const at = list.findIndex((r) => r.uuid === request.path.split('/').at(-1));
      const [gone] = list.splice(at, 1);
      return { body: gone };
    });
  return Object.assign(server, { list });
}

describe('scanner form rules', () => {
  it('asks for a name, an http(s) address and the credential its authentication needs', () => {
    expect(scannerProblems(EMPTY_SCANNER)).toEqual({
      name: 'Enter a name.',
      url: 'Enter the address of the scanner adapter.',
    });
    expect(scannerProblems({ ...EMPTY_SCANNER, name: 'x', url: 'ftp://x' }).url).toBe(
      'The address starts with http:// or https://.',
    );
    expect(scannerProblems({ ...EMPTY_SCANNER, name: 'x', url: 'http://x', auth: 'Bearer' }).credential).toBe(
      'Enter the credential the scanner expects.',
    );
    expect(
      scannerProblems({ ...EMPTY_SCANNER, name: 'x', url: 'http://x', auth: 'Basic', credential: 'nopassword' })
        .credential,
    ).toBe('Basic authentication takes username:password.');
    expect(
      scannerProblems({ ...EMPTY_SCANNER, name: 'x', url: 'https://x', auth: 'Basic', credential: 'u:p' }),
    ).toEqual({});
  });

  it('sends the credential only with an authentication type', () => {
    expect(scannerRequest({ ...EMPTY_SCANNER, name: ' a ', url: 'http://a', credential: 'left over' })).toEqual({
      name: 'a',
      description: '',
      url: 'http://a',
      auth: '',
      skip_certVerify: false,
    });
    expect(
      scannerRequest({ ...EMPTY_SCANNER, name: 'a', url: 'http://a', auth: 'Bearer', credential: 't' })
        .access_credential,
    ).toBe('t');
  });
});

describe('ScannersPage (HTTP replaced by a fetch test double)', () => {
  it('says "Not allowed" to a user who is not a system administrator and asks nothing', () => {
    const server = createFetchDouble();
    renderWithApp(<ScannersPage />, { at: AT, user: DEVELOPER, server });
    expect(screen.getByRole('heading', { name: 'Not allowed' })).toBeInTheDocument();
    expect(server.requests).toHaveLength(0);
  });

  it('lists the scanners with default, health from the metadata, vendor, version and enabled state', async () => {
    const server = scannerServer();
    renderWithApp(<ScannersPage />, { at: AT, server });
    const table = await screen.findByRole('table', { name: 'Scanners' });
    const trivy = within(table).getByRole('row', { name: /Trivy/ });
    await within(trivy).findByText('Healthy');
    expect(within(trivy).getByText('Default')).toBeInTheDocument();
    expect(within(trivy).getByText('Aqua Security')).toBeInTheDocument();
    expect(within(trivy).getByText('v0.58.1')).toBeInTheDocument();
    expect(within(trivy).getByText('(built in)')).toBeInTheDocument();
    // The built-in default is neither disabled nor deleted: the API refuses both.
    expect(within(trivy).queryByRole('button')).not.toBeInTheDocument();

    const clair = within(table).getByRole('row', { name: /Clair/ });
    await within(clair).findByText('Unhealthy');
    expect(within(clair).getByText('Yes')).toBeInTheDocument();
    const anchore = within(table).getByRole('row', { name: /Anchore/ });
    expect(within(anchore).getByText('No')).toBeInTheDocument();
    expect(within(anchore).queryByRole('button', { name: 'Set Anchore as default' })).not.toBeInTheDocument();
    // A disabled scanner's adapter is not asked.
    expect(server.requests.some((r) => r.path.endsWith('/u-anchore/metadata'))).toBe(false);
  });

  it('sets a scanner as default, enables a disabled one and deletes another, each after confirmation', async () => {
    const server = scannerServer();
    renderWithApp(<ScannersPage />, { at: AT, server });
    const table = await screen.findByRole('table', { name: 'Scanners' });

    await userEvent.click(within(table).getByRole('button', { name: 'Set Clair as default' }));
    const confirm = screen.getByRole('dialog', { name: 'Set default scanner' });
    await userEvent.click(within(confirm).getByRole('button', { name: 'Set as default' }));
    await waitFor(() => expect(within(table).getByRole('row', { name: /Clair/ })).toHaveTextContent('Default'));
    const patch = server.requests.find((r) => r.method === 'PATCH');
    expect(patch?.path).toBe(`${API}/scanners/u-clair`);
    expect(patch?.body).toEqual({ is_default: true });
    expect(screen.getByText('Clair is now the default scanner.')).toBeInTheDocument();

    await userEvent.click(within(table).getByRole('button', { name: 'Enable Anchore' }));
    await userEvent.click(
      within(screen.getByRole('dialog', { name: 'Enable scanner' })).getByRole('button', { name: 'Enable' }),
    );
    await waitFor(() => expect(within(table).getByRole('row', { name: /Anchore/ })).toHaveTextContent('Yes'));
    expect(server.requests.find((r) => r.method === 'PUT')?.body).toEqual({
      name: 'Anchore',
      description: '',
      url: 'http://anchore:8080',
      auth: '',
      skip_certVerify: false,
      use_internal_addr: false,
      disabled: false,
    });

    // Trivy is no longer the default, but being built in it still cannot be deleted.
    expect(within(table).queryByRole('button', { name: 'Delete Trivy' })).not.toBeInTheDocument();
    await userEvent.click(within(table).getByRole('button', { name: 'Delete Anchore' }));
    await userEvent.click(
      within(screen.getByRole('dialog', { name: 'Delete scanner' })).getByRole('button', { name: 'Delete' }),
    );
    await waitFor(() => expect(within(table).queryByRole('row', { name: /Anchore/ })).not.toBeInTheDocument());
    expect(server.requests.filter((r) => r.method === 'DELETE').map((r) => r.path)).toEqual([
      `${API}/scanners/u-anchore`,
    ]);
  });

  it('tests the connection, shows the error in words, then adds the scanner', async () => {
    let pingFails = true;
    const server = scannerServer()
      .on('POST', `${API}/scanners/ping`, () =>
        pingFails
          ? {
              status: 400,
              body: { errors: [{ code: 'BAD_REQUEST', message: 'ping http://sc:8080: 401 Unauthorized' }] },
            }
          : { status: 200 },
      )
      .on('POST', `${API}/scanners`, { status: 201, headers: { Location: `${API}/scanners/u-new` } });
    renderWithApp(<ScannersPage />, { at: AT, server });
    await screen.findByRole('table', { name: 'Scanners' });

    await userEvent.click(screen.getByRole('button', { name: 'New scanner' }));
    const dialog = screen.getByRole('dialog', { name: 'New scanner' });
    await userEvent.click(within(dialog).getByRole('button', { name: 'Test connection' }));
    expect(within(dialog).getByText('Enter a name.')).toBeInTheDocument();
    expect(server.requests.some((r) => r.path === `${API}/scanners/ping`)).toBe(false);

    await userEvent.type(within(dialog).getByLabelText('Name'), 'Remote');
    await userEvent.type(within(dialog).getByLabelText('Endpoint'), 'http://sc:8080');
    await userEvent.selectOptions(within(dialog).getByLabelText('Authorization'), 'Bearer');
    await userEvent.type(within(dialog).getByLabelText('Token'), 'secret-token');
    await userEvent.click(within(dialog).getByLabelText('Skip certificate verification'));
    await userEvent.click(within(dialog).getByRole('button', { name: 'Test connection' }));
    expect(
      await within(dialog).findByText('Could not reach the scanner: ping http://sc:8080: 401 Unauthorized.'),
    ).toBeInTheDocument();
    expect(server.requests.find((r) => r.path === `${API}/scanners/ping`)?.body).toEqual({
      name: 'Remote',
      url: 'http://sc:8080',
      auth: 'Bearer',
      access_credential: 'secret-token',
    });

    pingFails = false;
    await userEvent.click(within(dialog).getByRole('button', { name: 'Test connection' }));
    expect(await within(dialog).findByText('Connection succeeded: the scanner answered.')).toBeInTheDocument();

    await userEvent.click(within(dialog).getByRole('button', { name: 'Add' }));
    await waitFor(() => expect(screen.queryByRole('dialog', { name: 'New scanner' })).not.toBeInTheDocument());
    expect(server.requests.find((r) => r.method === 'POST' && r.path === `${API}/scanners`)?.body).toEqual({
      name: 'Remote',
      description: '',
      url: 'http://sc:8080',
      auth: 'Bearer',
      access_credential: 'secret-token',
      skip_certVerify: true,
    });
    expect(screen.getByText('Scanner Remote added.')).toBeInTheDocument();
  });
});
