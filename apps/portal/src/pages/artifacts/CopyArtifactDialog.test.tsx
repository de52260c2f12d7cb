import { describe, expect, it } from 'vitest';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { type Artifact } from '../../api/types.js';
import { createFetchDouble, errorReply, type FetchDouble } from '../../test/fetch-double.js';
import { PROJECT, renderWithApp } from '../../test/render.js';
import { ArtifactPage } from './ArtifactPage.js';
import { ArtifactsPage } from './ArtifactsPage.js';
import { copySource, repositoryNameProblem } from './CopyArtifactDialog.js';

const DIGEST = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const ARTIFACTS_PATH = '/api/v2.0/projects/shop/repositories/team%252Fapi/artifacts';
const TARGET_PATH = '/api/v2.0/projects/other/repositories/team%252Fapi/artifacts';

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
  tags: [{ id: 21, repository_id: 5, artifact_id: 11, name: 'v1', push_time: '', pull_time: '', immutable: false }],
};

function server(): FetchDouble {
  return createFetchDouble()
    .on('GET', '/api/v2.0/systeminfo', { body: { current_time: '', registry_url: 'reg.example.com' } })
    .on('GET', ARTIFACTS_PATH, { body: [ARTIFACT], headers: { 'X-Total-Count': '1' } })
    .on('GET', '/api/v2.0/projects', { body: [{ ...PROJECT, project_id: 8, name: 'other' }] });
}

async function openCopy(double: FetchDouble) {
  renderWithApp(<ArtifactsPage />, {
    at: '/projects/3/repositories/team%2Fapi',
    path: '/projects/:projectId/repositories/:repo',
    project: PROJECT,
    server: double,
  });
  await userEvent.click(await screen.findByRole('button', { name: 'Copy artifact sha256:0123456789ab to…' }));
  return screen.getByRole('dialog', { name: 'Copy artifact' });
}

describe('copying an artifact', () => {
  it('copies by tag to another project and links to the copy', async () => {
    const double = server().on('POST', TARGET_PATH, { status: 201 });
    const dialog = await openCopy(double);
    expect(within(dialog).getByLabelText('Target repository')).toHaveValue('team/api');
    await userEvent.selectOptions(within(dialog).getByLabelText('Copy by'), 'v1');
    await userEvent.type(within(dialog).getByLabelText('Target project'), 'other');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Copy' }));

    const done = await screen.findByRole('dialog', { name: 'Artifact copied' });
    expect(within(done).getByRole('link', { name: 'other/team/api' })).toHaveAttribute(
      'href',
      '/projects/8/repositories/team%2Fapi',
    );
    const post = double.requests.find((r) => r.method === 'POST');
    expect(post?.path).toBe(TARGET_PATH);
    expect(post?.query.get('from')).toBe('shop/team/api:v1');
  });

  it('says why the target refused the copy, and stays open', async () => {
    const double = server().on(
      'POST',
      TARGET_PATH,
      errorReply(412, 'PRECONDITION', 'the tag v1 of other/team/api is immutable, cannot be overwritten'),
    );
    const dialog = await openCopy(double);
    await userEvent.type(within(dialog).getByLabelText('Target project'), 'other');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Copy' }));

    expect(await within(dialog).findByRole('alert')).toHaveTextContent(
      'Could not copy the artifact: the tag v1 of other/team/api is immutable, cannot be overwritten.',
    );
    expect(double.requests.find((r) => r.method === 'POST')?.query.get('from')).toBe(`shop/team/api@${DIGEST}`);
  });

  it('asks for a target project and a valid repository name before copying', async () => {
    const double = server();
    const dialog = await openCopy(double);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Copy' }));
    expect(within(dialog).getByText('Enter a project name.')).toBeInTheDocument();
    expect(double.requests.some((r) => r.method === 'POST')).toBe(false);

    await userEvent.type(within(dialog).getByLabelText('Target project'), 'other');
    await userEvent.clear(within(dialog).getByLabelText('Target repository'));
    await userEvent.type(within(dialog).getByLabelText('Target repository'), 'Team//x');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Copy' }));

    expect(within(dialog).getByText(/Lower-case letters and digits/)).toBeInTheDocument();
    expect(double.requests.some((r) => r.method === 'POST')).toBe(false);
  });
});

describe("copying from an artifact's page", () => {
  it('offers Copy to… and copies by digest unless a tag is chosen', async () => {
    const double = server()
      .on('GET', new RegExp(`^${ARTIFACTS_PATH}/sha256`), { body: ARTIFACT })
      .on('GET', /\/additions\/vulnerabilities$/, { body: {} })
      .on('GET', /\/accessories$/, { body: [] })
      .on('POST', TARGET_PATH, { status: 201 });
    renderWithApp(<ArtifactPage />, {
      at: `/projects/3/repositories/team%2Fapi/artifacts/${encodeURIComponent(DIGEST)}`,
      path: '/projects/:projectId/repositories/:repo/artifacts/:digest',
      project: PROJECT,
      server: double,
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Copy to…' }));
    const dialog = screen.getByRole('dialog', { name: 'Copy artifact' });
    await userEvent.type(within(dialog).getByLabelText('Target project'), 'other');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Copy' }));

    await screen.findByRole('dialog', { name: 'Artifact copied' });
    expect(double.requests.find((r) => r.method === 'POST')?.query.get('from')).toBe(`shop/team/api@${DIGEST}`);
  });
});

describe('copy helpers', () => {
  it('names the source by tag or by digest', () => {
    expect(copySource('shop/app', DIGEST, 'v1')).toBe('shop/app:v1');
    expect(copySource('shop/app', DIGEST, undefined)).toBe(`shop/app@${DIGEST}`);
  });

  it('accepts nested repository names and refuses others', () => {
    expect(repositoryNameProblem('team/app-1.x')).toBeUndefined();
    expect(repositoryNameProblem('')).toBeDefined();
    expect(repositoryNameProblem('/app')).toBeDefined();
    expect(repositoryNameProblem('App')).toBeDefined();
  });
});
