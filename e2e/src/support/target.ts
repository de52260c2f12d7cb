import { it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTestDatabase,
  startReferenceRegistry,
  startWharfRegistry,
  type RegistryProcess,
  type TestDatabase,
} from '@wharf/testkit';

export type E2eTarget = 'reference' | 'wharf';

/**
 * The registry under test. Every scenario runs against Wharf by default and against the reference
 * registry (CNCF Distribution) with WHARF_E2E_TARGET=reference, so the tests themselves are
 * checked against a known-good implementation.
 */
export function e2eTarget(): E2eTarget {
  const value = process.env.WHARF_E2E_TARGET ?? 'wharf';
  if (value !== 'reference' && value !== 'wharf') {
    throw new Error(`WHARF_E2E_TARGET must be "reference" or "wharf", got "${value}"`);
  }
  return value;
}

/** `it` for behaviour the reference registry is known not to implement; reported as skipped there. */
export const onlyOnWharf = e2eTarget() === 'wharf' ? it : it.skip;

export interface TestRegistry {
  target: E2eTarget;
  registry: RegistryProcess;
  /** A fresh directory for this test file; removed by close(). */
  workDir: string;
  /** A new empty directory under workDir. */
  tempDir(name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts a fresh registry (own data directory, own database for Wharf) for one test file. `wharfConfig` is merged
 * into Wharf's harbor.yml (the reference registry has no such settings).
 */
export async function startTestRegistry(name: string, wharfConfig?: Record<string, unknown>): Promise<TestRegistry> {
  const target = e2eTarget();
  const workDir = await mkdtemp(join(tmpdir(), `wharf-e2e-${name}-`));
  const dataDir = join(workDir, 'registry-data');
  await mkdir(dataDir);
  let database: TestDatabase | undefined;
  let registry: RegistryProcess;
  try {
    if (target === 'wharf') {
      database = await createTestDatabase('wharf_e2e');
      registry = await startWharfRegistry({ dataDir, database, auth: 'none', extraConfig: wharfConfig });
    } else {
      // Distribution signs upload state with this secret and makes up a random one per start when it
      // is unset, which would orphan in-progress uploads across restart() (its documented env override).
      process.env.REGISTRY_HTTP_SECRET ??= randomBytes(32).toString('hex');
      registry = await startReferenceRegistry({ rootDir: dataDir });
    }
  } catch (error) {
    await database?.drop();
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
  let counter = 0;
  return {
    target,
    registry,
    workDir,
    tempDir: async (dirName: string) => {
      counter += 1;
      const dir = join(workDir, `${counter}-${dirName}`);
      await mkdir(dir, { recursive: true });
      return dir;
    },
    close: async () => {
      // Each step runs even if an earlier one fails, so one failure does not leak the others.
      const results = await Promise.allSettled([registry.stop()]);
      const after = await Promise.allSettled([
        database?.drop() ?? Promise.resolve(),
        rm(workDir, { recursive: true, force: true }),
      ]);
      const failure = [...results, ...after].find((result) => result.status === 'rejected');
      if (failure) throw failure.reason;
    },
  };
}
