import { useProject } from '../../api/project.js';
import { projectScope, useCan, useScopePermissions } from '../../components/common/scope-permissions.js';
import { Loading } from '../../components/QueryState.js';
import { ImmutabilitySection } from './ImmutabilitySection.js';
import { RetentionSection } from './RetentionSection.js';

/**
 * A project's policies (/projects/:projectId/policy): tag retention and tag immutability. Each shows to those the API
 * lets read it, with the changes only to those it lets make them.
 */
export function PolicyPage() {
  const project = useProject();
  const scope = projectScope(project.project_id);
  const held = useScopePermissions(scope);
  const can = useCan(scope);

  if (held.isPending && !can('tag-retention', 'read')) return <Loading label="Loading your permissions…" />;
  const retention = can('tag-retention', 'read');
  const immutability = can('immutable-tag', 'list');
  return (
    <section aria-labelledby="policy-title">
      <h2 id="policy-title">Policy</h2>
      {retention ? <RetentionSection may={{ change: can('tag-retention', 'update') }} /> : null}
      {immutability ? (
        <ImmutabilitySection
          may={{
            create: can('immutable-tag', 'create'),
            update: can('immutable-tag', 'update'),
            delete: can('immutable-tag', 'delete'),
          }}
        />
      ) : null}
      {!retention && !immutability ? (
        <p>Only project administrators, maintainers and developers see the policies of this project.</p>
      ) : null}
    </section>
  );
}
