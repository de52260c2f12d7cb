import { OciError, OciErrorCode } from '@wharf/oci';
import { type RegistryPolicy, type TagChangeContext } from '@wharf/registry';
import { projectOfRepository } from '../registry/project-quota.policy.js';
import { type ImmutabilityRules } from './immutability.js';
import { repositoryNameInProject } from './selector.js';

/** Harbor's words for a change refused by an immutable tag; its repository is named without the project. */
export function immutableTagMessage(repository: string, tag: string): string {
  return `Failed to process request due to '${repositoryNameInProject(repository)}:${tag}' configured as immutable.`;
}

/**
 * Harbor's tag immutability: a tag that one of its project's rules makes immutable is never moved (a push or a copy
 * onto it, even of the same digest, as Harbor refuses a repeated push) nor deleted (by itself, or with its artifact
 * or repository), on /v2 and through the API alike. A new tag of that name is pushed freely. Refused with 412, as
 * Harbor answers, in the registry's error format on /v2 (DENIED) and as PRECONDITION on the API.
 */
export class ImmutabilityPolicy implements RegistryPolicy {
  readonly name = 'immutability';

  constructor(private readonly rules: ImmutabilityRules) {}

  async beforeTagChange(context: TagChangeContext): Promise<void> {
    const project = projectOfRepository(context.repository);
    if (project === undefined) return;
    if (await this.rules.isImmutableInProjectNamed(project, context.repository, context.tag)) {
      throw new OciError(OciErrorCode.DENIED, immutableTagMessage(context.repository, context.tag), undefined, 412);
    }
  }
}
