import { type Project, type RequestOf } from '../../api/types.js';

type ProjectUpdate = RequestOf<'/api/v2.0/projects/{project_name_or_id}', 'put'>;

/** Severities "prevent vulnerable images from running" can start at, as the API names them, worst first. */
export const PREVENT_SEVERITIES = [
  { value: 'critical', label: 'Critical' },
  { value: 'high', label: 'High' },
  { value: 'medium', label: 'Medium' },
  { value: 'low', label: 'Low' },
  { value: 'none', label: 'None' },
] as const;

/** The security settings of a project as its configuration form edits them. */
export interface SecurityFields {
  autoScan: boolean;
  preventVul: boolean;
  severity: string;
  cosign: boolean;
  notation: boolean;
  reuseSystemAllowlist: boolean;
  /** The CVE ids of the project's own allowlist. */
  cves: string[];
  /** The day the project's allowlist expires (YYYY-MM-DD, UTC), '' for never. */
  expiresOn: string;
}

function isTrue(value: string | undefined): boolean {
  return value === 'true';
}

/** A date (YYYY-MM-DD) from a Unix time in seconds, in UTC. */
export function dayOf(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}

/** The Unix time in seconds at which a day (YYYY-MM-DD) starts, in UTC; null when it is not a date. */
export function secondsOf(day: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
  const ms = Date.parse(`${day}T00:00:00Z`);
  return Number.isNaN(ms) ? null : ms / 1000;
}

export function securityFieldsOf(project: Project): SecurityFields {
  const metadata = project.metadata ?? { public: 'false' };
  const allowlist = project.cve_allowlist;
  const expires = allowlist?.expires_at;
  return {
    autoScan: isTrue(metadata.auto_scan),
    preventVul: isTrue(metadata.prevent_vul),
    severity: metadata.severity || 'low',
    cosign: isTrue(metadata.enable_content_trust_cosign),
    notation: isTrue(metadata.enable_content_trust),
    // Harbor's projects use the system allowlist unless told otherwise.
    reuseSystemAllowlist: metadata.reuse_sys_cve_allowlist === undefined || isTrue(metadata.reuse_sys_cve_allowlist),
    cves: (allowlist?.items ?? []).map((item) => item.cve_id),
    expiresOn: expires === null || expires === undefined ? '' : dayOf(expires),
  };
}

/**
 * The CVE ids in text a user typed (separated by commas, spaces or lines), upper-cased, without those already
 * listed; `invalid` holds what is not an id (letters, digits and dashes, up to 128 characters).
 */
export function parseCveIds(text: string, listed: readonly string[]): { ids: string[]; invalid: string[] } {
  const ids: string[] = [];
  const invalid: string[] = [];
  for (const word of text.split(/[\s,]+/).filter(Boolean)) {
    const id = word.toUpperCase();
    if (!/^[A-Z0-9][A-Z0-9._-]{0,127}$/.test(id)) invalid.push(word);
    else if (!listed.includes(id) && !ids.includes(id)) ids.push(id);
  }
  return { ids, invalid };
}

/** The PUT /projects/{id} body saving the security settings: the metadata and the project's allowlist. */
export function securityUpdate(fields: SecurityFields): ProjectUpdate {
  const flag = (value: boolean) => (value ? 'true' : 'false');
  return {
    metadata: {
      auto_scan: flag(fields.autoScan),
      prevent_vul: flag(fields.preventVul),
      severity: fields.severity as 'none' | 'low' | 'medium' | 'high' | 'critical',
      enable_content_trust_cosign: flag(fields.cosign),
      enable_content_trust: flag(fields.notation),
      reuse_sys_cve_allowlist: flag(fields.reuseSystemAllowlist),
    },
    cve_allowlist: {
      items: fields.cves.map((cve_id) => ({ cve_id })),
      expires_at: fields.expiresOn ? secondsOf(fields.expiresOn) : null,
    },
  };
}

export function sameFields(a: SecurityFields, b: SecurityFields): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
