import { describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { createFetchDouble } from '../../test/fetch-double.js';
import { PROJECT, renderWithApp } from '../../test/render.js';
import { RepositoriesPage } from './RepositoriesPage.js';

const REPOSITORIES_PATH = '/api/v2.0/projects/shop/repositories';

function renderEmptyProject(registryUrl: string) {
  const server = createFetchDouble()
    .on('GET', '/api/v2.0/systeminfo', { body: { current_time: '', registry_url: registryUrl } })
    .on('GET', REPOSITORIES_PATH, { body: [], headers: { 'X-Total-Count': '0' } });
  return renderWithApp(<RepositoriesPage />, {
    at: '/projects/3/repositories',
    path: '/projects/:projectId/repositories',
    project: PROJECT,
    server,
  });
}

describe('RepositoriesPage of an empty project', () => {
  it('shows the push commands with the registry address the server names, not the address of the page', async () => {
    renderEmptyProject('registry.example.com:8443');

    expect(await screen.findByText(/no repositories yet/)).toBeInTheDocument();
    await waitFor(() =>
      expect(screen.getByText('docker push registry.example.com:8443/shop/REPOSITORY[:TAG]')).toBeInTheDocument(),
    );
    expect(screen.getByText('docker login registry.example.com:8443')).toBeInTheDocument();
    expect(
      screen.getByText('docker tag SOURCE_IMAGE[:TAG] registry.example.com:8443/shop/REPOSITORY[:TAG]'),
    ).toBeVisible();
    expect(document.body).not.toHaveTextContent(window.location.host);
  });

  it('copies a push command as shown', async () => {
    const user = userEvent.setup();
    renderEmptyProject('registry.example.com');
    await screen.findByText('docker push registry.example.com/shop/REPOSITORY[:TAG]');

    await user.click(screen.getByRole('button', { name: 'Copy command: Push it' }));

    expect(await navigator.clipboard.readText()).toBe('docker push registry.example.com/shop/REPOSITORY[:TAG]');
  });
});
