import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';

const execFileAsync = promisify(execFile);
const ROOT = realpathSync(fileURLToPath(new URL('../../../', import.meta.url)));
const LAUNCHER = join(ROOT, 'apps/cli/bin/wharf');

describe('apps/cli/bin/wharf', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-launcher-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the built CLI with the servers’ Node.js flags and passes arguments through unchanged', async () => {
    // A stand-in for node that prints the arguments it was given, one per line.
    const fakeNode = join(dir, 'node-args');
    writeFileSync(fakeNode, '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n');
    chmodSync(fakeNode, 0o755);
    const { stdout } = await execFileAsync(LAUNCHER, ['start', 'core', '--config', 'a file.yml'], {
      env: { ...process.env, WHARF_NODE: fakeNode },
    });
    expect(stdout.split('\n').filter(Boolean)).toEqual([
      '--max-semi-space-size=4',
      '--heap-growing-percent=100',
      join(ROOT, 'apps/cli/dist/main.js'),
      'start',
      'core',
      '--config',
      'a file.yml',
    ]);
  });

  it('starts the standalone registry with its old generation sized for streaming, and nothing else with it', async () => {
    const fakeNode = join(dir, 'node-args-registry');
    writeFileSync(fakeNode, '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n');
    chmodSync(fakeNode, 0o755);
    const run = async (args: string[]) =>
      (await execFileAsync(LAUNCHER, args, { env: { ...process.env, WHARF_NODE: fakeNode } })).stdout
        .split('\n')
        .filter(Boolean);
    expect(await run(['start', 'registry', '--config', 'h.yml'])).toEqual([
      '--max-semi-space-size=4',
      '--heap-growing-percent=100',
      '--initial-old-space-size=64',
      join(ROOT, 'apps/cli/dist/main.js'),
      'start',
      'registry',
      '--config',
      'h.yml',
    ]);
    expect(await run(['start', 'jobservice'])).not.toContain('--initial-old-space-size=64');
    expect(await run([])).toEqual([
      '--max-semi-space-size=4',
      '--heap-growing-percent=100',
      join(ROOT, 'apps/cli/dist/main.js'),
    ]);
  });

  it('finds the CLI through a symbolic link, as an installed command does', async () => {
    const link = join(dir, 'wharf');
    symlinkSync(LAUNCHER, link);
    const { stdout } = await execFileAsync(link, ['--version'], {
      env: { ...process.env, WHARF_NODE: process.execPath },
    });
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('apps/cli/bin/wharf and malloc arenas', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-launcher-env-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('limits glibc to two malloc arenas unless the environment already chose a number', async () => {
    const fakeNode = join(dir, 'node-env');
    writeFileSync(fakeNode, '#!/bin/sh\nprintf "%s\\n" "${MALLOC_ARENA_MAX-unset}"\n');
    chmodSync(fakeNode, 0o755);
    const arenas = async (extra: Record<string, string>) => {
      const env: Record<string, string | undefined> = { ...process.env, WHARF_NODE: fakeNode, ...extra };
      if (!('MALLOC_ARENA_MAX' in extra)) delete env.MALLOC_ARENA_MAX;
      return (await execFileAsync(LAUNCHER, ['start', 'core'], { env })).stdout.trim();
    };
    expect(await arenas({})).toBe('2');
    expect(await arenas({ MALLOC_ARENA_MAX: '8' })).toBe('8');
  });
});
