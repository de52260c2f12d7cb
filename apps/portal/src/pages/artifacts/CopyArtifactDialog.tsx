import { useId, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { repositoryParam, useApi } from '../../api/client.js';
import { repositoryPath } from '../../api/repositories.js';
import { type Artifact } from '../../api/types.js';
import { useSettled } from '../../components/common/use-settled.js';
import { FormDialog } from '../../components/FormDialog.js';
import { Modal } from '../../components/Modal.js';
import { useToast } from '../../components/Toast.js';
import { errorText } from '../../lib/errors.js';
import { shortDigest } from '../../lib/format.js';
import { projectNameProblem } from '../../lib/validation.js';

const REPOSITORY_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;

/** Why a repository name (inside its project) would be refused, or undefined. */
export function repositoryNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'Enter a repository name.';
  if (name.length > 255) return 'The repository name must be at most 255 characters long.';
  if (!REPOSITORY_NAME.test(name)) {
    return 'Lower-case letters and digits, with . _ - between them and / between path parts, as team/app.';
  }
  return undefined;
}

/** The `from` of Harbor's copy: `project/repository:tag` when copying by a tag, else `project/repository@digest`. */
export function copySource(repository: string, digest: string, tag: string | undefined): string {
  return tag ? `${repository}:${tag}` : `${repository}@${digest}`;
}

interface Copied {
  project: string;
  repository: string;
  /** The target project's id, for the link to the copy; absent when the user cannot see that project. */
  projectId?: number;
}

/**
 * Copies an artifact to another repository, in this project or another one, as Harbor's copy: by digest, or by one
 * of its tags. The artifact's tags come along. The target's storage limit, immutable tags and the user's permission
 * there decide; a refusal is said in words and changes nothing.
 */
export function CopyArtifactDialog({
  projectName,
  repository,
  artifact,
  onClose,
}: {
  projectName: string;
  /** The repository's name inside the project. */
  repository: string;
  artifact: Pick<Artifact, 'digest' | 'tags'>;
  onClose: () => void;
}) {
  const api = useApi();
  const queryClient = useQueryClient();
  const toast = useToast();
  const ids = { reference: useId(), project: useId(), projects: useId(), repository: useId() };
  const tags = (artifact.tags ?? []).map((t) => t.name);
  const [reference, setReference] = useState('');
  const [project, setProject] = useState('');
  const [target, setTarget] = useState(repository);
  const [checked, setChecked] = useState(false);
  const [copied, setCopied] = useState<Copied | null>(null);
  const source = `${projectName}/${repository}`;

  const search = useSettled(project.trim());
  const suggestions = useQuery({
    queryKey: ['projects', 'chooser', search],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v2.0/projects', {
          params: { query: { page: 1, page_size: 10, ...(search ? { name: search } : {}) } },
        }),
      ),
  });

  const projectProblem = projectNameProblem(project.trim());
  const repositoryProblem = repositoryNameProblem(target.trim());

  const copy = useMutation({
    mutationFn: async (): Promise<Copied> => {
      const to = { project: project.trim(), repository: target.trim() };
      unwrap(
        await api.POST('/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts', {
          params: {
            path: { project_name: to.project, repository_name: repositoryParam(to.repository) },
            query: { from: copySource(source, artifact.digest, reference || undefined) },
          },
        }),
      );
      const listed = await api.GET('/api/v2.0/projects', { params: { query: { name: to.project } } });
      const found = listed.data?.find((p) => p.name === to.project);
      return { ...to, ...(found ? { projectId: found.project_id } : {}) };
    },
    onSuccess: (done) => {
      setCopied(done);
      toast.success(
        `Copied ${reference ? `${source}:${reference}` : shortDigest(artifact.digest)} to ${done.project}/${done.repository}.`,
      );
      void queryClient.invalidateQueries({ queryKey: ['projects'] });
    },
  });

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setChecked(true);
    if (projectProblem || repositoryProblem) return;
    copy.mutate();
  }

  if (copied) {
    const name = `${copied.project}/${copied.repository}`;
    return (
      <Modal
        title="Artifact copied"
        onClose={onClose}
        footer={
          <button type="button" className="button button-primary" onClick={onClose}>
            Close
          </button>
        }
      >
        <p role="status">
          The artifact <code>{shortDigest(artifact.digest)}</code> is now in{' '}
          {copied.projectId !== undefined ? (
            <Link to={repositoryPath(copied.projectId, copied.repository)} onClick={onClose}>
              {name}
            </Link>
          ) : (
            <strong>{name}</strong>
          )}
          {tags.length > 0 ? `, with its tags ${tags.join(', ')}` : ''}.
        </p>
      </Modal>
    );
  }

  return (
    <FormDialog
      title="Copy artifact"
      submitLabel="Copy"
      busyLabel="Copying…"
      busy={copy.isPending}
      error={copy.isError ? errorText(copy.error, 'copy the artifact') : null}
      onSubmit={submit}
      onClose={onClose}
    >
      <p>
        Copy{' '}
        <code>
          {source}@{shortDigest(artifact.digest)}
        </code>
        {tags.length > 0 ? ` and its tags ${tags.join(', ')}` : ''} to another repository.
      </p>
      {tags.length > 0 ? (
        <div className="field">
          <label htmlFor={ids.reference}>Copy by</label>
          <select id={ids.reference} value={reference} onChange={(e) => setReference(e.target.value)}>
            <option value="">Digest {shortDigest(artifact.digest)}</option>
            {tags.map((tag) => (
              <option key={tag} value={tag}>
                Tag {tag}
              </option>
            ))}
          </select>
          <span className="hint">By a tag, the copy is of the artifact that tag names when you copy.</span>
        </div>
      ) : null}
      <div className="field">
        <label htmlFor={ids.project}>Target project</label>
        <input
          id={ids.project}
          type="text"
          autoComplete="off"
          autoCapitalize="off"
          spellCheck={false}
          list={ids.projects}
          value={project}
          aria-invalid={checked && projectProblem ? true : undefined}
          aria-describedby={checked && projectProblem ? `${ids.project}-error` : undefined}
          onChange={(e) => setProject(e.target.value)}
        />
        <datalist id={ids.projects}>
          {(suggestions.data ?? []).map((p) => (
            <option key={p.project_id} value={p.name} />
          ))}
        </datalist>
        {checked && projectProblem ? (
          <p id={`${ids.project}-error`} className="field-error" role="alert">
            {projectProblem}
          </p>
        ) : null}
      </div>
      <div className="field">
        <label htmlFor={ids.repository}>Target repository</label>
        <input
          id={ids.repository}
          type="text"
          autoComplete="off"
          autoCapitalize="off"
          spellCheck={false}
          value={target}
          aria-invalid={checked && repositoryProblem ? true : undefined}
          aria-describedby={`${ids.repository}-help`}
          onChange={(e) => setTarget(e.target.value)}
        />
        {checked && repositoryProblem ? (
          <p id={`${ids.repository}-help`} className="field-error" role="alert">
            {repositoryProblem}
          </p>
        ) : (
          <span id={`${ids.repository}-help`} className="hint">
            The name inside the target project, created if it does not exist yet.
          </span>
        )}
      </div>
    </FormDialog>
  );
}
