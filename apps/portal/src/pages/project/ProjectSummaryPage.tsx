import { Link } from 'react-router';
import { useProject } from '../../api/project.js';
import { useProjectSummary } from '../../api/summary.js';
import { QueryState } from '../../components/QueryState.js';
import { QuotaBar } from '../../components/QuotaBar.js';
import { formatDate } from '../../lib/format.js';
import { roleLabel } from '../../lib/roles.js';

export function ProjectSummaryPage() {
  const project = useProject();
  const summary = useProjectSummary(project.project_id);
  const base = `/projects/${project.project_id}`;

  return (
    <section aria-labelledby="summary-title">
      <h2 id="summary-title">Summary</h2>
      <QueryState query={summary} action="load the project summary">
        {(data) => {
          const roles = [
            { label: 'Project Admins', count: data.project_admin_count },
            { label: 'Maintainers', count: data.maintainer_count },
            { label: 'Developers', count: data.developer_count },
            { label: 'Guests', count: data.guest_count },
            { label: 'Limited Guests', count: data.limited_guest_count },
          ].filter((role): role is { label: string; count: number } => typeof role.count === 'number');
          const members = roles.reduce((sum, role) => sum + role.count, 0);
          return (
            <>
              <div className="cards">
                <div className="card">
                  <div className="card-value">{data.repo_count}</div>
                  <div className="card-label">
                    <Link to={`${base}/repositories`}>{data.repo_count === 1 ? 'Repository' : 'Repositories'}</Link>
                  </div>
                </div>
                {roles.length > 0 ? (
                  <div className="card">
                    <div className="card-value">{members}</div>
                    <div className="card-label">
                      <Link to={`${base}/members`}>{members === 1 ? 'Member' : 'Members'}</Link>
                    </div>
                  </div>
                ) : null}
                {data.quota ? (
                  <div className="card">
                    <div className="card-label">Storage</div>
                    <QuotaBar
                      used={data.quota.used.storage}
                      hard={data.quota.hard.storage}
                      label={`Storage of project ${project.name}`}
                    />
                  </div>
                ) : null}
              </div>
              <div className="section">
                <h3>Details</h3>
                <dl className="details">
                  <dt>Access</dt>
                  <dd>{project.metadata?.public === 'true' ? 'Public: anyone can pull' : 'Private: members only'}</dd>
                  {project.owner_name ? (
                    <>
                      <dt>Owner</dt>
                      <dd>{project.owner_name}</dd>
                    </>
                  ) : null}
                  <dt>Your role</dt>
                  <dd>{project.current_user_role_id ? roleLabel(project.current_user_role_id) : 'None'}</dd>
                  <dt>Created</dt>
                  <dd>{formatDate(project.creation_time)}</dd>
                </dl>
              </div>
              {roles.length > 0 ? (
                <div className="section">
                  <h3>Members by role</h3>
                  <div className="table-wrap">
                    <table className="table">
                      <thead>
                        <tr>
                          <th scope="col">Role</th>
                          <th scope="col">Members</th>
                        </tr>
                      </thead>
                      <tbody>
                        {roles.map((role) => (
                          <tr key={role.label}>
                            <td>{role.label}</td>
                            <td>{role.count}</td>
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
    </section>
  );
}
