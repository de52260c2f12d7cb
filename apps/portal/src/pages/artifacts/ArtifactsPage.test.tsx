import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { type Artifact } from '../../api/types.js';
import { createFetchDouble } from '../../test/fetch-double.js';
import { PROJECT, renderWithApp } from '../../test/render.js';
import { ArtifactsPage } from './ArtifactsPage.js';

const DIGEST = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const ARTIFACTS_PATH = '/api/v2.0/projects/shop/repositories/team%252Fapi/artifacts';

const ARTIFACT: Artifact = {
  id: 11,
  type: 'IMAGE',
  media_type: 'application/vnd.oci.image.config.v1+json',
  manifest_media_type: 'application/vnd.oci.image.manifest.v1+json',
  project_id: 3,
  repository_id: 5,
  repository_name: 'shop/team/api',
  digest: DIGEST,
  size: 3 * 1024 * 1024,
  push_time: '2026-03-01T10:00:00Z',
  pull_time: '0001-01-01T00:00:00Z',
  tags: [
    { id: 21, repository_id: 5, artifact_id: 11, name: 'v1', push_time: '', pull_time: '', immutable: false },
    { id: 22, repository_id: 5, artifact_id: 11, name: 'stable', push_time: '', pull_time: '', immutable: false },
  ],
};

function renderArtifacts() {
  const server = createFetchDouble()
    .on('GET', '/api/v2.0/systeminfo', { body: { current_time: '', registry_url: 'reg.example.com' } })
    .on('GET', ARTIFACTS_PATH, { body: [ARTIFACT], headers: { 'X-Total-Count': '1' } });
  const rendered = renderWithApp(<ArtifactsPage />, {
    at: '/projects/3/repositories/team%2Fapi',
    path: '/projects/:projectId/repositories/:repo',
    project: PROJECT,
    server,
  });
  return rendered;
}

describe('ArtifactsPage', () => {
  it('asks for a nested repository with the name encoded twice, as Harbor wants', async () => {
    const { server } = renderArtifacts();
    await screen.findByRole('table');
    const list = server.requests.find((r) => r.path === ARTIFACTS_PATH);
    expect(list?.query.get('with_tag')).toBe('true');
    expect(server.unhandled).toHaveLength(0);
  });

  it('shows digest, tags, size, type and "never" for an artifact not pulled yet', async () => {
    renderArtifacts();
    const table = await screen.findByRole('table');
    const row = within(table).getAllByRole('row')[1]!;
    expect(within(row).getByRole('link', { name: 'sha256:0123456789ab' })).toHaveAttribute(
      'href',
      `/projects/3/repositories/team%2Fapi/artifacts/${encodeURIComponent(DIGEST)}`,
    );
    expect(within(row).getByText('v1')).toBeInTheDocument();
    expect(within(row).getByText('stable')).toBeInTheDocument();
    expect(within(row).getByText('3 MiB')).toBeInTheDocument();
    expect(within(row).getByText('Image')).toBeInTheDocument();
    expect(within(row).getByText('never')).toBeInTheDocument();
  });

  it('copies the pull command of a tag with the registry host', async () => {
    const user = userEvent.setup();
    renderArtifacts();
    await screen.findByRole('table');
    await waitFor(() =>
      expect(screen.getAllByText(':v1')[0]).toHaveAttribute('title', expect.stringContaining('reg.')),
    );

    await user.click(screen.getByRole('button', { name: 'Copy pull command for tag v1' }));

    expect(await navigator.clipboard.readText()).toBe('docker pull reg.example.com/shop/team/api:v1');
    expect(screen.getByRole('button', { name: 'Copy pull command for tag v1' })).toHaveTextContent('Copied');
  });

  it('deletes a tag after confirmation, at the artifact of its digest', async () => {
    const { server } = renderArtifacts();
    const tagPath = `${ARTIFACTS_PATH}/${encodeURIComponent(DIGEST)}/tags/stable`;
    server.on('DELETE', tagPath, { status: 200 });
    await screen.findByRole('table');

    await userEvent.click(screen.getByRole('button', { name: 'Delete tag stable' }));
    await userEvent.click(
      within(screen.getByRole('dialog', { name: 'Delete tag' })).getByRole('button', { name: 'Delete' }),
    );

    expect(await screen.findByText('Tag stable was deleted.')).toBeInTheDocument();
    expect(server.requests.some((r) => r.method === 'DELETE' && r.path === tagPath)).toBe(true);
  });
});
