import { useId, useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { useApi } from '../../api/client.js';
import { projectKey, useProject } from '../../api/project.js';
import { useCurrentUser } from '../../api/session.js';
import { useProjectSummary } from '../../api/summary.js';
import { QueryState } from '../../components/QueryState.js';
import { QuotaBar } from '../../components/QuotaBar.js';
import { useToast } from '../../components/Toast.js';
import { errorText } from '../../lib/errors.js';
import { SecuritySettings } from './SecuritySettings.js';
import { TrustedKeysSection } from './TrustedKeysSection.js';

export function ProjectConfigurationPage() {
  const api = useApi();
  const project = useProject();
  const user = useCurrentUser().data;
  const queryClient = useQueryClient();
  const toast = useToast();
  const summary = useProjectSummary(project.project_id);
  const publicId = useId();
  const savedPublic = project.metadata?.public === 'true';
  const [isPublic, setIsPublic] = useState(savedPublic);
  const mayEdit = user?.sysadmin_flag === true || project.current_user_role_id === 1;
  const id = String(project.project_id);

  const save = useMutation({
    mutationFn: async (value: boolean) =>
      unwrap(
        await api.PUT('/api/v2.0/projects/{project_name_or_id}', {
          params: { path: { project_name_or_id: id } },
          body: { metadata: { public: value ? 'true' : 'false' } },
        }),
      ),
    onSuccess: async () => {
      toast.success(`Project ${project.name} is now ${isPublic ? 'public' : 'private'}.`);
      await queryClient.invalidateQueries({ queryKey: projectKey(id) });
      await queryClient.invalidateQueries({ queryKey: ['projects', 'list'] });
    },
  });

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    save.mutate(isPublic);
  }

  return (
    <section aria-labelledby="configuration-title">
      <h2 id="configuration-title">Configuration</h2>
      <div className="section">
        <form className="form" onSubmit={submit}>
          <h3>Project registry</h3>
          <div className="field field-inline">
            <input
              id={publicId}
              type="checkbox"
              checked={isPublic}
              disabled={!mayEdit || save.isPending}
              aria-describedby={`${publicId}-hint`}
              onChange={(e) => setIsPublic(e.target.checked)}
            />
            <label htmlFor={publicId}>Public</label>
          </div>
          <p id={`${publicId}-hint`} className="hint">
            A public project lets anyone pull its images, without logging in. Only members can push.
          </p>
          {!mayEdit ? <p className="hint">Only project administrators can change the configuration.</p> : null}
          {save.isError ? (
            <p className="form-error" role="alert">
              {errorText(save.error, 'change the project configuration')}
            </p>
          ) : null}
          {mayEdit ? (
            <div className="form-actions">
              <button
                type="submit"
                className="button button-primary"
                disabled={save.isPending || isPublic === savedPublic}
              >
                {save.isPending ? 'Saving…' : 'Save'}
              </button>
              <button
                type="button"
                className="button"
                disabled={save.isPending || isPublic === savedPublic}
                onClick={() => setIsPublic(savedPublic)}
              >
                Cancel
              </button>
            </div>
          ) : null}
        </form>
      </div>
      <SecuritySettings project={project} mayEdit={mayEdit} />
      <TrustedKeysSection project={project} mayEdit={mayEdit} />
      <div className="section">
        <h3>Storage quota</h3>
        <QueryState query={summary} action="load the project quota">
          {(data) =>
            data.quota ? (
              <QuotaBar
                used={data.quota.used.storage}
                hard={data.quota.hard.storage}
                label={`Storage of project ${project.name}`}
              />
            ) : (
              <p className="hint">This project has no storage quota.</p>
            )
          }
        </QueryState>
        {user?.sysadmin_flag ? (
          <p className="hint">System administrators change storage limits under Administration → Quotas.</p>
        ) : null}
      </div>
    </section>
  );
}
