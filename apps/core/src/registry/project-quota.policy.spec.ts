import { describe, expect, it } from '@jest/globals';
import { type ParsedManifest } from '@wharf/oci';
import { type ManifestPutContext } from '@wharf/registry';
import { ProjectQuotaPolicy, manifestItems, projectOfRepository } from './project-quota.policy.js';
import { type ProjectUsage, type RegistryProjectRepository, type StoredItem } from './registry-project.repository.js';

const layer = (digest: string, size: number) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size });

function manifestContext(manifest: Partial<ParsedManifest>): ManifestPutContext {
  return {
    repository: 'lib/app',
    digest: 'sha256:m',
    size: 400,
    manifest: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      kind: 'image',
      layers: [],
      manifests: [],
      ...manifest,
    },
  };
}

/** A repository answering with a fixed usage, recording what it was asked. */
function projectsAnswering(usage: ProjectUsage): { repo: RegistryProjectRepository; asked: [string, StoredItem[]][] } {
  const asked: [string, StoredItem[]][] = [];
  const repo = {
    usage: (project: string, items: StoredItem[]) => {
      asked.push([project, items]);
      return Promise.resolve(usage);
    },
  } as unknown as RegistryProjectRepository;
  return { repo, asked };
}

describe('projectOfRepository', () => {
  it('is the first path segment, and none for a single-segment name', () => {
    expect(projectOfRepository('library/nginx')).toBe('library');
    expect(projectOfRepository('team/tools/build')).toBe('team');
    expect(projectOfRepository('nginx')).toBeUndefined();
  });
});

describe('manifestItems', () => {
  it('counts the manifest, its config and its layers, each digest once', () => {
    const items = manifestItems(
      manifestContext({
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:c', size: 30 },
        layers: [layer('sha256:a', 100), layer('sha256:b', 200), layer('sha256:a', 100)],
      }),
    );
    expect(items).toEqual([
      { digest: 'sha256:m', size: 400 },
      { digest: 'sha256:c', size: 30 },
      { digest: 'sha256:a', size: 100 },
      { digest: 'sha256:b', size: 200 },
    ]);
  });

  it('counts only the index itself, not its children', () => {
    const items = manifestItems(
      manifestContext({ kind: 'index', manifests: [{ mediaType: 'x', digest: 'sha256:child', size: 500 }] }),
    );
    expect(items).toEqual([{ digest: 'sha256:m', size: 400 }]);
  });
});

describe('ProjectQuotaPolicy', () => {
  const blob = { repository: 'lib/app', digest: 'sha256:b', size: 10 };

  it('asks about the project of the repository', async () => {
    const { repo, asked } = projectsAnswering({ found: true, limited: false });
    await new ProjectQuotaPolicy(repo).beforeBlobCommit(blob);
    expect(asked).toEqual([['lib', [{ digest: 'sha256:b', size: 10 }]]]);
  });

  it('refuses a repository outside any project without asking the database', async () => {
    const { repo, asked } = projectsAnswering({ found: true, limited: false });
    await expect(new ProjectQuotaPolicy(repo).beforeBlobCommit({ ...blob, repository: 'app' })).rejects.toMatchObject({
      code: 'NAME_UNKNOWN',
    });
    expect(asked).toEqual([]);
  });

  it('refuses an unknown project as NAME_UNKNOWN', async () => {
    const { repo } = projectsAnswering({ found: false });
    await expect(new ProjectQuotaPolicy(repo).beforeBlobCommit(blob)).rejects.toMatchObject({
      code: 'NAME_UNKNOWN',
      status: 404,
      message: 'project lib not found',
    });
  });

  it('allows up to the limit exactly and refuses one byte more', async () => {
    const exact = projectsAnswering({ found: true, limited: true, hard: 100, used: 90, adding: 10 });
    await expect(new ProjectQuotaPolicy(exact.repo).beforeBlobCommit(blob)).resolves.toBeUndefined();
    const over = projectsAnswering({ found: true, limited: true, hard: 100, used: 91, adding: 10 });
    await expect(new ProjectQuotaPolicy(over.repo).beforeBlobCommit(blob)).rejects.toMatchObject({
      code: 'DENIED',
      status: 403,
      message:
        'Quota exceeded when processing the request of adding 10 B of storage resource, which when updated to ' +
        'current usage of 91 B will exceed the configured upper limit of 100 B.',
    });
  });

  it('lets a push that adds nothing through even when the project is already over its limit', async () => {
    const { repo } = projectsAnswering({ found: true, limited: true, hard: 100, used: 150, adding: 0 });
    await expect(new ProjectQuotaPolicy(repo).beforeManifestPut(manifestContext({}))).resolves.toBeUndefined();
  });
});
