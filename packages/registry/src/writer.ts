import {
  type ManifestPull,
  type RegistryRepository,
  type RepositoryPulls,
  type StoredArtifact,
  type TagPull,
  recordPulls,
  setRepositoryDescription,
} from '@wharf/db';
import { conventionAccessory, cosignTagSubject } from '@wharf/oci';
import { type EntityManager } from 'typeorm';
import {
  type BlobCommitContext,
  type ManifestDeleteContext,
  type ManifestGetContext,
  type ManifestPutContext,
  type RegistryPolicy,
  type TagChangeContext,
} from './types.js';

/** The policies of whoever mounts the engine, run in their order; the first refusal ends the change. */
export class PolicyChain {
  private readonly policies: readonly RegistryPolicy[];

  constructor(policies: readonly RegistryPolicy[] = []) {
    this.policies = [...policies];
  }

  /** Whether a policy looks at tag changes: without one, a push by tag need not read the tag it moves. */
  get watchesTags(): boolean {
    return this.policies.some((p) => p.beforeTagChange !== undefined);
  }

  async beforeBlobCommit(context: BlobCommitContext): Promise<void> {
    for (const policy of this.policies) await policy.beforeBlobCommit?.(context);
  }

  async beforeManifestPut(context: ManifestPutContext): Promise<void> {
    for (const policy of this.policies) await policy.beforeManifestPut?.(context);
  }

  async beforeTagChange(context: TagChangeContext): Promise<void> {
    for (const policy of this.policies) await policy.beforeTagChange?.(context);
  }

  async beforeManifestDelete(context: ManifestDeleteContext): Promise<void> {
    for (const policy of this.policies) await policy.beforeManifestDelete?.(context);
  }

  /** Whether a policy guards manifest reads: without one, serving a manifest asks nothing more. */
  get guardsReads(): boolean {
    return this.policies.some((p) => p.beforeManifestGet !== undefined);
  }

  async beforeManifestGet(context: ManifestGetContext): Promise<void> {
    for (const policy of this.policies) await policy.beforeManifestGet?.(context);
  }
}

export interface WriteOptions {
  /** Who makes the change, as the events record it. */
  actor?: string;
  /** A transaction of the caller's to commit the change with (such as its audit record); else one of its own. */
  manager?: EntityManager;
}

export type ArtifactDeleteOutcome =
  | { deleted: true }
  | { deleted: false; reason: 'not-found' }
  /** An index lists the artifact: the index is what can be deleted. */
  | { deleted: false; reason: 'referenced'; parent: string };

export type TagCreateOutcome = 'created' | 'exists' | 'not-found';

export interface CopyOutcome {
  digest: string;
  /** The source artifact's tags, now also the copy's. */
  tags: string[];
}

/**
 * Every change to artifacts and tags: the deletes of /v2, and the API's deletes, tags and copies, each running the
 * policy chain before it writes, in one transaction, so a refusal changes nothing; a push by tag asks the same chain
 * through beforeTagMove. So a rule holds on /v2 and /api/v2.0 alike.
 */
export class RegistryWriter {
  readonly policies: PolicyChain;

  constructor(
    private readonly repository: RegistryRepository,
    policies: PolicyChain | readonly RegistryPolicy[] = [],
  ) {
    this.policies = policies instanceof PolicyChain ? policies : new PolicyChain(policies);
  }

  private run<T>(options: WriteOptions, work: (m: EntityManager) => Promise<T>): Promise<T> {
    return options.manager ? work(options.manager) : this.repository.transaction(work);
  }

  /**
   * The check a push by tag runs, in its transaction, before it moves an existing tag (or repeats it); none when no
   * policy looks at tags.
   */
  beforeTagMove(
    repository: string,
    tag: string,
    digest: string,
    actor?: string,
  ): ((currentDigest: string) => Promise<void>) | undefined {
    if (!this.policies.watchesTags) return undefined;
    return (current) =>
      this.policies.beforeTagChange({
        repository,
        tag,
        change: 'overwrite',
        digest: current,
        newDigest: digest,
        actor,
      });
  }

  /**
   * Deletes one manifest and the tags pointing at it, as /v2 does, with its accessories (signatures, SBOMs: the
   * manifests whose subject it is, and theirs), which would otherwise stay behind describing nothing, as Harbor's
   * delete takes them too. An index's children stay. False when the repository does not hold it.
   */
  async deleteManifest(repository: string, digest: string, options: WriteOptions = {}): Promise<boolean> {
    return this.run(options, async (m) => {
      const artifact = await this.repository.lockManifest(repository, digest, m);
      if (!artifact) return false;
      await this.deleteWithAccessories(repository, artifact, options.actor, m);
      return true;
    });
  }

  /**
   * Deletes an artifact as Harbor does: with its tags, its accessories (manifests whose subject it is, and theirs),
   * and the children of an index that no tag and no other index still hold. An artifact an index lists is not
   * deleted on its own.
   */
  async deleteArtifact(repository: string, digest: string, options: WriteOptions = {}): Promise<ArtifactDeleteOutcome> {
    return this.run(options, async (m) => {
      const root = await this.repository.lockManifest(repository, digest, m);
      if (!root) return { deleted: false, reason: 'not-found' };
      const parents = await this.repository.parentDigests(repository, digest, m);
      if (parents.length > 0) return { deleted: false, reason: 'referenced', parent: parents[0] };
      await this.deleteDeeply(repository, root, options.actor, m);
      return { deleted: true };
    });
  }

  /** Deletes a tag; the manifest stays. With `digest`, only a tag pointing at it. False when there is none. */
  async deleteTag(repository: string, tag: string, options: WriteOptions & { digest?: string } = {}): Promise<boolean> {
    return this.run(options, async (m) => {
      const current = await this.repository.tagTarget(repository, tag, m);
      if (current === null || (options.digest !== undefined && current !== options.digest)) return false;
      await this.policies.beforeTagChange({ repository, tag, change: 'delete', digest: current, actor: options.actor });
      return this.repository.deleteTag(repository, tag, options.actor, m);
    });
  }

  /**
   * Adds a tag to a stored manifest; a tag of that name already in the repository is left where it points. A tag of
   * cosign's convention (`sha256-<hex>.sig`, …) makes the manifest an accessory of the one it names, as a push under
   * that tag does.
   */
  async createTag(
    repository: string,
    tag: string,
    digest: string,
    options: WriteOptions = {},
  ): Promise<TagCreateOutcome> {
    return this.run(options, async (m) => {
      if (await this.repository.createTag(repository, tag, digest, m)) {
        if (cosignTagSubject(tag)) await this.attachByTag(repository, tag, digest, m);
        return 'created';
      }
      return (await this.repository.tagTarget(repository, tag, m)) === null ? 'not-found' : 'exists';
    });
  }

  private async attachByTag(repository: string, tag: string, digest: string, m: EntityManager): Promise<void> {
    const artifact = await this.repository.lockManifest(repository, digest, m);
    if (!artifact || artifact.accessory) return;
    const layers = artifact.references.filter((r) => r.kind === 'layer').map((r) => r.mediaType);
    const accessory = conventionAccessory(tag, digest, layers);
    if (accessory) await this.repository.attachAccessory(repository, digest, accessory, m);
  }

  /**
   * Copies an artifact into another repository without moving bytes, as Harbor's copy does: the blobs it references
   * are linked into the target, its manifest rows are stored there with an index's children and the accessories,
   * and the target gets the source artifact's tags (a tag there pointing elsewhere is moved, if the policies allow).
   * Each manifest new to the target is a push event. Null when the source does not hold the artifact.
   */
  async copyArtifact(
    from: { repository: string; digest: string },
    to: string,
    options: WriteOptions = {},
  ): Promise<CopyOutcome | null> {
    return this.run(options, async (m) => {
      const root = await this.repository.lockManifest(from.repository, from.digest, m);
      if (!root) return null;
      const { actor } = options;
      const moves: string[] = [];
      for (const tag of root.tags) {
        const current = await this.repository.tagTarget(to, tag, m);
        if (current === root.digest) continue;
        if (current !== null) {
          await this.policies.beforeTagChange({
            repository: to,
            tag,
            change: 'overwrite',
            digest: current,
            newDigest: root.digest,
            actor,
          });
        }
        moves.push(tag);
      }
      const [first, ...others] = moves;
      const stored = await this.copyDeeply(from.repository, root, to, first, actor, m, new Set());
      for (const tag of stored ? others : moves) await this.repository.pointTag(to, tag, root.digest, actor, m);
      return { digest: root.digest, tags: root.tags };
    });
  }

  /**
   * Adds a batch of pulls to the repositories' pull counts and moves the last pull times of manifests and tags forward.
   * Statistics only: no policy looks at them.
   */
  async recordPulls(
    pulls: { repositories: readonly RepositoryPulls[]; manifests: readonly ManifestPull[]; tags: readonly TagPull[] },
    options: WriteOptions = {},
  ): Promise<void> {
    if (pulls.repositories.length + pulls.manifests.length + pulls.tags.length === 0) return;
    await this.run(options, (m) => recordPulls(m, pulls.repositories, pulls.manifests, pulls.tags));
  }

  /** Sets a repository's description, which no policy looks at. False when there is no such repository. */
  async setDescription(repositoryId: number, description: string, options: WriteOptions = {}): Promise<boolean> {
    return this.run(options, (m) => setRepositoryDescription(m, repositoryId, description));
  }

  /**
   * Deletes a repository with its manifests and tags (its blobs stay for garbage collection), once the policies
   * have allowed every tag and manifest it takes. False when the repository does not exist.
   */
  async deleteRepository(repository: string, options: WriteOptions = {}): Promise<boolean> {
    return this.run(options, async (m) => {
      const manifests = await this.repository.repositoryManifests(repository, m);
      for (const { digest, tags } of manifests) await this.check(repository, digest, tags, options.actor);
      return this.repository.deleteRepository(repository, options.actor, m);
    });
  }

  private async check(repository: string, digest: string, tags: string[], actor?: string): Promise<void> {
    for (const tag of tags) await this.policies.beforeTagChange({ repository, tag, change: 'delete', digest, actor });
    await this.policies.beforeManifestDelete({ repository, digest, tags, actor });
  }

  private async deleteOne(repository: string, artifact: StoredArtifact, actor: string | undefined, m: EntityManager) {
    await this.check(repository, artifact.digest, artifact.tags, actor);
    await this.repository.deleteManifest(repository, artifact.digest, actor, m);
  }

  private async deleteWithAccessories(
    repository: string,
    artifact: StoredArtifact,
    actor: string | undefined,
    m: EntityManager,
  ): Promise<void> {
    const accessories = await this.repository.accessoryDigests(repository, artifact.digest, m);
    await this.deleteOne(repository, artifact, actor, m);
    for (const digest of accessories) {
      const accessory = await this.repository.lockManifest(repository, digest, m);
      if (accessory) await this.deleteWithAccessories(repository, accessory, actor, m);
    }
  }

  private async deleteDeeply(
    repository: string,
    artifact: StoredArtifact,
    actor: string | undefined,
    m: EntityManager,
  ): Promise<void> {
    const accessories = await this.repository.accessoryDigests(repository, artifact.digest, m);
    const children = [...new Set(artifact.references.filter((r) => r.kind === 'manifest').map((r) => r.digest))];
    await this.deleteOne(repository, artifact, actor, m);
    for (const digest of accessories) {
      const accessory = await this.repository.lockManifest(repository, digest, m);
      if (accessory) await this.deleteDeeply(repository, accessory, actor, m);
    }
    for (const digest of children) {
      const child = await this.repository.lockManifest(repository, digest, m);
      if (!child || child.tags.length > 0) continue;
      if ((await this.repository.parentDigests(repository, digest, m)).length > 0) continue;
      await this.deleteDeeply(repository, child, actor, m);
    }
  }

  /**
   * Stores `artifact` in `to` after the children it lists, then its accessories, each with the tags of cosign's
   * convention that attach it to its subject (by which cosign finds signatures), unless the target has such a tag
   * already. True when the artifact itself was new there (and got `tag`); a child or accessory the target already
   * holds is left as it is.
   */
  private async copyDeeply(
    from: string,
    artifact: StoredArtifact,
    to: string,
    tag: string | undefined,
    actor: string | undefined,
    m: EntityManager,
    seen: Set<string>,
  ): Promise<boolean> {
    seen.add(artifact.digest);
    for (const reference of artifact.references) {
      if (reference.kind !== 'manifest' || seen.has(reference.digest)) continue;
      const child = await this.repository.lockManifest(from, reference.digest, m);
      if (child) await this.copyDeeply(from, child, to, undefined, actor, m, seen);
    }
    const stored = await this.repository.copyManifest(to, artifact, tag, actor, m);
    for (const digest of await this.repository.accessoryDigests(from, artifact.digest, m)) {
      if (seen.has(digest)) continue;
      const accessory = await this.repository.lockManifest(from, digest, m);
      if (!accessory) continue;
      await this.copyDeeply(from, accessory, to, undefined, actor, m, seen);
      for (const name of accessory.tags) {
        if (cosignTagSubject(name)?.subject === artifact.digest) await this.repository.createTag(to, name, digest, m);
      }
    }
    return stored;
  }
}
