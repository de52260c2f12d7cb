import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { repositoryParam, useApi } from '../../api/client.js';
import { useProject } from '../../api/project.js';
import { artifactPath, repositoryPath } from '../../api/repositories.js';
import { useRegistryHost } from '../../api/system.js';
import { CopyButton } from '../../components/CopyButton.js';
import { QueryState } from '../../components/QueryState.js';
import { formatBytes, formatDate, shortDigest } from '../../lib/format.js';
import { artifactTypeLabel, platformLabel, PullCommand } from './artifactBits.js';
import { useArtifactDeletion, useMayDeleteArtifacts } from './ArtifactsPage.js';
import { CopyArtifactDialog } from './CopyArtifactDialog.js';
import { SignaturesSection, VulnerabilitiesSection } from './VulnerabilitiesSection.js';
import { isScanRunning, scanSummaryOf } from './vulnerabilities.js';

/** How often a running scan's status is asked. */
export const SCAN_POLL_MS = 3000;

/** One artifact (/projects/:projectId/repositories/:repo/artifacts/:digest). */
export function ArtifactPage() {
  const api = useApi();
  const project = useProject();
  const host = useRegistryHost();
  const navigate = useNavigate();
  const { repo = '', digest = '' } = useParams();
  const fullName = `${project.name}/${repo}`;
  const may = useMayDeleteArtifacts();
  const [copying, setCopying] = useState(false);
  const deletion = useArtifactDeletion(repo, (done) => {
    if (done.kind === 'artifact') void navigate(repositoryPath(project.project_id, repo), { replace: true });
  });

  const artifact = useQuery({
    queryKey: ['projects', project.name, 'repositories', repo, 'artifact', digest],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}', {
          params: {
            path: { project_name: project.name, repository_name: repositoryParam(repo), reference: digest },
            query: { with_tag: 'true', with_scan_overview: 'true' },
          },
        }),
      ),
    // While a scan runs, its status is asked again until it ends.
    refetchInterval: (query) =>
      isScanRunning(query.state.data && scanSummaryOf(query.state.data)) ? SCAN_POLL_MS : false,
  });

  return (
    <section aria-labelledby="artifact-title">
      <nav aria-label="Breadcrumb" className="breadcrumbs">
        <ol>
          <li>
            <Link to={`/projects/${project.project_id}/repositories`}>Repositories</Link>
          </li>
          <li>
            <Link to={repositoryPath(project.project_id, repo)}>{fullName}</Link>
          </li>
        </ol>
      </nav>
      <h2 id="artifact-title">
        {fullName}@{shortDigest(digest)}
      </h2>
      <QueryState query={artifact} action={`load the artifact ${shortDigest(digest)}`}>
        {(data) => {
          const tags = data.tags ?? [];
          const references = data.references ?? [];
          return (
            <>
              <div className="section">
                <dl className="details">
                  <dt>Digest</dt>
                  <dd>
                    <code>{data.digest}</code> <CopyButton text={data.digest} ariaLabel="Copy digest" />
                  </dd>
                  <dt>Type</dt>
                  <dd>{artifactTypeLabel(data)}</dd>
                  <dt>Media type</dt>
                  <dd>
                    <code>{data.manifest_media_type || data.media_type}</code>
                  </dd>
                  <dt>Size</dt>
                  <dd>{formatBytes(data.size)}</dd>
                  <dt>Pushed</dt>
                  <dd>{formatDate(data.push_time)}</dd>
                  <dt>Last pulled</dt>
                  <dd>{formatDate(data.pull_time)}</dd>
                  <dt>Pull by digest</dt>
                  <dd>
                    <PullCommand host={host} repository={fullName} reference={data.digest} />
                  </dd>
                </dl>
                <div className="form-actions" style={{ marginTop: '1rem' }}>
                  <button type="button" className="button" onClick={() => setCopying(true)}>
                    Copy to…
                  </button>
                  {may.artifacts ? (
                    <button
                      type="button"
                      className="button button-danger"
                      onClick={() => deletion.deleteArtifact(data)}
                    >
                      Delete artifact
                    </button>
                  ) : null}
                </div>
                {copying ? (
                  <CopyArtifactDialog
                    projectName={project.name}
                    repository={repo}
                    artifact={data}
                    onClose={() => setCopying(false)}
                  />
                ) : null}
              </div>

              <div className="section">
                <h3>Tags</h3>
                {tags.length === 0 ? (
                  <p className="hint">This artifact has no tags.</p>
                ) : (
                  <div className="table-wrap">
                    <table className="table">
                      <caption className="visually-hidden">Tags</caption>
                      <thead>
                        <tr>
                          <th scope="col">Tag</th>
                          <th scope="col">Pull command</th>
                          <th scope="col">Pushed</th>
                          <th scope="col">Last pulled</th>
                          <th scope="col">
                            <span className="visually-hidden">Actions</span>
                          </th>
                        </tr>
                      </thead>
                      <tbody>
                        {tags.map((tag) => (
                          <tr key={tag.name}>
                            <td>
                              {tag.name}
                              {tag.immutable ? <span className="hint"> (immutable)</span> : null}
                            </td>
                            <td>
                              <PullCommand host={host} repository={fullName} reference={tag.name} />
                            </td>
                            <td className="nowrap">{formatDate(tag.push_time)}</td>
                            <td className="nowrap">{formatDate(tag.pull_time)}</td>
                            <td className="actions">
                              {may.tags ? (
                                <button
                                  type="button"
                                  className="button button-small"
                                  aria-label={`Delete tag ${tag.name}`}
                                  onClick={() => deletion.deleteTag(data, tag)}
                                >
                                  Delete
                                </button>
                              ) : null}
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                )}
              </div>

              <VulnerabilitiesSection
                repo={repo}
                digest={data.digest}
                summary={scanSummaryOf(data)}
                onScanStarted={() => artifact.refetch()}
              />
              <SignaturesSection repo={repo} digest={data.digest} />

              {references.length > 0 ? (
                <div className="section">
                  <h3>References</h3>
                  <p className="hint">The artifacts this index points to, one per platform.</p>
                  <div className="table-wrap">
                    <table className="table">
                      <caption className="visually-hidden">References</caption>
                      <thead>
                        <tr>
                          <th scope="col">Digest</th>
                          <th scope="col">Platform</th>
                        </tr>
                      </thead>
                      <tbody>
                        {references.map((reference) => (
                          <tr key={reference.child_digest}>
                            <td>
                              <Link
                                className="mono"
                                to={artifactPath(project.project_id, repo, reference.child_digest)}
                              >
                                {shortDigest(reference.child_digest)}
                              </Link>
                            </td>
                            <td>{platformLabel(reference.platform) || '—'}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                </div>
              ) : null}
            </>
          );
        }}
      </QueryState>
      {deletion.dialog}
    </section>
  );
}
