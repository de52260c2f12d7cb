import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { COSIGN_SIMPLESIGNING_MEDIA_TYPE } from '@wharf/oci';
import { type RetentionRuleOutDto } from '../dtos/retention.dto.js';
import { type RetentionPolicyRecord, RetentionRepository } from '../repositories/retention.repository.js';
import { type ArtifactFixtures, type Pushed, artifactFixtures } from '../testing/artifact-fixtures.js';
import { type TestCore, startTestCore } from '../testing/test-core.js';
import {
  type ImmutabilityCheck,
  RETENTION_DELETER,
  type RepositoryRetentionResult,
  RetentionEngine,
  type RetentionDeleter,
  RetentionStoppedError,
} from './retention-engine.service.js';

// A real server's services and PostgreSQL; no HTTP.
jest.setTimeout(60_000);

const NOW = new Date('2030-06-30T12:00:00Z');
const daysAgo = (n: number) => new Date(NOW.getTime() - n * 24 * 3_600_000);

type TagSelectorSpec = { decoration: 'matches' | 'excludes'; pattern: string; extras?: string };

function rule(
  template: string,
  param: number | undefined,
  tags: TagSelectorSpec[],
  repositories: { decoration: 'repoMatches' | 'repoExcludes'; pattern: string }[] = [],
  disabled = false,
): RetentionRuleOutDto {
  return {
    id: 1,
    priority: 0,
    disabled,
    action: 'retain',
    template,
    params: param === undefined ? {} : { [template]: param },
    tag_selectors: tags.map((t) => ({ kind: 'doublestar', ...t })),
    scope_selectors: { repository: repositories.map((r) => ({ kind: 'doublestar', ...r })) },
  };
}

describe('the retention engine against PostgreSQL', () => {
  let core: TestCore;
  let fx: ArtifactFixtures;
  let engine: RetentionEngine;
  let policies: RetentionRepository;
  let counter = 0;

  function policyOf(projectId: number, rules: RetentionRuleOutDto[]): RetentionPolicyRecord {
    return { id: 1, projectId, algorithm: 'or', rules, trigger: { kind: 'Schedule', settings: { cron: '' } } };
  }

  async function project(): Promise<{ projectId: number; name: string }> {
    return fx.project(`retain-${++counter}`);
  }

  /** Pushes an image with its tags, pushed `pushedDaysAgo` days before NOW. */
  async function image(repository: string, tags: string[], pushedDaysAgo: number): Promise<Pushed> {
    const pushed = await fx.image(repository, tags[0] ? { tag: tags[0] } : {});
    for (const tag of tags.slice(1)) await fx.registry.createTag(repository, tag, pushed.digest);
    await fx.dataSource.query(
      `UPDATE registry_manifest SET created_at = $2 WHERE digest = $1 AND repository_id =
         (SELECT id FROM registry_repository WHERE name = $3)`,
      [pushed.digest, daysAgo(pushedDaysAgo), repository],
    );
    await fx.dataSource.query(
      `UPDATE registry_tag SET updated_at = $2 WHERE repository_id = (SELECT id FROM registry_repository WHERE name = $1)
         AND name = ANY($3::text[])`,
      [repository, daysAgo(pushedDaysAgo), tags],
    );
    return pushed;
  }

  async function tagsIn(repository: string): Promise<Record<string, string[]>> {
    const rows = await fx.dataSource.query<{ digest: string; tags: string[] }[]>(
      `SELECT m.digest, COALESCE(array_agg(t.name ORDER BY t.name) FILTER (WHERE t.name IS NOT NULL), '{}') AS tags
         FROM registry_manifest m JOIN registry_repository r ON r.id = m.repository_id
         LEFT JOIN registry_tag t ON t.manifest_id = m.id
        WHERE r.name = $1 GROUP BY m.digest`,
      [repository],
    );
    return Object.fromEntries(rows.map((row) => [row.digest, row.tags]));
  }

  function outcomes(result: RepositoryRetentionResult): Record<string, string> {
    return Object.fromEntries(result.decisions.map((d) => [d.digest, d.outcome]));
  }

  beforeAll(async () => {
    core = await startTestCore();
    fx = artifactFixtures(core);
    engine = core.server.app.get(RetentionEngine);
    policies = core.server.app.get(RetentionRepository);
  });

  afterAll(async () => {
    await core.close();
  });

  it('treats an artifact with several tags as one candidate: a retained tag keeps the digest and all its tags', async () => {
    const p = await project();
    const repo = `${p.name}/app`;
    const shared = await image(repo, ['release-1', 'tmp-1'], 30);
    const tmp = await image(repo, ['tmp-2'], 1);
    const policy = policyOf(p.projectId, [
      rule('always', undefined, [{ decoration: 'matches', pattern: 'release-*' }]),
    ]);

    const [result] = await engine.run(policy, { dryRun: false, now: NOW });
    expect(result).toMatchObject({ repository: repo, total: 2, retained: 1 });
    expect(outcomes(result)).toEqual({ [shared.digest]: 'RETAIN', [tmp.digest]: 'DEL' });
    expect(await tagsIn(repo)).toEqual({ [shared.digest]: ['release-1', 'tmp-1'] });
  });

  it('removes an artifact with all its tags when none of them is retained', async () => {
    const p = await project();
    const repo = `${p.name}/app`;
    const keep = await image(repo, ['v2'], 1);
    const gone = await image(repo, ['v1', 'stable'], 2);
    // Excluding v* still selects the older artifact through its tag `stable`, which latestPushedK=1 then drops.
    const policy = policyOf(p.projectId, [rule('latestPushedK', 1, [{ decoration: 'excludes', pattern: 'v1' }])]);
    const [result] = await engine.run(policy, { dryRun: false, now: NOW });
    expect(outcomes(result)).toEqual({ [keep.digest]: 'RETAIN', [gone.digest]: 'DEL' });
    expect(await tagsIn(repo)).toEqual({ [keep.digest]: ['v2'] });
  });

  it('counts an artifact as pushed when its latest tag was', async () => {
    const p = await project();
    const repo = `${p.name}/app`;
    const retagged = await image(repo, ['old'], 50);
    const newer = await image(repo, ['new'], 5);
    await fx.registry.createTag(repo, 'moved', retagged.digest);
    await fx.dataSource.query(
      `UPDATE registry_tag SET updated_at = $2 WHERE name = 'moved' AND manifest_id =
      (SELECT id FROM registry_manifest WHERE digest = $1 LIMIT 1)`,
      [retagged.digest, daysAgo(1)],
    );
    const policy = policyOf(p.projectId, [rule('latestPushedK', 1, [{ decoration: 'matches', pattern: '**' }])]);
    const [result] = await engine.run(policy, { dryRun: true, now: NOW });
    expect(outcomes(result)).toEqual({ [retagged.digest]: 'RETAIN', [newer.digest]: 'DEL' });
  });

  it('counts pulls of the artifact and of its tags for the pull-based templates', async () => {
    const p = await project();
    const repo = `${p.name}/app`;
    const byTag = await image(repo, ['a'], 40);
    const byDigest = await image(repo, ['b'], 40);
    const never = await image(repo, ['c'], 1);
    await fx.dataSource.query(
      `UPDATE registry_tag SET pull_time = $1 WHERE name = 'a' AND manifest_id =
      (SELECT id FROM registry_manifest WHERE digest = $2 LIMIT 1)`,
      [daysAgo(2), byTag.digest],
    );
    await fx.dataSource.query(`UPDATE registry_manifest SET pull_time = $1 WHERE digest = $2`, [
      daysAgo(10),
      byDigest.digest,
    ]);

    const within = policyOf(p.projectId, [rule('nDaysSinceLastPull', 5, [{ decoration: 'matches', pattern: '**' }])]);
    expect(outcomes((await engine.run(within, { dryRun: true, now: NOW }))[0])).toEqual({
      [byTag.digest]: 'RETAIN',
      [byDigest.digest]: 'DEL',
      [never.digest]: 'DEL',
    });
    const latest = policyOf(p.projectId, [rule('latestPulledN', 2, [{ decoration: 'matches', pattern: '**' }])]);
    expect(outcomes((await engine.run(latest, { dryRun: true, now: NOW }))[0])).toEqual({
      [byTag.digest]: 'RETAIN',
      [byDigest.digest]: 'RETAIN',
      [never.digest]: 'DEL',
    });
    const pushed = policyOf(p.projectId, [rule('nDaysSinceLastPush', 7, [{ decoration: 'matches', pattern: '**' }])]);
    expect(outcomes((await engine.run(pushed, { dryRun: true, now: NOW }))[0])).toEqual({
      [byTag.digest]: 'DEL',
      [byDigest.digest]: 'DEL',
      [never.digest]: 'RETAIN',
    });
  });

  it('keeps or drops untagged artifacts as the selector extras say', async () => {
    const p = await project();
    const repo = `${p.name}/app`;
    const untagged = await image(repo, [], 1);
    const tagged = await image(repo, ['v1'], 1);
    const run = async (selector: TagSelectorSpec) =>
      outcomes(
        (
          await engine.run(policyOf(p.projectId, [rule('always', undefined, [selector])]), { dryRun: true, now: NOW })
        )[0],
      );

    // Without extras, `matches` keeps untagged artifacts and `excludes` leaves them in its selection.
    expect(await run({ decoration: 'matches', pattern: '**' })).toEqual({
      [untagged.digest]: 'RETAIN',
      [tagged.digest]: 'RETAIN',
    });
    expect(await run({ decoration: 'matches', pattern: '**', extras: '{"untagged":false}' })).toEqual({
      [untagged.digest]: 'DEL',
      [tagged.digest]: 'RETAIN',
    });
    expect(await run({ decoration: 'excludes', pattern: 'v*' })).toEqual({
      [untagged.digest]: 'RETAIN',
      [tagged.digest]: 'DEL',
    });
    expect(await run({ decoration: 'excludes', pattern: 'v*', extras: '{"untagged":true}' })).toEqual({
      [untagged.digest]: 'DEL',
      [tagged.digest]: 'DEL',
    });
  });

  it('runs only in the repositories that an enabled rule selects, each with its own rules', async () => {
    const p = await project();
    const web = await image(`${p.name}/team/web`, ['v1'], 1);
    const webOld = await image(`${p.name}/team/web`, ['v0'], 9);
    const db = await image(`${p.name}/db`, ['x'], 1);
    const tools = await image(`${p.name}/tools`, ['y'], 1);
    const policy = policyOf(p.projectId, [
      rule(
        'latestPushedK',
        1,
        [{ decoration: 'matches', pattern: '**' }],
        [{ decoration: 'repoMatches', pattern: 'team/**' }],
      ),
      rule(
        'always',
        undefined,
        [{ decoration: 'matches', pattern: 'nothing' }],
        [{ decoration: 'repoMatches', pattern: 'db' }],
      ),
      rule(
        'always',
        undefined,
        [{ decoration: 'matches', pattern: '**' }],
        [{ decoration: 'repoMatches', pattern: 'tools' }],
        true,
      ),
    ]);
    expect((await engine.repositoriesInScope(policy)).map((r) => r.name)).toEqual([
      `${p.name}/db`,
      `${p.name}/team/web`,
    ]);
    const results = await engine.run(policy, { dryRun: false, now: NOW });
    expect(results.map((r) => [r.repository, r.total, r.retained])).toEqual([
      [`${p.name}/db`, 1, 0],
      [`${p.name}/team/web`, 2, 1],
    ]);
    expect(Object.keys(await tagsIn(`${p.name}/team/web`))).toEqual([web.digest]);
    expect(await tagsIn(`${p.name}/db`)).toEqual({});
    expect(await tagsIn(`${p.name}/tools`)).toEqual({ [tools.digest]: ['y'] });
    expect(webOld.digest).not.toBe(db.digest);
  });

  it('decides the same in a dry run and deletes nothing', async () => {
    const p = await project();
    const repo = `${p.name}/app`;
    const a = await image(repo, ['a'], 1);
    const b = await image(repo, ['b'], 2);
    const c = await image(repo, ['c'], 3);
    const policy = policyOf(p.projectId, [rule('latestPushedK', 1, [{ decoration: 'matches', pattern: '**' }])]);
    const before = await tagsIn(repo);
    const [dry] = await engine.run(policy, { dryRun: true, now: NOW });
    expect(await tagsIn(repo)).toEqual(before);
    expect(dry).toMatchObject({ total: 3, retained: 1 });
    const [real] = await engine.run(policy, { dryRun: false, now: NOW });
    expect(real.decisions).toEqual(dry.decisions);
    expect(outcomes(real)).toEqual({ [a.digest]: 'RETAIN', [b.digest]: 'DEL', [c.digest]: 'DEL' });
    expect(await tagsIn(repo)).toEqual({ [a.digest]: ['a'] });
  });

  it('keeps artifacts with an immutable tag and those it could not delete, and says so in the log', async () => {
    const p = await project();
    const repo = `${p.name}/app`;
    const latest = await image(repo, ['latest'], 1);
    const frozen = await image(repo, ['scratch', 'v1.0'], 5);
    const broken = await image(repo, ['broken'], 6);
    const plain = await image(repo, ['plain'], 7);
    const asked: string[] = [];
    const immutability: ImmutabilityCheck = {
      isImmutable: (projectId, repository, tag) => {
        asked.push(`${projectId} ${repository}:${tag}`);
        return tag === 'v1.0';
      },
    };
    const real = core.server.app.get<symbol, RetentionDeleter>(RETENTION_DELETER);
    const deleter: RetentionDeleter = {
      deleteArtifact: async (repository, digest) => {
        if (digest === broken.digest) throw new Error('storage is read-only');
        await real.deleteArtifact(repository, digest);
      },
    };
    const custom = new RetentionEngine(policies, deleter, immutability);
    const policy = policyOf(p.projectId, [rule('latestPushedK', 1, [{ decoration: 'matches', pattern: '**' }])]);
    const lines: string[] = [];
    const [result] = await custom.run(policy, { dryRun: false, now: NOW, log: (line) => lines.push(line) });

    expect(outcomes(result)).toEqual({
      [latest.digest]: 'RETAIN',
      [frozen.digest]: 'IMMUTABLE',
      [broken.digest]: 'ERR',
      [plain.digest]: 'DEL',
    });
    expect(result).toMatchObject({ total: 4, retained: 3 });
    expect(asked).toContain(`${p.projectId} ${repo}:v1.0`);
    expect(Object.keys(await tagsIn(repo)).sort()).toEqual([latest.digest, frozen.digest, broken.digest].sort());
    expect(result.log).toBe(`${lines.join('\n')}\n`);
    expect(lines.find((l) => l.includes(frozen.digest))).toMatch(/\| scratch,v1\.0 .*\| IMMUTABLE \|$/);
    expect(lines.find((l) => l.includes(plain.digest))).toMatch(/\| DEL +\|$/);
    expect(lines).toContain(`Retention error for artifact ${repo}@${broken.digest}: storage is read-only`);
  });

  it('does not offer the children of an index or accessories as candidates, and removes them with their artifact', async () => {
    const p = await project();
    const repo = `${p.name}/app`;
    const amd = await fx.image(repo);
    const arm = await fx.image(repo);
    const index = await fx.index(
      repo,
      [
        { image: amd, platform: { architecture: 'amd64', os: 'linux' } },
        { image: arm, platform: { architecture: 'arm64', os: 'linux' } },
      ],
      { tag: 'multi' },
    );
    const signature = await fx.image(repo, {
      subject: index,
      artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
    });
    const kept = await image(repo, ['kept'], 0);
    // A cosign signature by tag, pushed last: an accessory, so never the newest candidate.
    const signatureTag = `${kept.digest.replace(':', '-')}.sig`;
    const keptSignature = await fx.image(repo, {
      tag: signatureTag,
      layerMediaType: COSIGN_SIMPLESIGNING_MEDIA_TYPE,
      layers: [Buffer.from('{"critical":{}}')],
    });
    await fx.dataSource.query(`UPDATE registry_manifest SET created_at = $1 WHERE digest = ANY($2::text[])`, [
      daysAgo(3),
      [index.digest, amd.digest, arm.digest, signature.digest],
    ]);
    await fx.dataSource.query(`UPDATE registry_tag SET updated_at = $1 WHERE name = 'multi'`, [daysAgo(3)]);
    await fx.dataSource.query(`UPDATE registry_manifest SET created_at = $1 WHERE digest = $2`, [
      NOW,
      keptSignature.digest,
    ]);
    await fx.dataSource.query(`UPDATE registry_tag SET updated_at = $1 WHERE name = $2`, [NOW, signatureTag]);
    const policy = policyOf(p.projectId, [rule('latestPushedK', 1, [{ decoration: 'matches', pattern: '**' }])]);
    const [result] = await engine.run(policy, { dryRun: false, now: NOW });
    expect(outcomes(result)).toEqual({ [kept.digest]: 'RETAIN', [index.digest]: 'DEL' });
    expect(await tagsIn(repo)).toEqual({ [kept.digest]: ['kept'], [keptSignature.digest]: [signatureTag] });
  });

  it('stops before deleting when its signal is aborted', async () => {
    const p = await project();
    const repo = `${p.name}/app`;
    await image(repo, ['a'], 1);
    await image(repo, ['b'], 2);
    const before = await tagsIn(repo);
    const controller = new AbortController();
    controller.abort();
    const policy = policyOf(p.projectId, [rule('latestPushedK', 0, [{ decoration: 'matches', pattern: '**' }])]);
    const lines: string[] = [];
    await expect(
      engine.run(policy, { dryRun: false, now: NOW, signal: controller.signal, log: (l) => lines.push(l) }),
    ).rejects.toBeInstanceOf(RetentionStoppedError);
    expect(lines).toContain('Retention job is stopped');
    expect(await tagsIn(repo)).toEqual(before);
  });

  it('stops between deletions when its signal is aborted during the run; what was removed stays removed', async () => {
    const p = await project();
    const repo = `${p.name}/app`;
    const a = await image(repo, ['a'], 1);
    const b = await image(repo, ['b'], 2);
    const c = await image(repo, ['c'], 3);
    const controller = new AbortController();
    const real = core.server.app.get<symbol, RetentionDeleter>(RETENTION_DELETER);
    const deleter: RetentionDeleter = {
      deleteArtifact: async (repository, digest) => {
        await real.deleteArtifact(repository, digest);
        controller.abort();
      },
    };
    const custom = new RetentionEngine(policies, deleter, { isImmutable: () => false });
    const policy = policyOf(p.projectId, [rule('latestPushedK', 1, [{ decoration: 'matches', pattern: '**' }])]);
    await expect(custom.run(policy, { dryRun: false, now: NOW, signal: controller.signal })).rejects.toBeInstanceOf(
      RetentionStoppedError,
    );
    expect(await tagsIn(repo)).toEqual({ [a.digest]: ['a'], [c.digest]: ['c'] });
    expect(b.digest).not.toBe(c.digest);
  });

  it('keeps an artifact that was tagged again while the run decided, and says why', async () => {
    const p = await project();
    const repo = `${p.name}/app`;
    const keep = await image(repo, ['new'], 1);
    const old = await image(repo, ['old'], 9);
    const older = await image(repo, ['older'], 10);
    const real = core.server.app.get<symbol, RetentionDeleter>(RETENTION_DELETER);
    let pushed = false;
    const deleter: RetentionDeleter = {
      deleteArtifact: async (repository, digest) => {
        await real.deleteArtifact(repository, digest);
        // A push moves `latest` onto the older artifact after the first deletion.
        if (!pushed) await fx.registry.createTag(repository, 'latest', older.digest);
        pushed = true;
      },
    };
    const custom = new RetentionEngine(policies, deleter, { isImmutable: () => false });
    const policy = policyOf(p.projectId, [rule('latestPushedK', 1, [{ decoration: 'matches', pattern: '**' }])]);
    const [result] = await custom.run(policy, { dryRun: false, now: NOW });
    expect(outcomes(result)).toEqual({ [keep.digest]: 'RETAIN', [old.digest]: 'DEL', [older.digest]: 'ERR' });
    expect(result.decisions.find((d) => d.digest === older.digest)?.error).toBe(
      'its tags changed during the run (now latest,older)',
    );
    expect(await tagsIn(repo)).toEqual({ [keep.digest]: ['new'], [older.digest]: ['latest', 'older'] });
  });

  it('runs a stored policy as the API saved it', async () => {
    const p = await project();
    const repo = `${p.name}/app`;
    const keep = await image(repo, ['v1'], 1);
    const drop = await image(repo, ['v0'], 2);
    const id = await fx.dataSource.transaction((m) =>
      policies.create(m, p.projectId, {
        algorithm: 'or',
        rules: [rule('latestPushedK', 1, [{ decoration: 'matches', pattern: 'v*', extras: '{"untagged":true}' }])],
        trigger: { kind: 'Schedule', settings: { cron: '' } },
      }),
    );
    const stored = await policies.find(id ?? 0);
    expect(stored?.projectId).toBe(p.projectId);
    const [result] = await engine.run(stored!, { dryRun: false, now: NOW });
    expect(outcomes(result)).toEqual({ [keep.digest]: 'RETAIN', [drop.digest]: 'DEL' });
  });
});
