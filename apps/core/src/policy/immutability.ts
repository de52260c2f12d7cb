import { type ChangeNoticeSource, NoticeCache } from '@wharf/db';
import { type ImmutableRuleRecord } from '../repositories/immutable-rule.repository.js';
import { repositoryNameInProject, selects } from './selector.js';

/** Where the matcher reads a project's rules from. */
export interface ImmutableRuleSource {
  rulesOfProject(projectId: number): Promise<ImmutableRuleRecord[]>;
  rulesOfProjectNamed(project: string): Promise<ImmutableRuleRecord[]>;
}

/** Subscribes to the notices of changed rules (PostgreSQL LISTEN in practice). */
export type RuleChangeSource = ChangeNoticeSource;

/** Projects whose rules are kept at most; past it the oldest is dropped. */
const MAX_PROJECTS = 10_000;

/**
 * Whether one of the rules makes `repository:tag` immutable, as Harbor matches them: an enabled rule whose repository
 * selector selects the repository (named without its project) and whose tag selector selects the tag. Harbor reads
 * the first selector of each kind; the API accepts no more.
 */
export function matchesImmutableRule(rules: readonly ImmutableRuleRecord[], repository: string, tag: string): boolean {
  const name = repositoryNameInProject(repository);
  return rules.some((rule) => {
    if (rule.disabled) return false;
    const scope = rule.scopeSelectors.repository?.[0];
    const tagSelector = rule.tagSelectors[0];
    return scope !== undefined && tagSelector !== undefined && selects(scope, name) && selects(tagSelector, tag);
  });
}

/**
 * The tag immutability rules of each project, read on every push by tag and every delete, so kept per process and
 * dropped whenever the database announces a change to any rule. While the notice channel is down nothing is kept
 * and every check asks the database; a fill that overlapped a notice is not stored.
 */
export class ImmutabilityRules {
  private readonly rules: NoticeCache<ImmutableRuleRecord[]>;

  constructor(
    private readonly source: ImmutableRuleSource,
    changes: RuleChangeSource,
  ) {
    this.rules = new NoticeCache([changes], MAX_PROJECTS);
  }

  /** Whether the tag `tag` of `repository` (its full name, with the project) is immutable in project `projectId`. */
  async isImmutable(projectId: number, repository: string, tag: string): Promise<boolean> {
    return (await this.matcher(projectId))(repository, tag);
  }

  /** The project's rules read once, for many tags: whether `repository:tag` is immutable. */
  async matcher(projectId: number): Promise<(repository: string, tag: string) => boolean> {
    const rules = await this.rules.get(`i${projectId}`, () => this.source.rulesOfProject(projectId));
    return (repository, tag) => matchesImmutableRule(rules, repository, tag);
  }

  /** Whether the tag is immutable in the project named `project`, as the registry's policy asks by name. */
  async isImmutableInProjectNamed(project: string, repository: string, tag: string): Promise<boolean> {
    const rules = await this.rules.get(`n${project}`, () => this.source.rulesOfProjectNamed(project));
    return matchesImmutableRule(rules, repository, tag);
  }

  /**
   * Drops what is kept, after a change this process made: the change notice reaches it too, but a client that
   * pushes right after changing a rule must meet the rule now.
   */
  forget(): void {
    this.rules.clear();
  }

  async close(): Promise<void> {
    await this.rules.close();
  }
}
