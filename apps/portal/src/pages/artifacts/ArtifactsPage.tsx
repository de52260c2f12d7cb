import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { repositoryParam, useApi } from '../../api/client.js';
import { toPage, usePageParams } from '../../api/paging.js';
import { useProject } from '../../api/project.js';
import { artifactPath } from '../../api/repositories.js';
import { useCurrentUser } from '../../api/session.js';
import { useRegistryHost } from '../../api/system.js';
import { type Artifact } from '../../api/types.js';
import { ConfirmDialog } from '../../components/ConfirmDialog.js';
import { CopyButton } from '../../components/CopyButton.js';
import { PagedTable } from '../../components/PagedTable.js';
import { QueryState } from '../../components/QueryState.js';
import { useToast } from '../../components/Toast.js';
import { formatBytes, formatDate, shortDigest } from '../../lib/format.js';
import { artifactTypeLabel, PullCommand, type ArtifactTag } from './artifactBits.js';
import { CopyArtifactDialog } from './CopyArtifactDialog.js';

/** Roles that may delete artifacts and tags: Project Admin, Maintainer (and Developer for tags, as Harbor). */
const ARTIFACT_DELETERS = new Set([1, 4]);

type Pending = { kind: 'artifact'; artifact: Artifact } | { kind: 'tag'; artifact: Artifact; tag: ArtifactTag };

/** Deleting an artifact or a tag: the dialog and the request. */
export function useArtifactDeletion(repository: string, onDeleted?: (pending: Pending) => void) {
  const api = useApi();
  const project = useProject();
  const queryClient = useQueryClient();
  const toast = useToast();
  const [pending, setPending] = useState<Pending | null>(null);
  const fullName = `${project.name}/${repository}`;

  const dialog = pending ? (
    <ConfirmDialog
      title={pending.kind === 'artifact' ? 'Delete artifact' : 'Delete tag'}
      danger
      confirmLabel="Delete"
      action={
        pending.kind === 'artifact'
          ? `delete the artifact ${shortDigest(pending.artifact.digest)}`
          : `delete the tag ${pending.tag.name}`
      }
      message={
        pending.kind === 'artifact' ? (
          <p>
            Delete the artifact <code>{pending.artifact.digest}</code> of <strong>{fullName}</strong>
            {pending.artifact.tags?.length
              ? `, with its tags ${pending.artifact.tags.map((t) => t.name).join(', ')}`
              : ''}
            ? This cannot be undone.
          </p>
        ) : (
          <p>
            Delete the tag <strong>{pending.tag.name}</strong> of <strong>{fullName}</strong>? The artifact{' '}
            <code>{shortDigest(pending.artifact.digest)}</code> stays.
          </p>
        )
      }
      onConfirm={async () => {
        const path = {
          project_name: project.name,
          repository_name: repositoryParam(repository),
          reference: pending.artifact.digest,
        };
        if (pending.kind === 'artifact') {
          unwrap(
            await api.DELETE('/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}', {
              params: { path },
            }),
          );
          toast.success(`Artifact ${shortDigest(pending.artifact.digest)} was deleted.`);
        } else {
          unwrap(
            await api.DELETE(
              '/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags/{tag_name}',
              { params: { path: { ...path, tag_name: pending.tag.name } } },
            ),
          );
          toast.success(`Tag ${pending.tag.name} was deleted.`);
        }
        onDeleted?.(pending);
        void queryClient.invalidateQueries({ queryKey: ['projects'] });
      }}
      onClose={() => setPending(null)}
    />
  ) : null;

  return {
    dialog,
    deleteArtifact: (artifact: Artifact) => setPending({ kind: 'artifact', artifact }),
    deleteTag: (artifact: Artifact, tag: ArtifactTag) => setPending({ kind: 'tag', artifact, tag }),
  };
}

export function useMayDeleteArtifacts(): { artifacts: boolean; tags: boolean } {
  const project = useProject();
  const admin = useCurrentUser().data?.sysadmin_flag === true;
  const role = project.current_user_role_id ?? 0;
  return { artifacts: admin || ARTIFACT_DELETERS.has(role), tags: admin || ARTIFACT_DELETERS.has(role) || role === 2 };
}

/** The artifacts of one repository (/projects/:projectId/repositories/:repo). */
export function ArtifactsPage() {
  const api = useApi();
  const project = useProject();
  const host = useRegistryHost();
  const { repo = '' } = useParams();
  const fullName = `${project.name}/${repo}`;
  const { page, pageSize, setPage, setPageSize } = usePageParams();
  const may = useMayDeleteArtifacts();
  const deletion = useArtifactDeletion(repo);
  const [copying, setCopying] = useState<Artifact | null>(null);

  const artifacts = useQuery({
    queryKey: ['projects', project.name, 'repositories', repo, 'artifacts', { page, pageSize }],
    queryFn: async () =>
      toPage(
        await api.GET('/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts', {
          params: {
            path: { project_name: project.name, repository_name: repositoryParam(repo) },
            query: { page: page, page_size: pageSize, with_tag: 'true' },
          },
        }),
        page,
        pageSize,
      ),
    placeholderData: keepPreviousData,
  });

  return (
    <section aria-labelledby="artifacts-title">
      <nav aria-label="Breadcrumb" className="breadcrumbs">
        <ol>
          <li>
            <Link to={`/projects/${project.project_id}/repositories`}>Repositories</Link>
          </li>
        </ol>
      </nav>
      <h2 id="artifacts-title">{fullName}</h2>
      <QueryState
        query={artifacts}
        action={`load the artifacts of ${fullName}`}
        isEmpty={(data) => data.total === 0 && data.items.length === 0}
        empty={<p>This repository has no artifacts.</p>}
      >
        {(data) => (
          <PagedTable
            caption={<>Artifacts of {fullName}</>}
            headers={
              <>
                <th scope="col">Artifact</th>
                <th scope="col">Tags</th>
                <th scope="col">Type</th>
                <th scope="col">Size</th>
                <th scope="col">Pushed</th>
                <th scope="col">Last pulled</th>
                <th scope="col">Pull command</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </>
            }
            columns={8}
            itemCount={data.items.length}
            emptyText="No artifacts on this page."
            label="artifacts"
            page={page}
            pageSize={pageSize}
            total={data.total}
            onPageChange={setPage}
            onPageSizeChange={setPageSize}
          >
            {data.items.map((artifact) => {
              const tags = artifact.tags ?? [];
              return (
                <tr key={artifact.id}>
                  <td className="nowrap">
                    <Link className="mono" to={artifactPath(project.project_id, repo, artifact.digest)}>
                      {shortDigest(artifact.digest)}
                    </Link>{' '}
                    <CopyButton text={artifact.digest} ariaLabel={`Copy digest ${artifact.digest}`} />
                  </td>
                  <td>
                    {tags.length === 0 ? (
                      <span className="hint">untagged</span>
                    ) : (
                      <ul className="chips" aria-label={`Tags of ${shortDigest(artifact.digest)}`}>
                        {tags.map((tag) => (
                          <li key={tag.name} className="chip">
                            {tag.name}
                            {may.tags ? (
                              <button
                                type="button"
                                className="button-link"
                                aria-label={`Delete tag ${tag.name}`}
                                onClick={() => deletion.deleteTag(artifact, tag)}
                              >
                                ×
                              </button>
                            ) : null}
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                  <td className="nowrap">{artifactTypeLabel(artifact)}</td>
                  <td className="nowrap">{formatBytes(artifact.size)}</td>
                  <td className="nowrap">{formatDate(artifact.push_time)}</td>
                  <td className="nowrap">{formatDate(artifact.pull_time)}</td>
                  <td>
                    <div className="pull-commands">
                      {(tags.length > 0 ? tags.map((t) => t.name) : [artifact.digest]).map((reference) => (
                        <PullCommand key={reference} compact host={host} repository={fullName} reference={reference} />
                      ))}
                    </div>
                  </td>
                  <td className="actions">
                    <button
                      type="button"
                      className="button button-small"
                      aria-label={`Copy artifact ${shortDigest(artifact.digest)} to…`}
                      onClick={() => setCopying(artifact)}
                    >
                      Copy to…
                    </button>
                    {may.artifacts ? (
                      <button
                        type="button"
                        className="button button-small"
                        aria-label={`Delete artifact ${shortDigest(artifact.digest)}`}
                        onClick={() => deletion.deleteArtifact(artifact)}
                      >
                        Delete
                      </button>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </PagedTable>
        )}
      </QueryState>
      {deletion.dialog}
      {copying ? (
        <CopyArtifactDialog
          projectName={project.name}
          repository={repo}
          artifact={copying}
          onClose={() => setCopying(null)}
        />
      ) : null}
    </section>
  );
}
