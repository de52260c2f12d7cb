import { Inject, Injectable } from '@nestjs/common';
import { type RetentionRuleOutDto } from '../dtos/retention.dto.js';
import { ApiError } from '../errors/api-error.js';
import {
  type RetentionCandidate,
  type RetentionRuleSpec,
  type RetentionTemplate,
  type TagSelector,
  defaultUntagged,
  retainedDigests,
  ruleSelectsRepository,
} from '../policy/retention-rules.js';
import { type Selector } from '../policy/selector.js';
import {
  type RetentionPolicyRecord,
  type RetentionRepositoryRef,
  RetentionRepository,
} from '../repositories/retention.repository.js';
import { ArtifactService } from './artifact.service.js';

/** The name the audit log records for deletions that retention makes. */
export const RETENTION_ACTOR = 'tag-retention';

/** Removes an artifact, with its tags, the way every delete of the registry goes. */
export interface RetentionDeleter {
  deleteArtifact(repository: string, digest: string): Promise<void>;
}

/** Whether a tag is protected by a tag immutability rule of its project. */
export interface ImmutabilityCheck {
  isImmutable(projectId: number, repository: string, tag: string): Promise<boolean> | boolean;
}

export const RETENTION_DELETER = Symbol('wharf.retentionDeleter');
export const IMMUTABILITY_CHECK = Symbol('wharf.immutabilityCheck');

/** Deletes through ArtifactService, as `DELETE …/artifacts/{digest}` does: accessories and orphaned children too. */
@Injectable()
export class ArtifactRetentionDeleter implements RetentionDeleter {
  constructor(private readonly artifacts: ArtifactService) {}

  async deleteArtifact(repository: string, digest: string): Promise<void> {
    const slash = repository.indexOf('/');
    const projectName = repository.slice(0, slash);
    // The delete path reads the project's name and the actor's name; permissions were checked when the run began.
    await this.artifacts.delete(
      { principal: { kind: 'user', userId: 0, username: RETENTION_ACTOR, sysadmin: false } },
      { projectId: 0, name: projectName, public: false, ownerId: null },
      { project_name: projectName, repository_name: repository.slice(slash + 1), reference: { digest } },
    );
  }
}

export interface RetentionRunOptions {
  /** Work out what would be removed, and remove nothing. */
  dryRun: boolean;
  /** Receives each line of every repository's log as it is written (a task's log, say); awaited. */
  log?: (line: string) => unknown;
  /** Stops the run between artifacts; what was removed stays removed. */
  signal?: AbortSignal;
  /** The time the day-based rules count back from; now unless given. */
  now?: Date;
}

/** What retention decided for one artifact. */
export type RetentionOutcome = 'RETAIN' | 'DEL' | 'IMMUTABLE' | 'ERR';

export interface RetentionDecision extends RetentionCandidate {
  outcome: RetentionOutcome;
  error?: string;
}

/** One repository's run: Harbor's task `total` and `retained`, the decisions and the log. */
export interface RepositoryRetentionResult {
  repository: string;
  total: number;
  /** Candidates still there: total less those removed (or, in a dry run, those that would be). */
  retained: number;
  decisions: RetentionDecision[];
  log: string;
}

export class RetentionStoppedError extends Error {
  constructor() {
    super('the retention run was stopped');
    this.name = 'RetentionStoppedError';
  }
}

function selectorOf(stored: { kind: string; decoration: string; pattern: string }): Selector {
  return { kind: 'doublestar', decoration: stored.decoration as Selector['decoration'], pattern: stored.pattern };
}

function untaggedOf(decoration: TagSelector['decoration'], extras: string | undefined): boolean {
  if (!extras) return defaultUntagged(decoration);
  const parsed = JSON.parse(extras) as { untagged?: boolean };
  return parsed.untagged ?? defaultUntagged(decoration);
}

/** A stored rule as the engine evaluates it; the API validated it before it was stored. */
export function ruleSpec(rule: RetentionRuleOutDto): RetentionRuleSpec {
  const template = rule.template as RetentionTemplate;
  const param = rule.params[template];
  return {
    template,
    ...(typeof param === 'number' ? { param } : {}),
    disabled: rule.disabled,
    tagSelectors: rule.tag_selectors.map((s) => {
      const decoration = s.decoration as TagSelector['decoration'];
      return { decoration, pattern: s.pattern, untagged: untaggedOf(decoration, s.extras) };
    }),
    repositorySelectors: (rule.scope_selectors.repository ?? []).map(selectorOf),
  };
}

function formatTime(time: Date | null): string {
  return time
    ? time
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z')
    : '';
}

/** A table of the decisions, one row per artifact, as Harbor's retention task log shows them. */
function table(decisions: readonly RetentionDecision[]): string[] {
  const header = ['Digest', 'Tag', 'PushedTime', 'PulledTime', 'Retention'];
  const rows = decisions.map((d) => [
    d.digest,
    d.tags.join(','),
    formatTime(d.pushedAt),
    formatTime(d.pulledAt),
    d.outcome,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)];
}

/**
 * Runs a retention policy: in every repository of its project that one of its enabled rules selects, retains the
 * artifacts that any rule retains and removes the others, except those with an immutable tag. A dry run decides
 * the same and removes nothing.
 */
@Injectable()
export class RetentionEngine {
  constructor(
    private readonly repository: RetentionRepository,
    @Inject(RETENTION_DELETER) private readonly deleter: RetentionDeleter,
    @Inject(IMMUTABILITY_CHECK) private readonly immutability: ImmutabilityCheck,
  ) {}

  /** The repositories the policy's enabled rules select, by full name: one unit of work each. */
  async repositoriesInScope(policy: RetentionPolicyRecord): Promise<RetentionRepositoryRef[]> {
    const rules = policy.rules.map(ruleSpec);
    const all = await this.repository.repositoriesOf(policy.projectId);
    return all.filter((repo) => rules.some((rule) => ruleSelectsRepository(rule, repo.name)));
  }

  /** Runs the policy over every repository in its scope, one after the other. */
  async run(policy: RetentionPolicyRecord, options: RetentionRunOptions): Promise<RepositoryRetentionResult[]> {
    const results: RepositoryRetentionResult[] = [];
    for (const repo of await this.repositoriesInScope(policy)) {
      results.push(await this.runRepository(policy, repo, options));
    }
    return results;
  }

  /** Runs the policy's rules that select the repository over its artifacts. */
  async runRepository(
    policy: RetentionPolicyRecord,
    repo: RetentionRepositoryRef,
    options: RetentionRunOptions,
  ): Promise<RepositoryRetentionResult> {
    const lines: string[] = [];
    const log = async (line: string) => {
      lines.push(line);
      await options.log?.(line);
    };
    const stopIfAsked = async () => {
      if (options.signal?.aborted) {
        await log('Retention job is stopped');
        throw new RetentionStoppedError();
      }
    };
    await log(
      `Run retention process. Repository: ${repo.name} Rule algorithm: ${policy.algorithm} Dry run: ${options.dryRun}`,
    );
    await stopIfAsked();
    const rules = policy.rules.map(ruleSpec).filter((rule) => ruleSelectsRepository(rule, repo.name));
    const candidates = await this.repository.candidates(repo.id);
    await log(`Load ${candidates.length} candidates from repository ${repo.name}`);
    const retained = retainedDigests(rules, candidates, options.now ?? new Date());

    const decisions: RetentionDecision[] = [];
    for (const candidate of candidates) {
      if (retained.has(candidate.digest)) {
        decisions.push({ ...candidate, outcome: 'RETAIN' });
      } else if (await this.isImmutable(policy.projectId, repo.name, candidate.tags)) {
        decisions.push({ ...candidate, outcome: 'IMMUTABLE' });
      } else if (options.dryRun) {
        decisions.push({ ...candidate, outcome: 'DEL' });
      } else {
        await stopIfAsked();
        decisions.push(await this.remove(repo, candidate));
      }
    }
    const removed = decisions.filter((d) => d.outcome === 'DEL').length;
    for (const line of table(decisions)) await log(line);
    for (const d of decisions) {
      if (d.error) await log(`Retention error for artifact ${repo.name}@${d.digest}: ${d.error}`);
    }
    return {
      repository: repo.name,
      total: candidates.length,
      retained: candidates.length - removed,
      decisions,
      log: `${lines.join('\n')}\n`,
    };
  }

  /** An artifact is immutable when one of its tags is. */
  private async isImmutable(projectId: number, repository: string, tags: readonly string[]): Promise<boolean> {
    for (const tag of tags) {
      if (await this.immutability.isImmutable(projectId, repository, tag)) return true;
    }
    return false;
  }

  private async remove(repo: RetentionRepositoryRef, candidate: RetentionCandidate): Promise<RetentionDecision> {
    // A tag pushed onto the artifact since the candidates were read was not judged: the artifact stays.
    const tags = await this.repository.tagsOf(repo.id, candidate.digest);
    if (tags.join(',') !== candidate.tags.join(',')) {
      return {
        ...candidate,
        outcome: 'ERR',
        error: `its tags changed during the run (now ${tags.join(',') || 'none'})`,
      };
    }
    try {
      await this.deleter.deleteArtifact(repo.name, candidate.digest);
      return { ...candidate, outcome: 'DEL' };
    } catch (error) {
      // Already gone (deleted meanwhile) is what retention wanted; anything else keeps the artifact.
      if (error instanceof ApiError && error.status === 404) return { ...candidate, outcome: 'DEL' };
      return { ...candidate, outcome: 'ERR', error: (error as Error).message };
    }
  }
}
