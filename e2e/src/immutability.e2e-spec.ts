import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CoreProcess,
  type TestDatabase,
  type TestImageLayout,
  buildImageLayout,
  createTestDatabase,
  startWharfCore,
} from '@wharf/testkit';
import { CommandError, Skopeo } from './support/clients.js';
import { sha256 } from './support/http.js';
import { e2eTarget } from './support/target.js';

jest.setTimeout(300_000);

interface ApiResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

const IMMUTABLE = "Failed to process request due to 'app:1.0' configured as immutable.";

/** Tag immutability and artifact copy with the real skopeo against `wharf start core`. Core has no reference. */
const describeCore = e2eTarget() === 'wharf' ? describe : describe.skip;

describeCore('wharf core with skopeo: immutable tags and artifact copy', () => {
  let workDir: string;
  let database: TestDatabase;
  let core: CoreProcess;
  let skopeo: Skopeo;
  let host: string;
  let image: TestImageLayout;
  let other: TestImageLayout;
  let adminCreds: string;

  async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {
      authorization: `Basic ${Buffer.from(adminCreds).toString('base64')}`,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${core.url}/api/v2.0${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const isJson = (response.headers.get('content-type') ?? '').includes('json') && text.length > 0;
    return { status: response.status, headers: response.headers, body: (isJson ? JSON.parse(text) : text) as T };
  }

  /** The error skopeo reports for a command that must fail. */
  async function failure(command: Promise<unknown>): Promise<string> {
    const error = await command.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CommandError);
    return (error as CommandError).stderr;
  }

  /** Pulls an image into a directory and answers the digest of the manifest as served. */
  async function pulledDigest(reference: string, name: string): Promise<string> {
    const dir = join(workDir, name);
    await skopeo.copy(reference, `dir:${dir}`, ['--preserve-digests', '--src-creds', adminCreds]);
    return sha256(await readFile(join(dir, 'manifest.json')));
  }

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'wharf-e2e-immutable-'));
    database = await createTestDatabase('wharf_e2e_immutable');
    core = await startWharfCore({ database, dataDir: join(workDir, 'data') });
    host = core.host;
    adminCreds = `${core.admin.username}:${core.admin.password}`;
    skopeo = await Skopeo.create(await mkdtemp(join(workDir, 'skopeo-')));
    image = await buildImageLayout(join(workDir, 'app'), { seed: 'e2e-immutable', layerSizes: [2048], ref: '1.0' });
    other = await buildImageLayout(join(workDir, 'other'), { seed: 'e2e-immutable-b', layerSizes: [1024], ref: '1.0' });
    for (const project of ['locked', 'mirror']) {
      const created = await api('POST', '/projects', { project_name: project, metadata: { public: 'false' } });
      expect(created.status).toBe(201);
    }
  });

  afterAll(async () => {
    await Promise.allSettled([core?.stop()]);
    await Promise.allSettled([database?.drop(), rm(workDir, { recursive: true, force: true })]);
  });

  it('refuses a push over an immutable tag, with the reason in skopeo output, and keeps the original', async () => {
    await skopeo.copy(`oci:${image.path}:1.0`, `docker://${host}/locked/app:1.0`, [
      '--preserve-digests',
      '--dest-creds',
      adminCreds,
    ]);
    const rule = await api('POST', '/projects/locked/immutabletagrules', {
      tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: '1.*' }],
      scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] },
    });
    expect(rule.status).toBe(201);

    const refused = await failure(
      skopeo.copy(`oci:${other.path}:1.0`, `docker://${host}/locked/app:1.0`, [
        '--preserve-digests',
        '--dest-creds',
        adminCreds,
      ]),
    );
    expect(refused).toContain(IMMUTABLE);
    expect(await pulledDigest(`docker://${host}/locked/app:1.0`, 'kept')).toBe(image.manifest.digest);
  });

  it('refuses deleting the immutable tag, with skopeo and through the API', async () => {
    const refused = await failure(
      skopeo.run(['delete', '--tls-verify=false', '--creds', adminCreds, `docker://${host}/locked/app:1.0`]),
    );
    expect(refused).toContain(IMMUTABLE);
    const tagDelete = await api<{ errors: { code: string; message: string }[] }>(
      'DELETE',
      `/projects/locked/repositories/app/artifacts/${image.manifest.digest}/tags/1.0`,
    );
    expect(tagDelete.status).toBe(412);
    expect(tagDelete.body.errors[0]).toEqual({ code: 'PRECONDITION', message: IMMUTABLE });
    expect(await pulledDigest(`docker://${host}/locked/app:1.0`, 'still')).toBe(image.manifest.digest);
  });

  it('copies the artifact to another project through the API, which skopeo then pulls with its digest', async () => {
    const copied = await api(
      'POST',
      `/projects/mirror/repositories/app/artifacts?from=${encodeURIComponent('locked/app:1.0')}`,
    );
    expect(copied.status).toBe(201);
    expect(copied.headers.get('location')).toBe('/api/v2.0/projects/mirror/repositories/app/artifacts/1.0');
    expect(await pulledDigest(`docker://${host}/mirror/app:1.0`, 'copied')).toBe(image.manifest.digest);
  });
});
