import { useMutation, useQuery } from '@tanstack/react-query';
import { unwrap } from '@wharf/api-client';
import { repositoryParam, useApi } from '../../api/client.js';
import { useProject } from '../../api/project.js';
import { useCurrentUser } from '../../api/session.js';
import { Badge } from '../../components/Badge.js';
import { QueryState } from '../../components/QueryState.js';
import { Table } from '../../components/Table.js';
import { useToast } from '../../components/Toast.js';
import { errorText } from '../../lib/errors.js';
import { formatDate, shortDigest } from '../../lib/format.js';
import {
  type Accessory,
  type ScanSummary,
  VULNERABILITY_REPORT,
  accessoryLabel,
  firstLink,
  isScanRunning,
  severityCounts,
  severityTone,
  signatureState,
  sortVulnerabilities,
} from './vulnerabilities.js';

/** Roles that may scan: project admin, developer, maintainer (guests only look). */
const SCANNERS = new Set([1, 2, 4]);

/** The untyped form of a POST, for the scan route, which Harbor answers 202 without a body. */
type Post = (
  path: string,
  init: { params: { path: Record<string, string> } },
) => Promise<{ data?: unknown; error?: unknown; response: Response }>;

export interface VulnerabilitiesSectionProps {
  repo: string;
  digest: string;
  /** The artifact's scan summary (scan_overview), undefined when it was never scanned. */
  summary: ScanSummary | undefined;
  /** Asks the artifact again, after a scan was started. */
  onScanStarted: () => Promise<unknown>;
}

/** Counts per severity, worst first, as a bar whose parts are as long as their share. */
export function SeverityBar({ summary }: { summary: ScanSummary | undefined }) {
  const counts = severityCounts(summary);
  const total = counts.reduce((sum, c) => sum + c.count, 0);
  if (total === 0) return <p className="hint">No vulnerabilities found.</p>;
  return (
    <div>
      <div className="severity-bar" role="img" aria-label="Vulnerabilities by severity">
        {counts.map((c) => (
          <span
            key={c.severity}
            className={`severity-bar-part severity-${c.severity.toLowerCase()}`}
            style={{ flexGrow: c.count }}
          />
        ))}
      </div>
      <ul className="severity-legend" aria-label="Vulnerability counts">
        {counts.map((c) => (
          <li key={c.severity}>
            <Badge tone={severityTone(c.severity)}>{c.severity}</Badge> {c.count}
          </li>
        ))}
        <li>
          Total {total}
          {summary?.summary ? `, ${summary.summary.fixable} fixable` : ''}
        </li>
      </ul>
    </div>
  );
}

/** The artifact's vulnerabilities from its latest scan, with "Scan" to scan it now. */
export function VulnerabilitiesSection({ repo, digest, summary, onScanStarted }: VulnerabilitiesSectionProps) {
  const api = useApi();
  const project = useProject();
  const toast = useToast();
  const admin = useCurrentUser().data?.sysadmin_flag === true;
  const mayScan = admin || SCANNERS.has(project.current_user_role_id ?? 0);
  const running = isScanRunning(summary);
  const path = { project_name: project.name, repository_name: repositoryParam(repo), reference: digest };

  const report = useQuery({
    queryKey: [
      'projects',
      project.name,
      'repositories',
      repo,
      'artifact',
      digest,
      'vulnerabilities',
      summary?.report_id,
    ],
    queryFn: async () =>
      unwrap(
        await api.GET(
          '/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/additions/vulnerabilities',
          { params: { path } },
        ),
      ),
  });

  const scan = useMutation({
    mutationFn: async () => {
      const post = api.POST as unknown as Post;
      unwrap(
        await post('/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/scan', {
          params: { path },
        }),
      );
    },
    onSuccess: async () => {
      toast.success(`Scan of ${shortDigest(digest)} started.`);
      await onScanStarted();
    },
    onError: (error) => toast.error(errorText(error, 'scan the artifact')),
  });

  return (
    <div className="section">
      <h3>Vulnerabilities</h3>
      <p>
        {summary ? (
          <>
            Scan status: <strong>{summary.scan_status}</strong>
            {summary.end_time && !running ? (
              <span className="hint"> — finished {formatDate(summary.end_time)}</span>
            ) : null}
            {summary.scanner ? (
              <span className="hint">
                {' '}
                by {summary.scanner.name} {summary.scanner.version}
              </span>
            ) : null}
          </>
        ) : (
          <span className="hint">This artifact has not been scanned.</span>
        )}
      </p>
      {mayScan ? (
        <div className="form-actions">
          <button type="button" className="button" disabled={running || scan.isPending} onClick={() => scan.mutate()}>
            {running ? 'Scanning…' : 'Scan'}
          </button>
        </div>
      ) : null}
      {summary?.scan_status === 'Success' ? <SeverityBar summary={summary} /> : null}
      <QueryState query={report} action="load the vulnerabilities">
        {(data) => {
          const vulnerabilities = sortVulnerabilities(data[VULNERABILITY_REPORT]?.vulnerabilities ?? []);
          if (vulnerabilities.length === 0) return null;
          return (
            <Table
              caption="Vulnerabilities"
              headers={
                <>
                  <th scope="col">Vulnerability</th>
                  <th scope="col">Package</th>
                  <th scope="col">Current version</th>
                  <th scope="col">Fixed in version</th>
                  <th scope="col">Severity</th>
                  <th scope="col">CVSS v3</th>
                  <th scope="col">Description</th>
                </>
              }
            >
              {vulnerabilities.map((v) => {
                const link = firstLink(v);
                const score = v.preferred_cvss?.score_v3;
                return (
                  <tr key={`${v.id} ${v.package} ${v.version}`}>
                    <td className="nowrap">
                      {link ? (
                        <a href={link} target="_blank" rel="noreferrer noopener">
                          {v.id}
                        </a>
                      ) : (
                        v.id
                      )}
                    </td>
                    <td>{v.package}</td>
                    <td>{v.version}</td>
                    <td>{v.fix_version || '—'}</td>
                    <td>
                      <Badge tone={severityTone(v.severity)}>{v.severity}</Badge>
                    </td>
                    <td>{score === null || score === undefined ? '—' : score.toFixed(1)}</td>
                    <td>{v.description || '—'}</td>
                  </tr>
                );
              })}
            </Table>
          );
        }}
      </QueryState>
    </div>
  );
}

/** The artifact's signatures, each verified against the project's trusted keys, failing them, or not checked. */
export function SignaturesSection({ repo, digest }: { repo: string; digest: string }) {
  const api = useApi();
  const project = useProject();
  const accessories = useQuery({
    queryKey: ['projects', project.name, 'repositories', repo, 'artifact', digest, 'accessories'],
    queryFn: async (): Promise<Accessory[]> =>
      unwrap(
        await api.GET(
          '/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/accessories',
          {
            params: {
              path: { project_name: project.name, repository_name: repositoryParam(repo), reference: digest },
              query: { page_size: 100 },
            },
          },
        ),
      ) ?? [],
  });
  return (
    <div className="section">
      <h3>Signatures</h3>
      <QueryState query={accessories} action="load the signatures">
        {(list) => {
          const signatures = list.filter((a) => a.type.startsWith('signature.'));
          if (signatures.length === 0) return <p className="hint">This artifact is not signed.</p>;
          return (
            <Table
              caption="Signatures"
              headers={
                <>
                  <th scope="col">Type</th>
                  <th scope="col">Digest</th>
                  <th scope="col">Created</th>
                  <th scope="col">Verification</th>
                </>
              }
            >
              {signatures.map((s) => {
                const state = signatureState(s.verified);
                return (
                  <tr key={s.digest}>
                    <td>{accessoryLabel(s.type)}</td>
                    <td className="mono">{shortDigest(s.digest)}</td>
                    <td className="nowrap">{formatDate(s.creation_time)}</td>
                    <td>
                      <Badge tone={state.tone}>{state.label}</Badge>
                    </td>
                  </tr>
                );
              })}
            </Table>
          );
        }}
      </QueryState>
    </div>
  );
}
