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

  /** A stand-in for node (a shell script with this body), for WHARF_NODE. */
  const fakeNodeScript = (name: string, body: string): string => {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };
  // Prints the arguments it was given, one per line.
  const PRINT_ARGS = 'for a in "$@"; do printf "%s\\n" "$a"; done';

  it('runs the built CLI with the servers’ Node.js flags and passes arguments through unchanged', async () => {
    const fakeNode = fakeNodeScript('node-args', PRINT_ARGS);
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
    const fakeNode = fakeNodeScript('node-args-registry', PRINT_ARGS);
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

  it('limits glibc to two malloc arenas unless the environment already chose a number', async () => {
    const fakeNode = fakeNodeScript('node-env', 'printf "%s\\n" "${MALLOC_ARENA_MAX-unset}"');
    const arenas = async (extra: Record<string, string>) => {
      const env: Record<string, string | undefined> = { ...process.env, WHARF_NODE: fakeNode, ...extra };
      if (!('MALLOC_ARENA_MAX' in extra)) delete env.MALLOC_ARENA_MAX;
      return (await execFileAsync(LAUNCHER, ['start', 'core'], { env })).stdout.trim();
    };
    expect(await arenas({})).toBe('2');
    expect(await arenas({ MALLOC_ARENA_MAX: '8' })).toBe('8');
  });
});
