import { type EntityManager } from 'typeorm';

/*
 * Statistics and descriptive fields of the registry tables that reads and the portal change: pull counts and times
 * (from the pull events of the outbox) and a repository's description. They change no content, so no registry
 * policy looks at them.
 */

/** The latest pull of one manifest among a batch of events. */
export interface ManifestPull {
  repository: string;
  digest: string;
  pulledAt: Date;
}

/** The latest pull by one tag among a batch of events, and the manifest that pull got. */
export interface TagPull {
  repository: string;
  tag: string;
  digest: string;
  pulledAt: Date;
}

/** How many pulls of a repository a batch of events holds. */
export interface RepositoryPulls {
  repository: string;
  count: number;
}

/**
 * Adds pulls to the repositories' pull counts and moves the last pull times of the manifests, and of the tags
 * pulled by name, forward (never back: a late batch does not undo a newer time). A tag's time moves only while it
 * still points at the manifest that pull got. Rows are locked in id order first, so two processes delivering
 * batches that touch the same repositories wait for each other instead of deadlocking.
 */
export async function recordPulls(
  manager: EntityManager,
  repositories: readonly RepositoryPulls[],
  manifests: readonly ManifestPull[],
  tags: readonly TagPull[] = [],
): Promise<void> {
  if (repositories.length > 0) {
    const names = repositories.map((r) => r.repository);
    const counts = repositories.map((r) => r.count);
    await manager.query(
      `SELECT id FROM registry_repository WHERE name = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE`,
      [names],
    );
    await manager.query(
      `UPDATE registry_repository r SET pull_count = r.pull_count + u.count
         FROM unnest($1::text[], $2::bigint[]) AS u(name, count)
        WHERE r.name = u.name`,
      [names, counts],
    );
  }
  if (manifests.length > 0) {
    const names = manifests.map((m) => m.repository);
    const digests = manifests.map((m) => m.digest);
    const times = manifests.map((m) => m.pulledAt);
    const target = `FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(name, digest, pulled_at)
      JOIN registry_repository r ON r.name = u.name`;
    await manager.query(
      `SELECT m.id FROM registry_manifest m, (SELECT r.id AS repository_id, u.digest ${target}) t
        WHERE m.repository_id = t.repository_id AND m.digest = t.digest
        ORDER BY m.id FOR NO KEY UPDATE OF m`,
      [names, digests, times],
    );
    await manager.query(
      `UPDATE registry_manifest m SET pull_time = GREATEST(m.pull_time, t.pulled_at)
         FROM (SELECT r.id AS repository_id, u.digest, u.pulled_at ${target}) t
        WHERE m.repository_id = t.repository_id AND m.digest = t.digest`,
      [names, digests, times],
    );
  }
  if (tags.length > 0) {
    const params = [
      tags.map((t) => t.repository),
      tags.map((t) => t.tag),
      tags.map((t) => t.digest),
      tags.map((t) => t.pulledAt),
    ];
    const pulled = `SELECT t.id, u.pulled_at
        FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS u(name, tag, digest, pulled_at)
        JOIN registry_repository r ON r.name = u.name
        JOIN registry_tag t ON t.repository_id = r.id AND t.name = u.tag
        JOIN registry_manifest m ON m.id = t.manifest_id AND m.digest = u.digest`;
    await manager.query(
      `SELECT t.id FROM registry_tag t WHERE t.id IN (SELECT id FROM (${pulled}) p) ORDER BY t.id FOR NO KEY UPDATE`,
      params,
    );
    await manager.query(
      `UPDATE registry_tag t SET pull_time = GREATEST(t.pull_time, p.pulled_at) FROM (${pulled}) p WHERE t.id = p.id`,
      params,
    );
  }
}

/** Sets a repository's description. False when there is no such repository. */
export async function setRepositoryDescription(
  manager: EntityManager,
  repositoryId: number,
  description: string,
): Promise<boolean> {
  const rows = await manager.query<[unknown[], number]>(
    `UPDATE registry_repository SET description = $2, updated_at = now() WHERE id = $1 RETURNING id`,
    [repositoryId, description],
  );
  return (rows[0]?.length ?? 0) > 0;
}
