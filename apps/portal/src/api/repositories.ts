/** A repository's name inside its project: `shop/team/api` in project `shop` → `team/api`. */
export function repositoryInnerName(projectName: string, fullName: string): string {
  const prefix = `${projectName}/`;
  return fullName.startsWith(prefix) ? fullName.slice(prefix.length) : fullName;
}

/** The portal address of a repository (the name inside the project is one path segment, URL-encoded). */
export function repositoryPath(projectId: number, innerName: string): string {
  return `/projects/${projectId}/repositories/${encodeURIComponent(innerName)}`;
}

/** The portal address of one artifact of a repository. */
export function artifactPath(projectId: number, innerName: string, digest: string): string {
  return `${repositoryPath(projectId, innerName)}/artifacts/${encodeURIComponent(digest)}`;
}
