/** Harbor's project role ids (`role_id`), most privileged first, with the names its portal shows. */
export const PROJECT_ROLES = [
  { id: 1, label: 'Project Admin' },
  { id: 4, label: 'Maintainer' },
  { id: 2, label: 'Developer' },
  { id: 3, label: 'Guest' },
  { id: 5, label: 'Limited Guest' },
] as const;

export type ProjectRoleId = (typeof PROJECT_ROLES)[number]['id'];

/** The name of a role id, or "No role" for none / an unknown id. */
export function roleLabel(id: number | null | undefined): string {
  return PROJECT_ROLES.find((role) => role.id === id)?.label ?? 'No role';
}
