import { OciError, OciErrorCode } from '@wharf/oci';
import { type BlobCommitContext, type ManifestPutContext, type RegistryPolicy } from '@wharf/registry';
import { type RegistryProjectRepository, type StoredItem } from './registry-project.repository.js';
import { quotaExceededMessage } from '@wharf/db';

/** The project a repository belongs to: the first segment of its name; a single-segment name is in none. */
export function projectOfRepository(repository: string): string | undefined {
  const slash = repository.indexOf('/');
  return slash > 0 ? repository.slice(0, slash) : undefined;
}

/** Harbor's answer to a push outside any existing project: the registry does not know the name. */
export function unknownProjectError(repository: string): OciError {
  const project = projectOfRepository(repository);
  const message =
    project === undefined
      ? `repository ${repository} is not in a project: name it <project>/<repository>`
      : `project ${project} not found`;
  return new OciError(OciErrorCode.NAME_UNKNOWN, message, { name: repository });
}

/**
 * The items whose sizes a manifest adds to its project's usage, exactly as the database's usage triggers count
 * them: the manifest itself, its config and its layers (each digest once). An index counts only itself: its
 * children are manifests of their own, counted when they were pushed.
 */
export function manifestItems(context: ManifestPutContext): StoredItem[] {
  const items = new Map<string, number>([[context.digest, context.size]]);
  const { config, layers } = context.manifest;
  for (const descriptor of config ? [config, ...layers] : layers) {
    if (!items.has(descriptor.digest)) items.set(descriptor.digest, descriptor.size);
  }
  return [...items].map(([digest, size]) => ({ digest, size }));
}

/**
 * Two rules on every push, checked before anything is stored: the project named by the repository's first segment
 * must exist, and the push must not take the project past its storage limit. A blob counts when it is new to the
 * project; a manifest adds itself and whatever of its config and layers the project does not hold yet. A refused
 * push stores nothing, so the project's usage (kept by triggers on what is stored) does not move.
 */
export class ProjectQuotaPolicy implements RegistryPolicy {
  readonly name = 'project-quota';

  constructor(private readonly projects: RegistryProjectRepository) {}

  async beforeBlobCommit(context: BlobCommitContext): Promise<void> {
    await this.check(context.repository, [{ digest: context.digest, size: context.size }]);
  }

  async beforeManifestPut(context: ManifestPutContext): Promise<void> {
    await this.check(context.repository, manifestItems(context));
  }

  private async check(repository: string, items: StoredItem[]): Promise<void> {
    const project = projectOfRepository(repository);
    if (project === undefined) throw unknownProjectError(repository);
    const usage = await this.projects.usage(project, items);
    if (!usage.found) throw unknownProjectError(repository);
    if (!usage.limited || usage.adding === 0) return;
    if (usage.used + usage.adding > usage.hard) {
      throw new OciError(OciErrorCode.DENIED, quotaExceededMessage(usage.adding, usage.used, usage.hard));
    }
  }
}
